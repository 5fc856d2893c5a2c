"""The verdict rules: check -> gate -> run, the INCONCLUSIVE policy, and the multiplicity adjustment."""

from __future__ import annotations

import pytest
from statsmodels.stats.multitest import multipletests

from harness import verdict
from harness.errors import ConfigError
from harness.gates.result import Check, GateResult


def _check(p: float | None, v: str = "PASS", alpha: float = 0.05) -> Check:
    return Check("c", "m", "t", 50, 0.9, 0.9, 0.0, -0.01, 0.01, p, alpha, v, ("why",))


def test_worst_orders_error_fail_inconclusive_pass() -> None:
    assert verdict.worst(["PASS", "INCONCLUSIVE", "PASS"]) == "INCONCLUSIVE"
    assert verdict.worst(["INCONCLUSIVE", "FAIL"]) == "FAIL"
    assert verdict.worst(["FAIL", "ERROR", "PASS"]) == "ERROR"
    assert verdict.worst([]) == "ERROR", "nothing decided is not a PASS"


def test_a_gate_is_its_worst_check_unless_it_failed_or_could_not_run() -> None:
    assert verdict.gate_verdict(["PASS", "INCONCLUSIVE"]) == "INCONCLUSIVE"
    assert verdict.gate_verdict(["PASS"], failure=True) == "FAIL"
    assert verdict.gate_verdict(["PASS"], failure=True, error=True) == "ERROR"
    assert verdict.gate_verdict([]) == "ERROR"
    result = GateResult("g", "s", "ab", "m", (_check(0.01), _check(0.3, "INCONCLUSIVE")))
    assert result.verdict == "INCONCLUSIVE" and result.primary is result.checks[1]


def test_the_run_is_its_worst_gate_with_error_as_fail_and_nothing_as_error() -> None:
    assert verdict.run_verdict(["PASS", "PASS"]) == "PASS"
    assert verdict.run_verdict(["PASS", "INCONCLUSIVE"]) == "INCONCLUSIVE"
    assert verdict.run_verdict(["PASS", "ERROR"]) == "FAIL"
    assert verdict.run_verdict([]) == "ERROR"


@pytest.mark.parametrize(
    ("v", "lenient", "strict"),
    [("PASS", False, False), ("INCONCLUSIVE", False, True), ("FAIL", True, True), ("ERROR", True, True)],
)
def test_inconclusive_fails_the_run_only_when_asked(v: str, lenient: bool, strict: bool) -> None:
    assert verdict.fails_run(v, inconclusive_fails=False) is lenient
    assert verdict.fails_run(v, inconclusive_fails=True) is strict


@pytest.mark.parametrize(
    ("v", "plain", "allowed"),
    [("PASS", True, True), ("INCONCLUSIVE", False, True), ("FAIL", False, False), ("ERROR", False, False)],
)
def test_promotion_takes_pass_and_inconclusive_only_when_allowed(v: str, plain: bool, allowed: bool) -> None:
    assert verdict.promotable(v, allow_inconclusive=False) is plain
    assert verdict.promotable(v, allow_inconclusive=True) is allowed


def test_only_a_pass_run_is_recorded_as_passed() -> None:
    assert [verdict.passed(v) for v in ("PASS", "INCONCLUSIVE", "FAIL", "ERROR")] == [True, False, False, False]


def test_the_strictest_multiplicity_method_wins() -> None:
    assert verdict.strictest(["none", "bh"]) == "bh"
    assert verdict.strictest(["bh", "holm", "none"]) == "holm"
    assert verdict.strictest(["none"]) == "none"
    assert verdict.strictest([]) == "holm"


def test_the_family_is_the_gates_that_ran_a_statistical_test() -> None:
    results = [
        GateResult("tested", "s", "ab", "m", (_check(0.01),)),
        GateResult("threshold", "s", "finetune", "m", (_check(None),)),
        GateResult("failed", "s", "baseline", "m", failure="no baseline"),
        GateResult("error", "s", "ab", "m", (_check(0.01),), error="boom"),
    ]
    assert verdict.family(results) == [0]


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_adjust_uses_the_largest_check_p_per_gate(method: str) -> None:
    gate_p = [0.04, 0.01, 0.03]
    results = [
        GateResult(f"g{i}", "s", "ab", "m", (_check(p / 4), _check(p), _check(None))) for i, p in enumerate(gate_p)
    ]
    adjusted = verdict.adjust(results, method)
    expected = multipletests(gate_p, method="holm" if method == "holm" else "fdr_bh")[1]
    for result, p_adj in zip(adjusted, expected, strict=True):
        assert result.checks[1].p_adjusted == pytest.approx(p_adj, rel=1e-12)
        assert result.checks[2].p_adjusted is None, "a threshold check is not adjusted"
    if method == "holm":  # adjusted 0.06, 0.03, 0.06: only the smallest stays below 0.05
        assert [r.verdict for r in adjusted] == ["INCONCLUSIVE", "PASS", "INCONCLUSIVE"]
        assert "not after Holm adjustment across the 3 gates" in adjusted[0].checks[1].reasons[-1]
        assert adjusted[0].checks[1].verdict_unadjusted == "PASS"
    else:  # BH: 0.04, 0.03, 0.04 all stay below 0.05
        assert [r.verdict for r in adjusted] == ["PASS", "PASS", "PASS"]


def test_adjust_never_relaxes_a_fail_and_none_leaves_results_alone() -> None:
    results = [
        GateResult("f", "s", "ab", "m", (_check(0.9, "FAIL"),)),
        GateResult("p", "s", "ab", "m", (_check(0.001),)),
    ]
    assert [r.verdict for r in verdict.adjust(results, "holm")] == ["FAIL", "PASS"]
    assert verdict.adjust(results, "none") == results
    with pytest.raises(ConfigError, match="multiplicity='bonferroni' is unknown"):
        verdict.adjust(results, "bonferroni")
