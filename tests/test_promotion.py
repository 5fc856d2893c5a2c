"""Promotion fails closed: only the exact model whose latest gating run passed every declared gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.errors import RegistryError
from harness.pool import candidate_role
from harness.promotion import check_promotion, promote
from harness.registry import Registry
from harness.spec import load_suite

SUITE = "suite: s\ngates:\n  f: {kind: forgetting, cases: fact}\n  a: {kind: ab, cases: task}\n"


@pytest.fixture
def setup(tmp_path: Path, tiny_model_dir: Path) -> tuple[Path, Path, str]:
    Registry().set("candidate", tiny_model_dir, content_hash=None, reason="trained")
    suite = tmp_path / "test_s.yaml"
    suite.write_text(SUITE)
    return tmp_path / "reports", suite, candidate_role("candidate", registry=Registry()).content_hash


def _run(
    reports: Path,
    suite: Path,
    model_hash: str,
    verdicts: dict[str, str],
    run_id: str,
    *,
    baseline: str = "base-hash",
    suites: list[Path] | None = None,
    flipped: list[str] | None = None,
) -> None:
    suites = suites or [suite]
    doc = {
        "run_id": run_id,
        "models": {
            "candidate": {"content_hash": model_hash},
            "baseline": {"content_hash": baseline},
            "base": {"content_hash": "base-hash"},
        },
        "suites": [
            {"name": load_suite(s).name, "path": str(s), "content_hash": load_suite(s).content_hash()} for s in suites
        ],
        "gates": [
            {"suite": suite_name, "name": name, "verdict": verdict, "flipped": flipped if verdict == "FAIL" else []}
            for key, verdict in verdicts.items()
            for suite_name, name in [key.split(":") if ":" in key else ("s", key)]
        ],
    }
    (reports / "runs" / run_id).mkdir(parents=True)
    (reports / "runs" / run_id / "results.json").write_text(json.dumps(doc))


def test_no_gating_run_refuses(setup: tuple[Path, Path, str]) -> None:
    reports, suite, _ = setup
    with pytest.raises(RegistryError, match=r"no gating run of candidate .* run `pytest .* --model=candidate` first"):
        promote("candidate", "production", reports, suites_dir=suite.parent)


def test_a_failing_or_missing_gate_refuses_and_is_listed(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    _run(reports, suite, model_hash, {"f": "FAIL"}, "20260101T000000.000000Z-aaaaaa")
    check = check_promotion("candidate", reports, suites_dir=suite.parent)
    assert not check.allowed
    assert check.problems == (
        "gate a (s) did not run: the run selected only some gates; gate without -k/-m",
        "gate f (s): FAIL",
    )
    with pytest.raises(RegistryError, match=r"refusing to promote candidate .*\n  - gate a \(s\) did not run"):
        promote("candidate", "production", reports, suites_dir=suite.parent)
    assert Registry().get("production") is None


def test_passing_run_promotes_and_the_latest_run_decides(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    _run(reports, suite, "another-model", {"f": "FAIL", "a": "FAIL"}, "20260102T000000.000000Z-bbbbbb")
    event, check = promote("candidate", "production", reports, suites_dir=suite.parent, reason="weekly release")
    assert event.path == str(check.path) and event.content_hash == model_hash
    assert "after gating run 20260101T000000.000000Z-aaaaaa: weekly release" in event.reason
    _run(reports, suite, model_hash, {"f": "PASS", "a": "INCONCLUSIVE"}, "20260103T000000.000000Z-cccccc")
    assert check_promotion("candidate", reports, suites_dir=suite.parent).problems == ("gate a (s): INCONCLUSIVE",)
    assert check_promotion("candidate", reports, suites_dir=suite.parent, allow_inconclusive=True).allowed


def test_an_edited_suite_needs_a_new_run(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    suite.write_text(SUITE.replace("cases: fact", "cases: fact, margin: 0.2"))
    assert any(
        "changed since run" in p for p in check_promotion("candidate", reports, suites_dir=suite.parent).problems
    )


def test_cli_promote_and_rollback(
    setup: tuple[Path, Path, str], tiny_adapter_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports, suite, model_hash = setup
    assert (
        main(
            ["promote", "candidate", "--to", "production", "--report-dir", str(reports), "--suites", str(suite.parent)]
        )
        == 2
    )
    assert "refusing to promote" in capsys.readouterr().err
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    Registry().set("production", tiny_adapter_dir, content_hash=None, reason="earlier release")
    assert (
        main(
            ["promote", "candidate", "--to", "production", "--report-dir", str(reports), "--suites", str(suite.parent)]
        )
        == 0
    )
    assert Registry().require("production").content_hash == model_hash
    assert main(["rollback", "production", "--reason", "bad canary"]) == 0
    assert Registry().require("production").path == str(tiny_adapter_dir)
    assert [e.action for e in Registry().history("production")] == ["set", "set", "rollback"]


def test_a_run_without_every_suite_or_against_itself_proves_nothing(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    other = suite.parent / "test_t.yaml"
    other.write_text(SUITE.replace("suite: s", "suite: t"))
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    assert check_promotion("candidate", reports, suites_dir=suite.parent).problems == (
        f"suite {other} was not part of run 20260101T000000.000000Z-aaaaaa: gate with every suite",
    )
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260102T000000.000000Z-bbbbbb", baseline=model_hash)
    problems = check_promotion("candidate", reports, suites_dir=suite.parent / "none").problems
    assert problems == ("the run's baseline is the candidate itself: gate against a different baseline (--baseline)",)


def test_gates_of_the_same_name_in_two_suites_are_kept_apart(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    other = suite.parent / "test_t.yaml"
    other.write_text(SUITE.replace("suite: s", "suite: t"))
    verdicts = {"s:f": "FAIL", "s:a": "PASS", "t:f": "PASS", "t:a": "PASS"}
    _run(reports, suite, model_hash, verdicts, "20260101T000000.000000Z-aaaaaa", suites=[suite, other])
    assert check_promotion("candidate", reports, suites_dir=suite.parent).problems == ("gate f (s): FAIL",)


def test_an_unreadable_run_stops_promotion_naming_the_file(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    torn = reports / "runs" / "20260102T000000.000000Z-bbbbbb" / "results.json"
    torn.parent.mkdir()
    torn.write_text('{"run_id": "20260102')
    with pytest.raises(RegistryError, match=r"results.json is not valid JSON .* gate the model again"):
        promote("candidate", "production", reports, suites_dir=suite.parent)


def test_the_refusal_names_the_items_that_got_worse(setup: tuple[Path, Path, str]) -> None:
    reports, suite, model_hash = setup
    worse = ["fact-peru-q1", "fact-peru-q2", "fact-chile-q0", "fact-chile-q1"]
    _run(reports, suite, model_hash, {"f": "FAIL", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa", flipped=worse)
    assert check_promotion("candidate", reports, suites_dir=suite.parent).problems == (
        "gate f (s): FAIL (4 item(s) worse, e.g. fact-peru-q1, fact-peru-q2, fact-chile-q0)",
    )


@pytest.mark.parametrize(
    "content, why",
    [
        (b"{}", "is not the results of a gating run"),
        (b"[]", r"is not the results of a gating run \(got a JSON list\)"),
        (b"\xff{}", "is not UTF-8 text"),
    ],
)
def test_a_results_json_that_is_not_a_run_stops_promotion(
    setup: tuple[Path, Path, str], content: bytes, why: str
) -> None:
    reports, suite, model_hash = setup
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    odd = reports / "runs" / "20260102T000000.000000Z-bbbbbb" / "results.json"
    odd.parent.mkdir()
    odd.write_bytes(content)
    with pytest.raises(
        RegistryError, match=rf"20260102T000000.000000Z-bbbbbb/results.json {why}.*gate the model again"
    ):
        promote("candidate", "production", reports, suites_dir=suite.parent)


def test_a_yml_suite_the_run_left_out_stops_promotion(setup: tuple[Path, Path, str]) -> None:
    """pytest gates test_*.yml suites too, so promotion requires them: a run of test_s.yaml alone is not enough."""
    reports, suite, model_hash = setup
    (suite.parent / "test_b.yml").write_text("suite: b\ngates:\n  g: {kind: forgetting, cases: fact}\n")
    (suite.parent / "test_data.yml").write_text("name: Paris\n")  # plain data (pytest-regressions): not a suite
    _run(reports, suite, model_hash, {"f": "PASS", "a": "PASS"}, "20260101T000000.000000Z-aaaaaa")
    check = check_promotion("candidate", reports, suites_dir=suite.parent)
    assert check.problems == (
        f"suite {suite.parent / 'test_b.yml'} was not part of run 20260101T000000.000000Z-aaaaaa: gate with every "
        "suite",
    )
    _run(
        reports,
        suite,
        model_hash,
        {"f": "PASS", "a": "PASS", "b:g": "FAIL"},
        "20260102T000000.000000Z-bbbbbb",
        suites=[suite, suite.parent / "test_b.yml"],
    )
    with pytest.raises(RegistryError, match=r"gate g \(b\): FAIL"):
        promote("candidate", "production", reports, suites_dir=suite.parent)
    assert Registry().get("production") is None
