"""Plain-sentence reasons for a comparison's verdict."""

from __future__ import annotations

from typing import Any

from harness.stats.decision import Outcome
from harness.stats.evidence import Evidence


def _num(x: float | None) -> str:
    return "unbounded" if x is None else f"{x:.4g}"  # inf prints as "inf"


def _claim(decision: str, margin: float, higher_is_better: bool) -> str:
    worse, better = ("lower", "higher") if higher_is_better else ("higher", "lower")
    if decision == "non_inferiority":
        return f"the candidate is not worse than the reference by {margin:g} or more ({worse} is worse)"
    if decision == "superiority":
        return f"the candidate is better than the reference by more than {margin:g} ({better} is better)"
    return f"the candidate is within +-{margin:g} of the reference"


def _fail_claim(decision: str, margin: float, higher_is_better: bool) -> str:
    if decision == "non_inferiority":
        return f"the candidate is worse than the reference by more than {margin:g}"
    if decision == "superiority":
        return f"the candidate is not better than the reference by more than {margin:g}"
    return f"the candidate differs from the reference by more than {margin:g}"


def _signed(x: float) -> str:
    return "0" if x == 0 else f"{x:+g}"


def _where(decision: str, nulls: list[float]) -> tuple[str, str, str]:
    """How the interval relates to the boundary, for PASS / FAIL / INCONCLUSIVE."""
    if decision == "equivalence":
        band = f"({_signed(nulls[0])}, {_signed(nulls[1])})"
        return (
            f"lies inside {band}",
            f"lies wholly outside {band}",
            f"is neither inside {band} nor wholly outside it",
        )
    b = _signed(nulls[0])
    return f"clears {b}", f"lies entirely on the wrong side of {b}", f"neither clears {b} nor lies beyond it"


def _verdict_sentence(args: dict[str, Any], outcome: Outcome) -> str:
    level = f"{args['ci_level']:.0%}"
    ci = f"[{_num(args['ci_low'])}, {_num(args['ci_high'])}]"
    inside, outside, between = _where(args["decision"], [h.null for h in outcome.hypotheses])
    claim = _claim(args["decision"], args["margin"], args["higher_is_better"])
    p = f"p = {outcome.p_value:.3g}"
    if outcome.verdict == "PASS":
        return f"PASS: the {level} interval {ci} {inside}, so {claim} ({p} < {args['alpha']:g})."
    if outcome.verdict == "FAIL":
        fail = _fail_claim(args["decision"], args["margin"], args["higher_is_better"])
        return f"FAIL: the {level} interval {ci} {outside}, so {fail}."
    return f"INCONCLUSIVE: the {level} interval {ci} {between}, so the data cannot show that {claim} ({p})."


def _planning(evidence: Evidence, args: dict[str, Any], null: float, power: float) -> list[str]:
    planner = evidence.planner
    if planner is None:
        return []
    out = []
    mde, need = args["mde"], args["required_n"]
    if mde is None:
        out.append(f"The minimum detectable effect cannot be computed from {planner.description}.")
    else:
        out.append(
            f"With n = {args['n']} and {planner.description}, a true difference {mde:.4g} "
            f"beyond {_signed(null)} is detected with {power:.0%} power "
            f"(MDE, one-sided alpha {args['alpha']:g})."
        )
    if need is None:
        out.append(
            "The required n cannot be computed: the estimate sits on the boundary or the data show no "
            "variation; choose a target effect and use the power functions."
        )
    else:
        out.append(
            f"If the true difference equals the estimate {args['estimate']:+.4g}, about {need} items would "
            f"decide this gate with {power:.0%} power."
        )
    return out


def explain(evidence: Evidence, outcome: Outcome, args: dict[str, Any], null: float, power: float) -> tuple[str, ...]:
    """Reasons: what was tested, the verdict, planning numbers when undecided, caveats, other tests."""
    clusters = f" in {args['n_clusters']} clusters" if args["n_clusters"] is not None else ""
    head = (
        f"{args['test']} on {args['n']} paired items{clusters}: candidate {args['candidate_value']:.4g}, "
        f"reference {args['reference_value']:.4g}, "
        f"difference (candidate - reference) {args['estimate']:+.4g}."
    )
    reasons = [head]
    if args["n_improved"] is not None:
        reasons.append(
            f"{args['n_improved'] + args['n_regressed']} items changed outcome: "
            f"{args['n_improved']} improved, {args['n_regressed']} regressed."
        )
    reasons.append(_verdict_sentence(args, outcome))
    if outcome.verdict == "INCONCLUSIVE":
        reasons.extend(_planning(evidence, args, null, power))
        if args["decision"] == "non_inferiority" and args["margin"] == 0.0:
            reasons.append(
                "With margin 0, non-inferiority is the same test as superiority: the boundary 0 belongs to "
                "the null, so identical models cannot pass it at any n (passing them would make the test's "
                "false-pass rate 100% at the boundary). Set margin to the largest drop you accept."
            )
    reasons.extend(evidence.notes)
    reasons.append(f"No-difference test ({args['two_sided_test']}): two-sided p = {args['p_value_two_sided']:.3g}.")
    for sec in evidence.secondary:
        parts = []
        if sec.p_value is not None:
            parts.append(f"decision p = {sec.p_value:.3g}")
        if sec.p_value_two_sided is not None:
            parts.append(f"two-sided p = {sec.p_value_two_sided:.3g}")
        if sec.ci_low is not None and sec.ci_high is not None:
            parts.append(f"interval [{_num(sec.ci_low)}, {_num(sec.ci_high)}]")
        reasons.append(f"Also reported, not used for the verdict: {sec.name}: {', '.join(parts)}.")
    return tuple(reasons)
