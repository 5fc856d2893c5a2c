"""The verdict rules: check -> gate -> run, the INCONCLUSIVE policy, and the multiplicity adjustment."""

from __future__ import annotations

import math
from dataclasses import replace

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


# Rules that turn a check's PASS into something else: each branch, with the text the user reads.


def test_after_adjustment_keeps_a_pass_that_survives_and_records_the_adjusted_p() -> None:
    out = verdict.after_adjustment(_check(0.01), 0.049, "Holm", 3)
    assert (out.verdict, out.verdict_unadjusted, out.p_adjusted, out.reasons) == ("PASS", "PASS", 0.049, ("why",))


def test_after_adjustment_makes_a_pass_that_does_not_survive_inconclusive_and_names_the_family() -> None:
    gates = verdict.after_adjustment(_check(0.02), 0.06, "Holm", 3)
    assert (gates.verdict, gates.verdict_unadjusted, gates.p_adjusted) == ("INCONCLUSIVE", "PASS", 0.06)
    assert gates.reasons == (
        "why",
        "Passes alone (p = 0.02) but not after Holm adjustment across the 3 gates of this run "
        "(adjusted p = 0.06 >= 0.05).",
    )
    slices = verdict.after_adjustment(_check(0.02), 0.05, "Holm", 4, members="gated slices")
    assert slices.verdict == "INCONCLUSIVE", "an adjusted p equal to alpha does not reject"
    assert slices.reasons[-1] == (
        "Passes alone (p = 0.02) but not after Holm adjustment across the 4 gated slices (adjusted p = 0.05 >= 0.05)."
    )


@pytest.mark.parametrize("v", ["FAIL", "INCONCLUSIVE"])
def test_after_adjustment_never_touches_a_verdict_other_than_pass(v: str) -> None:
    out = verdict.after_adjustment(_check(0.9, v), 1.0, "Benjamini-Hochberg", 2)
    assert (out.verdict, out.verdict_unadjusted, out.p_adjusted, out.reasons) == (v, v, 1.0, ("why",))


def _sized(n: int, v: str = "PASS") -> Check:
    return replace(_check(0.01, v), n=n, details={"margin": 0.05})


def _never(check: Check) -> int | None:
    raise AssertionError(f"needed() must not be asked for {check.n} items with verdict {check.verdict}")


@pytest.mark.parametrize(("n", "v"), [(10, "PASS"), (400, "INCONCLUSIVE"), (3, "FAIL"), (10, "FAIL")])
def test_too_small_leaves_big_slices_and_every_fail_alone(n: int, v: str) -> None:
    check = _sized(n, v)
    assert verdict.too_small(check, 10, _never) is check


@pytest.mark.parametrize(("need", "required", "how"), [(25, 25, "about 25 items"), (4, 10, "about 10 items")])
def test_too_small_makes_a_small_pass_inconclusive_and_says_how_many_items_are_needed(
    need: int, required: int, how: str
) -> None:
    out = verdict.too_small(_sized(5), 10, lambda c: need)
    assert out.verdict == "INCONCLUSIVE"
    assert out.reasons == (
        "why",
        f"Only 5 items in this slice: too few to decide (a slice needs at least 10); {how} would be needed at "
        "the observed rates.",
    )
    assert out.details == {"margin": 0.05, "required_n": required, "too_small": True}


@pytest.mark.parametrize(("need", "v"), [(None, "PASS"), (0, "PASS"), (None, "INCONCLUSIVE")])
def test_too_small_says_when_the_items_needed_cannot_be_estimated(need: int | None, v: str) -> None:
    out = verdict.too_small(_sized(9, v), 10, lambda c: need)
    assert out.verdict == "INCONCLUSIVE" and out.details["required_n"] is None and out.details["too_small"]
    assert out.reasons[-1] == (
        "Only 9 items in this slice: too few to decide (a slice needs at least 10); the items needed cannot be "
        "estimated at the observed rates."
    )


def test_a_machine_resolves_a_margin_only_when_its_a_a_spread_is_narrower() -> None:
    assert verdict.resolves(math.log(1.05), 0.10)
    assert not verdict.resolves(math.log1p(0.10), 0.10), "a spread equal to the margin does not resolve it"
    assert not verdict.resolves(math.log(1.5), 0.10)
    assert not verdict.resolves(math.inf, 0.10) and not verdict.resolves(math.nan, 0.10)


def _latency(v: str, ci_low: float | None) -> Check:
    return replace(_check(0.01, v), ci_low=ci_low, ci_high=None if ci_low is None else ci_low + 0.2)


