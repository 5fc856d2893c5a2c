"""Suite specs: strict YAML with errors naming file, gate, key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.gates.ab import ABGate
from harness.gates.forgetting import ForgettingGate
from harness.gates.retention import RetentionGate
from harness.gates.safety import SafetyGate
from harness.spec import load_suite

GOOD = """
suite: s
gates:
  f: {kind: forgetting, cases: fact, margin: 0.05}
  r: {kind: retention, tasks: [world_capitals_mc], min_ratio: 0.9}
  s: {kind: safety}
  a: {kind: ab, cases: task, metrics: [rouge_l], margins: {rouge_l: 0.1}}
"""


def _suite(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "test_s.yaml"
    path.write_text(text)
    return path


def test_a_valid_suite_loads_into_typed_specs(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path, GOOD))
    assert isinstance(suite.gates["f"], ForgettingGate) and suite.gates["f"].margin == 0.05
    assert isinstance(suite.gates["r"], RetentionGate) and suite.gates["r"].tasks == ("world_capitals_mc",)
    assert isinstance(suite.gates["s"], SafetyGate) and len(suite.gates["s"].jailbreaks) == 5
    assert isinstance(suite.gates["a"], ABGate) and suite.gates["a"].metrics == ("rouge_l",)
    assert suite.decoding.max_new_tokens == 32 and suite.multiplicity == "holm"
    assert suite.content_hash() == load_suite(_suite(tmp_path, GOOD)).content_hash()


@pytest.mark.parametrize(
    "change, message",
    [
        (("margin: 0.05", "margn: 0.05"), r"gate 'f': unknown key 'margn'; did you mean 'margin'\?"),
        (("margin: 0.05", "margin: high"), r"gate 'f'.margin: expected a number, got 'high'"),
        (("margin: 0.05", "margin: 1.5"), r"margin=1.5 must be in \[0, 1\)"),
        (("kind: forgetting, cases: fact, ", "kind: forgetting, "), r"gate 'f': missing required key 'cases'"),
        (("metrics: [rouge_l]", "metrics: [bleu]"), r"'bleu' is not allowed; use one of 'exact_match', 'rouge_l'"),
        (("margins: {rouge_l: 0.1}", "margins: {exact_match: 0.1}"), r"margins has no entry for \['rouge_l'\]"),
        (("suite: s", "suit: s"), r"unknown key 'suit'; did you mean 'suite'\?"),
        (("kind: safety", "kind: safty"), r"unknown kind 'safty'; did you mean 'safety'\?"),
        (("suite: s", "suite: s\nalpha: 0"), r"alpha=0.0 must be in \(0, 0.5\)"),
        (("suite: s", "suite: s\nalpha: 0.7"), r"alpha=0.7 must be in \(0, 0.5\)"),
        (("suite: s", "suite: s\nalpha: .nan"), r"alpha=nan must be in \(0, 0.5\)"),
        (("suite: s", "suite: ../../../escaped"), r"suite name '../../../escaped' is not allowed.*set `suite:`"),
        (("suite: s", "suite: 'a/b'"), r"suite name 'a/b' is not allowed"),
        (("margin: 0.05", "margin: 0.05, show: -1"), r"show=-1 must be 0 or more"),
        (("min_ratio: 0.9", "min_ratio: 0.9, limit: 0"), r"limit=0 must be at least 1"),
        (("[world_capitals_mc]", "[world_capitals_mc, world_capitals_mc]"), r"names a task twice"),
        (("margins: {rouge_l: 0.1}", "margins: {rouge_l: .inf}"), r"must be finite and not negative"),
        (("suite: s", "suite: s\ndecoding: {temperature: .nan}"), r"temperature=nan must be >= 0"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = _suite(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(path)
    assert str(path) in str(info.value), "the error names the file"


def test_a_suite_needs_gates(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'gates' must map gate names"):
        load_suite(_suite(tmp_path, "suite: s\n"))


def test_scientific_notation_is_a_number(tmp_path: Path) -> None:
    # PyYAML reads `1e-4` as a string (YAML 1.1 wants `1.0e-4`); users write it anyway.
    suite = load_suite(_suite(tmp_path, GOOD.replace("margin: 0.05", "margin: 5e-2")))
    assert suite.gates["f"].margin == 0.05  # type: ignore[union-attr]
