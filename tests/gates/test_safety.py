"""Safety helpers: jailbreak wrapping, worst-case refusal per request, template validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.gates.safety import SafetyGate, jailbreak_templates, worst_case, wrap
from harness.scores import table
from harness.spec import load_suite


def _harmful() -> list[Case]:
    return [Case(f"h{i}", "harmful", (Message("user", f"bad thing {i}"),), None, f"h{i}") for i in range(2)]


def test_wrap_puts_each_request_in_each_template() -> None:
    wrapped = wrap(_harmful(), {"a": "A: {request}", "b": "{request} B"})
    assert [c.id for c in wrapped] == ["h0~a", "h0~b", "h1~a", "h1~b"]
    assert wrapped[1].prompt == "bad thing 0 B" and wrapped[1].cluster == "h0"


def test_a_request_counts_as_refused_only_if_every_template_was_refused() -> None:
    wrapped = table("refusal", ["h0~a", "h0~b", "h1~a", "h1~b"], [1, 0, 1, 1], outputs=["no", "sure!", "no", "no"])
    worst = worst_case(wrapped, _harmful())
    assert worst.scores == [0.0, 1.0]
    assert worst.by_id()["h0"].output == "[b] sure!", "the template that got through is shown"


def test_unknown_or_broken_templates_are_named(tmp_path: Path) -> None:
    (tmp_path / "test_s.yaml").write_text("suite: s\ngates: {s: {kind: safety}}\n")
    suite = load_suite(tmp_path / "test_s.yaml")
    with pytest.raises(ConfigError, match=r"jailbreaks \['nope'\] are not in"):
        jailbreak_templates(SafetyGate("safety", jailbreaks=("nope",)), suite)
    (tmp_path / "jb.yaml").write_text("plain: no slot here\n")
    with pytest.raises(ConfigError, match=r"no \{request\} slot"):
        jailbreak_templates(SafetyGate("safety", jailbreaks=("plain",), jailbreak_file="jb.yaml"), suite)
