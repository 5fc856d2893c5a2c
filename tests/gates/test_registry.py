"""The gate-kind registry: the built-in kinds, validation of an entry, and a new kind defined in a conftest
(one module, one registration) that the loader, the collector, the markers and the leakage check all see."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from harness.errors import ConfigError
from harness.evalsets import case_refs
from harness.gates import gate_cases, registry
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import Check, GateResult
from harness.spec import load_suite

TOY = """
from dataclasses import dataclass
from typing import Literal

from harness.gates.registry import GateKind, register
from harness.gates.result import Check, GateResult


@dataclass(frozen=True)
class ToyGate:
    kind: Literal["toy"]
    words: tuple[str, ...]
    cases: str = "toy_cases.jsonl"


def evaluate(case, ctx):
    word = case.param
    check = Check.threshold(f"{word} is not bad", "word", float(len(word)), None, word != "bad", f"word {word!r}")
    return GateResult(case.name, case.suite.name, "toy", "word", (check,))


register(
    GateKind("toy", ToyGate, evaluate, "a toy kind registered from a conftest",
             cases=lambda spec: [spec.cases], params=lambda spec: spec.words)
)
"""

SUITE = """
suite: toys
gates:
  words:
    kind: toy
    words: [good, bad]
"""


@pytest.fixture
def toy_kind() -> Iterator[None]:
    yield
    registry.unregister("toy")


@dataclass(frozen=True)
class PlainGate:
    kind: Literal["plain"]
    cases: str
    margin: float = 0.1

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise ConfigError(f"margin={self.margin} must be in [0, 1)")


def _plain(case: GateCase[PlainGate], ctx: object) -> GateResult:
    return GateResult(case.name, case.suite.name, "plain", "m")


@pytest.fixture
def plain_kind() -> Iterator[GateKind[PlainGate]]:
    kind = register(GateKind("plain", PlainGate, _plain, "a plain test kind", cases=lambda spec: [spec.cases]))
    yield kind
    registry.unregister("plain")


def test_the_built_in_kinds_are_registered_with_their_spec_and_marker() -> None:
    kinds = {kind.name: kind for kind in registry.kinds()}
    assert list(kinds)[: len(registry.BUILTIN)] == list(registry.BUILTIN)
    assert {"baseline", "forgetting", "retention", "safety", "ab", "finetune"} <= set(registry.BUILTIN)
    for name, kind in kinds.items():
        assert kind.spec.__module__ == f"harness.gates.{name}", "each kind's spec lives in its own module"
        assert kind.marker.strip()


def test_a_registered_kind_is_read_by_the_loader_the_items_and_the_case_refs(
    tmp_path: Path, plain_kind: GateKind[PlainGate]
) -> None:
    path = tmp_path / "test_p.yaml"
    path.write_text("gates:\n  g:\n    kind: plain\n    cases: mine.jsonl\n  s:\n    kind: safety\n")
    suite = load_suite(path)
    assert suite.gates["g"] == PlainGate("plain", "mine.jsonl")
    assert [case.name for case in gate_cases(suite)] == ["g", "s"]
    assert case_refs(suite) == ["mine.jsonl", "harmful", "benign"]


def test_a_registered_kind_validates_its_values_naming_the_gate(tmp_path: Path, plain_kind: object) -> None:
    path = tmp_path / "test_p.yaml"
    path.write_text("gates:\n  g:\n    kind: plain\n    cases: mine.jsonl\n    margin: 2\n")
    with pytest.raises(ConfigError, match=r"test_p.yaml: gate 'g': margin=2.0 must be in \[0, 1\)"):
        load_suite(path)


def test_retention_expands_into_one_item_per_task(tmp_path: Path) -> None:
    path = tmp_path / "test_r.yaml"
    path.write_text("gates:\n  retention:\n    kind: retention\n    tasks: [a, b]\n")
    assert [case.name for case in gate_cases(load_suite(path))] == ["retention[a]", "retention[b]"]


def test_unknown_kind_names_the_close_match() -> None:
    with pytest.raises(ConfigError, match=r"unknown kind 'safty'; did you mean 'safety'\? use one of baseline, "):
        registry.get("safty")


def test_a_kind_name_taken_by_another_module_is_refused(plain_kind: object) -> None:
    @dataclass(frozen=True)
    class Other:
        kind: str

    Other.__module__ = "someone.else"
    with pytest.raises(ConfigError, match=r"'plain' is already registered by tests\.gates\.test_registry"):
        register(GateKind("plain", Other, _plain, "another plain"))


@pytest.mark.parametrize(
    ("name", "spec", "marker", "message"),
    [
        ("Bad-Name", PlainGate, "text", "not a valid marker name"),
        ("nokind", Check, "text", "must be a dataclass with a 'kind' field"),
        ("empty", PlainGate, " ", "empty marker text"),
    ],
)
def test_an_invalid_entry_is_refused(name: str, spec: type, marker: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GateKind(name, spec, _plain, marker)


def test_spec_classes_stay_importable_from_harness_spec() -> None:
    from harness.gates.safety import SafetyGate
    from harness.spec import SafetyGate as FromSpec  # type: ignore[attr-defined]

    assert FromSpec is SafetyGate
    with pytest.raises(ImportError):
        from harness.spec import NoSuchGate  # type: ignore[attr-defined]  # noqa: F401


def test_a_kind_from_a_conftest_is_collected_marked_and_evaluated(
    pytester: pytest.Pytester, tiny_model_dir: Path, toy_kind: None
) -> None:
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    pytester.makeconftest(TOY)
    (pytester.path / "test_toys.yaml").write_text(SUITE)

    markers = pytester.runpytest_inprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.safety: *", "@pytest.mark.toy: a toy kind registered from a conftest"])

    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "toy", "--strict-markers", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*gate words?bad? (toy): FAIL*", "*run verdict: FAIL*"])
    run = sorted((pytester.path / "reports" / "runs").iterdir())[-1]
    doc = json.loads((run / "results.json").read_text())
    assert {g["name"]: (g["kind"], g["verdict"]) for g in doc["gates"]} == {
        "words[good]": ("toy", "PASS"),
        "words[bad]": ("toy", "FAIL"),
    }

    deselected = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "not toy")
    assert deselected.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_the_readme_example_kind_works(pytester: pytest.Pytester, tiny_model_dir: Path, world) -> None:  # type: ignore[no-untyped-def]
    from harness.cases import Case, Message, write_cases
    from harness.registry import Registry

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("### Adding a gate kind", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    pytester.makeconftest(example)
    cases = [Case(f"q{i}", "fact", (Message("user", f"q {i}?"),), "a") for i in range(3)]
    write_cases(pytester.path / "q.jsonl", cases)
    (pytester.path / "test_len.yaml").write_text(
        f"world: {world.root}\ndecoding: {{max_new_tokens: 4}}\ngates:\n"
        "  short:\n    kind: length\n    cases: q.jsonl\n    max_words: 4\n"
        "  lost:\n    kind: length\n    cases: missing.jsonl\n"
    )
    try:
        result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "length")
    finally:
        registry.unregister("length")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*short*PASS*length*", "*lost*ERROR*length*"])
