"""The pytest plugin (entry point pytest11 -> harness.plugin). Hooks wire options to the gating core and
delegate; heavy modules are imported only when a gating suite is actually collected.

    pytest suites/ --model=candidate [--baseline=production] [--base-model=base] [--update-baselines]
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from harness.runstate import RUN_KEY, Options, RunState

_MARKED = pytest.StashKey[set[str]]()  # gate kinds whose marker this config has declared


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "gating of fine-tuned models (gate-harness)")
    group.addoption("--model", help="model to gate: registry alias, directory, hub id or PEFT adapter")
    group.addoption("--baseline", help="reference for baseline and A/B gates (default: production, else base)")
    group.addoption("--base-model", help="the model the candidate was trained from (default: from its provenance)")
    group.addoption("--update-baselines", action="store_true", help="record the stored baselines anew")
    group.addoption("--report-dir", default="reports", help="where runs/<run-id>/ reports go (default: reports/)")
    group.addoption(
        "--inconclusive",
        choices=("pass", "fail"),
        default="pass",
        help="whether an INCONCLUSIVE gate fails the pytest run (default: pass; promotion refuses it anyway)",
    )
    group.addoption("--load-in-4bit", action="store_true", help="load the candidate in 4-bit nf4")
    group.addoption(
        "--model-revision",
        help="what the candidate's weights are (a hub revision, or for a served model the version you declare: "
        "without one a served model's results are never cached)",
    )
    group.addoption("--gate-seed", default=0, type=int, help="seed of resampling tests and sampling (default 0)")
    parser.addini(
        "harness_suites",
        type="paths",
        default=[],
        help="gating suites collected whatever their content: YAML files, or directories whose test_*.yaml / "
        "test_*.yml files are suites (elsewhere only test_*.y(a)ml files with a top-level gates: key are)",
    )
    group.addoption(
        "--device",
        default="auto",
        type=_device_option,
        help="where models run: auto (cuda if available, else cpu), cpu, cuda or cuda:N (default: auto)",
    )
    group.addoption(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="model precision (default auto: bfloat16 on a CUDA GPU that supports it, else float32)",
    )
    group.addoption(
        "--device-map",
        choices=("auto",),
        help="auto: shard each model over all visible GPUs (accelerate); the placement is recorded",
    )


def _device_option(value: str) -> str:
    import argparse

    from harness.device import check_request
    from harness.errors import ConfigError

    try:
        check_request(device=value)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gate: a gating suite item")
    declare_markers(config)
    worker = getattr(config, "workerinput", None)
    if worker is not None and "harness_run_id" in worker:
        run_id, controller = str(worker["harness_run_id"]), False
    else:
        from harness.session import new_run_id

        run_id, controller = new_run_id(), True
    config.stash[RUN_KEY] = RunState(Options.from_config(config), run_id, controller)
    if controller:
        config.pluginmanager.register(GateReporter(config), "harness-gate-reporter")


def declare_markers(config: pytest.Config) -> None:
    """One marker per registered gate kind (``pytest -m safety``), from the registry; kinds registered after
    configure (by a conftest deeper in the tree) are declared when their suites are collected."""
    from harness.gates.registry import kinds

    marked = config.stash.setdefault(_MARKED, set())
    for kind in kinds():
        if kind.name not in marked:
            config.addinivalue_line("markers", f"{kind.name}: {kind.marker}")
            marked.add(kind.name)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: every worker writes into the controller's run."""
    node.workerinput["harness_run_id"] = node.config.stash[RUN_KEY].run_id


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    from harness.discovery import is_suite_file

    if is_suite_file(file_path, parent.config.getini("harness_suites")):
        from harness.items import SuiteFile

        return SuiteFile.from_parent(parent, path=file_path)
    return None


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only the gates that will run matter
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from harness.items import GateItem

    gates = [item for item in items if isinstance(item, GateItem)]
    if not gates or config.option.collectonly:
        return
    state = config.stash[RUN_KEY]
    if not state.options.model:
        raise pytest.UsageError(
            "gating suites need the model to gate: pass --model=SPEC (a registry alias such as candidate, a "
            "model or adapter directory, or a hub id), e.g. `pytest suites/ --model=candidate`"
        )
    seen: dict[tuple[str, str], Any] = {}
    for item in gates:
        suite = item.case.suite
        other = seen.setdefault((suite.name, item.case.name), item)
        if other is not item:  # two suite files with one `suite:` name: their results would share a record
            raise pytest.UsageError(
                f"gate {item.case.name!r} of suite {suite.name!r} is declared twice ({other.path} and {item.path}): "
                "give each suite file its own `suite:` name"
            )
        state.suites[suite.name] = {
            "name": suite.name,
            "path": str(suite.path),
            "content_hash": suite.content_hash(),
            "multiplicity": suite.multiplicity,
        }
    from harness.errors import HarnessError

    try:
        state.context()  # resolve every model now: a bad spec is a usage error, not N failing gates
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None


