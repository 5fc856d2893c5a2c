"""CI integration of the plugin, end to end with pytester: the run's summary.md appended to
$GITHUB_STEP_SUMMARY, and each gate's evidence as JUnit properties under --junitxml."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.report import append_step_summary
from tests.test_plugin import _results, suite_dir  # noqa: F401  (suite_dir is a fixture)


def test_summary_and_junit_properties_carry_each_gates_evidence(
    pytester: pytest.Pytester,
    suite_dir: Path,  # noqa: F811
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    step_summary = suite_dir / "step_summary.md"
    step_summary.write_text("## an earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "--junitxml=junit.xml")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the baseline was missing: recorded, and that gate fails
    doc = _results(suite_dir)
    summary = (suite_dir / "reports" / "runs" / doc["run_id"] / "summary.md").read_text()
    assert step_summary.read_text() == "## an earlier step\n" + summary  # appended, the earlier step kept

    root = ET.parse(suite_dir / "junit.xml").getroot()
    cases = {case.get("name"): case for case in root.iter("testcase")}
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties") or []}
    assert suite_props["run_verdict"] == doc["verdict"] == "FAIL"
    for gate in doc["gates"]:
        assert suite_props[f"verdict[mini::{gate['name']}]"] == gate["verdict"]  # after the adjustment
        props = [(p.get("name"), p.get("value")) for p in cases[gate["name"]].iter("property")]
        named = dict(props)
        # the item's own verdict: the adjustment across the run may only have turned its PASS into INCONCLUSIVE
        assert named["verdict"] == gate["verdict"] or (named["verdict"], gate["verdict"]) == ("PASS", "INCONCLUSIVE")
        if gate["estimate"] is None:
            assert named["estimate"] == ""
        else:
            assert float(named["estimate"]) == pytest.approx(gate["estimate"], rel=1e-5)
        for key in ("ci_low", "ci_high"):
            assert named[key] == "" if gate[key] is None else float(named[key]) == pytest.approx(gate[key], rel=1e-5)
        if gate["ci_low"] is not None:
            assert named["interval"] == f"[{gate['ci_low']:.4f}, {gate['ci_high']:.4f}]"
        reasons = [value for name, value in props if name == "reason"]
        assert len(reasons) == len(gate["reasons"]) and reasons[1:] == gate["reasons"][1:]
    baseline = [(p.get("name"), p.get("value")) for p in cases["task_baseline"].iter("property")]
    assert ("verdict", "FAIL") in baseline
    assert any(name == "reason" and "[FAIL] no stored baseline" in value for name, value in baseline)


def test_no_step_summary_is_written_outside_github_actions(tmp_path: Path) -> None:
    assert append_step_summary("# run\n", env={}) is None
    target = tmp_path / "summary"
    assert append_step_summary("# run", env={"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert append_step_summary("# again\n", env={"GITHUB_STEP_SUMMARY": str(target)}) == target
    assert target.read_text() == "# run\n# again\n"
