"""GateSession: results read from files, missing ones ERROR, Holm across gates (one p-value per gate)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.gates.result import Check, GateResult
from harness.session import GateSession, write_result
from harness.stats import holm


def _check(name: str, p: float, verdict: str = "PASS") -> Check:
    return Check(name, "exact_match", "t", 100, 0.9, 0.9, 0.0, -0.01, 0.01, p, 0.05, verdict, ("why",))


def _session(tmp_path: Path, results: list[GateResult], multiplicity: str = "holm") -> GateSession:
    session = GateSession("run", tmp_path, multiplicity=multiplicity)
    for i, result in enumerate(results):
        write_result(tmp_path, result, {"candidate": {"computed": 3, "reused": 1}})
        session.expect(f"node{i}", result.suite, result.gate)
    return session


def test_holm_is_applied_across_gates_with_the_largest_check_p_per_gate(tmp_path: Path) -> None:
    gates = [
        GateResult("a", "s", "forgetting", "m", (_check("a1", 0.001), _check("a2", 0.02))),
        GateResult("b", "s", "ab", "m", (_check("b1", 0.03),)),
        GateResult("c", "s", "safety", "m", (_check("c1", 0.004),)),
    ]
    session = _session(tmp_path, gates)
    results = {r.gate: r for r in session.finalize()}
    expected = dict(zip("abc", holm([0.02, 0.03, 0.004]), strict=True))
    for gate in "abc":
        worst_p = max(c.p_adjusted for c in results[gate].checks)  # type: ignore[type-var]
        assert worst_p == pytest.approx(expected[gate], rel=1e-12)
    assert all(r.verdict == "PASS" for r in results.values()), "Holm: 0.012, 0.04, 0.04 all stay below 0.05"
    assert session.usage["candidate"] == {"computed": 9, "reused": 3}


def test_a_pass_that_does_not_survive_holm_becomes_inconclusive(tmp_path: Path) -> None:
    gates = [GateResult(g, "s", "ab", "m", (_check(g, p),)) for g, p in (("a", 0.03), ("b", 0.04), ("c", 0.001))]
    results = {r.gate: r for r in _session(tmp_path, gates).finalize()}
    assert results["c"].verdict == "PASS"
    assert results["a"].verdict == "INCONCLUSIVE" and results["b"].verdict == "INCONCLUSIVE"
    check = results["a"].checks[0]
    assert check.verdict_unadjusted == "PASS" and "not after Holm adjustment" in check.reasons[-1]


def test_a_gate_without_a_result_is_an_error_and_fails_the_run(tmp_path: Path) -> None:
    session = _session(tmp_path, [GateResult("a", "s", "ab", "m", (_check("a1", 0.001),))])
    session.expect("lost", "s", "never-written")
    session.crashed("lost", "RuntimeError: boom")
    results = session.finalize()
    assert [r.verdict for r in results] == ["PASS", "ERROR"]
    assert results[1].error == "RuntimeError: boom"
    assert session.verdict == "FAIL" and session.failed()


def test_inconclusive_fails_the_run_only_when_asked(tmp_path: Path) -> None:
    gates = [GateResult("a", "s", "ab", "m", (_check("a1", 0.2, "INCONCLUSIVE"),))]
    lenient = _session(tmp_path, gates)
    lenient.finalize()
    assert lenient.verdict == "INCONCLUSIVE" and not lenient.failed()
    strict = _session(tmp_path, gates)
    strict.inconclusive_fails = True
    strict.finalize()
    assert strict.failed()


def test_no_gates_is_not_a_pass(tmp_path: Path) -> None:
    session = GateSession("run", tmp_path)
    session.finalize()
    assert session.verdict == "ERROR" and session.failed()


def test_multiplicity_none_leaves_p_values_alone(tmp_path: Path) -> None:
    session = _session(tmp_path, [GateResult("a", "s", "ab", "m", (_check("a1", 0.04),))] * 1, "none")
    (result,) = session.finalize()
    assert result.checks[0].p_adjusted is None and result.verdict == "PASS"


def test_gates_whose_names_sanitise_alike_keep_separate_results(tmp_path: Path) -> None:
    from harness.session import result_path

    assert result_path(tmp_path, "s", "g x") != result_path(tmp_path, "s", "g_x")
    assert result_path(tmp_path, "a.b", "c") != result_path(tmp_path, "a", "b.c")
    session = GateSession("run", tmp_path)
    write_result(tmp_path, GateResult("g x", "s", "ab", "exact_match", checks=(_check("g x", 0.9, "FAIL"),)), {})
    write_result(tmp_path, GateResult("g_x", "s", "ab", "exact_match", checks=(_check("g_x", 0.01),)), {})
    session.expect("test_s.yaml::g x", "s", "g x")
    session.expect("test_s.yaml::g_x", "s", "g_x")
    assert [r.verdict for r in session.finalize()] == ["FAIL", "PASS"]
    assert session.verdict == "FAIL" and session.failed()


def test_a_pass_on_file_for_an_item_pytest_failed_is_an_error(tmp_path: Path) -> None:
    write_result(tmp_path, GateResult("g", "s", "ab", "exact_match", checks=(_check("g", 0.01),)), {})
    session = GateSession("run", tmp_path)
    session.expect("test_s.yaml::g", "s", "g")
    session.crashed("test_s.yaml::g", "AssertionError: boom")
    assert [r.verdict for r in session.finalize()] == ["ERROR"]
    assert session.failed() and "AssertionError: boom" in str(session.results[0].error)