class GateReporter:
    """Registered on the controller (or the only process): turns gate items' reports into the run's session."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "harness_gate" not in props:
            return
        state = self.config.stash[RUN_KEY]
        if state.session is None:
            from harness.session import GateSession

            state.session = GateSession(state.run_id, state.run_dir, inconclusive_fails=state.inconclusive_fails)
        suite, gate = str(props["harness_gate"]).split("::", 1)
        state.session.expect(report.nodeid, suite, gate)
        if report.failed:
            state.session.crashed(
                report.nodeid, report.longreprtext.strip().splitlines()[-1] if report.longreprtext else "failed"
            )


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, Any] | None:
    if (
        report.when == "call"
        and report.passed
        and dict(report.user_properties).get("harness_verdict") == "INCONCLUSIVE"
    ):
        return "inconclusive", "I", ("INCONCLUSIVE", {"yellow": True})
    return None


@pytest.hookimpl(tryfirst=True)  # before --junitxml writes its file, so the run's verdicts are in it
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash[RUN_KEY]
    if not state.is_controller or state.session is None:
        return
    from harness.report import append_step_summary, results_document, write_reports

    gate_session = state.session
    gate_session.multiplicity = _multiplicity(state)
    gate_session.finalize()
    doc = results_document(gate_session, state.read_run_info(), sys.argv)
    _, summary = write_reports(state.run_dir, doc)
    append_step_summary(summary.read_text(encoding="utf-8"))
    _junit_run_properties(session.config, doc)
    if gate_session.failed() and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _junit_run_properties(config: pytest.Config, doc: dict[str, Any]) -> None:
    """--junitxml: the run verdict and each gate's final verdict (after the multiplicity adjustment across the
    run, which a test case's own properties, written when it finished, cannot know) as testsuite properties."""
    from _pytest.junitxml import xml_key

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    xml.add_global_property("run_verdict", doc["verdict"])
    for gate in doc["gates"]:
        xml.add_global_property(f"verdict[{gate['suite']}::{gate['name']}]", gate["verdict"])


def _multiplicity(state: RunState) -> str:
    """The suites' multiplicity method; if suites disagree, the strictest."""
    from harness.verdict import strictest

    return strictest(suite.get("multiplicity", "holm") for suite in state.read_run_info().get("suites", []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash[RUN_KEY]
    if not state.is_controller or state.session is None:
        return
    from harness.report import terminal_lines

    terminalreporter.section("gate verdicts")
    for line in terminal_lines(state.session.results, state.session.verdict):
        terminalreporter.write_line(line)
    for role, model in state.read_run_info().get("models", {}).items():
        if model.get("note"):
            terminalreporter.write_line(f"{role}: {model['spec']} ({model['note']})")
    terminalreporter.write_line(f"reports: {state.run_dir / 'results.json'}, {state.run_dir / 'summary.md'}")