@pytest.mark.parametrize("v", ["PASS", "FAIL", "INCONCLUSIVE"])
def test_under_quiet_noise_a_latency_check_is_unchanged(v: str) -> None:
    check = _latency(v, math.log(1.5))
    assert verdict.under_noise(check, math.log(1.05), 0.10) is check


@pytest.mark.parametrize(("v", "ci_low"), [("PASS", -0.05), ("FAIL", math.log(1.15)), ("FAIL", None)])
def test_under_loud_noise_pass_and_a_slowdown_within_the_noise_become_inconclusive(
    v: str, ci_low: float | None
) -> None:
    out = verdict.under_noise(_latency(v, ci_low), math.log(1.10), 0.10)
    assert out.verdict == "INCONCLUSIVE"
    assert out.reasons == ("why", f"Would be {v}, but the A/A noise is wider than the margin.")


def test_under_loud_noise_a_slowdown_beyond_margin_plus_noise_stays_fail() -> None:
    # margin 1.10x, noise 1.10x: the bar is 1.10 * 1.10 = 1.21x; a lower bound at 1.30x clears it.
    out = verdict.under_noise(_latency("FAIL", math.log(1.30)), math.log(1.10), 0.10)
    assert out.verdict == "FAIL"
    assert out.reasons == ("why", "FAIL despite the A/A noise: even the lower bound is beyond 1.210x.")
    edge = verdict.under_noise(_latency("FAIL", math.log(1.20)), math.log(1.10), 0.10)
    assert edge.verdict == "INCONCLUSIVE", "a lower bound short of margin plus noise is not a clear FAIL"


def test_under_loud_noise_inconclusive_stays_as_it_is() -> None:
    check = _latency("INCONCLUSIVE", 0.0)
    assert verdict.under_noise(check, math.log(1.5), 0.10) is check


AGREE = "Krippendorff's alpha 0.812 (3 raters, 40 items)"


def _floors(v: str, rated: int = 40, agreement: float | None = 0.812, described: str = AGREE) -> Check:
    return verdict.rating_floors(
        _check(0.01, v),
        rated=rated,
        exported=50,
        min_items=30,
        agreement=agreement,
        described=described,
        min_alpha=0.667,
    )


@pytest.mark.parametrize("v", ["PASS", "FAIL", "INCONCLUSIVE"])
def test_above_the_rating_floors_the_verdict_stays_and_the_agreement_is_stated(v: str) -> None:
    assert _floors(v).verdict == v and _floors(v).reasons == ("why", f"{AGREE}.")
    at_the_floors = _floors(v, rated=30, agreement=0.667)
    assert at_the_floors.verdict == v, "exactly min_items items and exactly min_alpha are enough"


@pytest.mark.parametrize("v", ["PASS", "FAIL"])
def test_too_few_rated_items_make_any_verdict_inconclusive(v: str) -> None:
    out = _floors(v, rated=12)
    assert out.verdict == "INCONCLUSIVE"
    assert out.reasons == (
        "why",
        "Only 12 of 50 exported items were rated; the gate needs min_items = 30: export and rate more items.",
        f"Without these floors the test says {v}.",
    )


def test_low_or_unknown_agreement_makes_the_verdict_inconclusive() -> None:
    low = _floors("PASS", agreement=0.41, described="Krippendorff's alpha 0.410 (2 raters, 40 items)")
    assert low.verdict == "INCONCLUSIVE"
    assert low.reasons[1:] == (
        "The raters do not agree enough to rely on: Krippendorff's alpha 0.410 (2 raters, 40 items), below "
        "min_alpha = 0.667 (Krippendorff's floor for tentative conclusions is 0.667): sharpen the criteria with "
        "the raters and rate again.",
        "Without these floors the test says PASS.",
    )
    single = _floors("PASS", rated=3, agreement=None, described="Krippendorff's alpha undefined (1 rater)")
    assert single.verdict == "INCONCLUSIVE"
    assert single.reasons[1:] == (
        "Only 3 of 50 exported items were rated; the gate needs min_items = 30: export and rate more items.",
        "Inter-rater reliability is unknown: Krippendorff's alpha undefined (1 rater).",
        "Without these floors the test says PASS.",
    )


def test_a_crashed_item_is_never_recorded_as_pass() -> None:
    passed = GateResult("g", "s", "ab", "m", (_check(0.01),))
    out = verdict.after_crash(passed, "AssertionError: boom")
    assert out.verdict == "ERROR" and out.error == "the test item failed: AssertionError: boom"
    for other in (
        GateResult("g", "s", "ab", "m", (_check(0.9, "FAIL"),)),
        GateResult("g", "s", "ab", "m", (_check(0.3, "INCONCLUSIVE"),)),
        GateResult("g", "s", "ab", "m", error="it never ran"),
    ):
        assert verdict.after_crash(other, "AssertionError: boom") is other
