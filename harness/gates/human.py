"""Human gate: blind A/B ratings of the candidate against the --baseline model decide.

The ratings are the ones `harness human import` recorded for exactly these two models (by their weights'
hashes). ``measure: preference`` (the default) decides with the sign test on the per-item majority preferences,
ties dropped and counted (:mod:`harness.stats.preference`); ``measure: relevance | coherence | correctness`` decides
with the paired t on the per-item mean 1-5 ratings (Wilcoxon and bootstrap reported beside it).

Fail closed: no recorded ratings for these models is a FAIL whose message says how to make them. The verdict is
INCONCLUSIVE, whatever the test says, when fewer than ``min_items`` items were rated or Krippendorff's alpha of
the measure decided on is below ``min_alpha`` or undefined (a single rater): unreliable ratings decide nothing
(:func:`harness.verdict.rating_floors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from harness import verdict as rules
from harness.errors import ConfigError
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import Check, Example, GateResult
from harness.human.record import HumanRecord, find_record
from harness.scores import ScoreTable
from harness.stats.agreement import TENTATIVE_FLOOR
from harness.stats.decision import Decision
from harness.stats.preference import preference_test

Measure = Literal["preference", "relevance", "coherence", "correctness"]
DEFAULT_MARGINS = {"preference": 0.05, "relevance": 0.25, "coherence": 0.25, "correctness": 0.25}


@dataclass(frozen=True)
class HumanGate:
    """Blind human ratings of the candidate against the --baseline model."""

    kind: Literal["human"]
    measure: Measure = "preference"
    decision: Decision = "non_inferiority"
    # preference: on the candidate's share of decided items minus 1/2; a criterion: in rating points (1-5).
    margin: float | None = None
    min_items: int = 30
    min_alpha: float = TENTATIVE_FLOOR
    ratings: str | None = None  # a record file (relative to the suite) instead of HARNESS_HOME's

    def __post_init__(self) -> None:
        if self.margin is not None and not (math.isfinite(self.margin) and self.margin >= 0):
            raise ConfigError(f"margin={self.margin} must be finite and not negative")
        if self.measure == "preference" and self.margin is not None and self.margin >= 0.5:
            raise ConfigError(f"margin={self.margin} is too large for a preference share: use a margin below 0.5")
        if self.min_items < 1:
            raise ConfigError(f"min_items={self.min_items} must be at least 1")
        if not -1.0 <= self.min_alpha <= 1.0:
            raise ConfigError(f"min_alpha={self.min_alpha} must be in [-1, 1] (Krippendorff recommends 0.667)")

    @property
    def effective_margin(self) -> float:
        return DEFAULT_MARGINS[self.measure] if self.margin is None else self.margin


def _missing(ctx: RunContext, where: Path | None) -> str:
    cand, ref = ctx.pool.role("candidate"), ctx.pool.role("baseline")
    place = f"in {where}" if where else "in HARNESS_HOME/human"
    return (
        f"no human ratings of {cand.spec.ref} ({(cand.weights_hash or cand.content_hash)[:12]}) against "
        f"{ref.spec.ref} ({(ref.weights_hash or ref.content_hash)[:12]}) {place}: run `harness human export "
        f"--model {cand.spec.ref} --against {ref.spec.ref} -n 100 --out DIR`, have two or more raters fill in "
        "DIR/raters/, then `harness human import DIR/raters/*.csv --key DIR/key.json`"
    )


def _preference_check(name: str, record: HumanRecord, spec: HumanGate, alpha: float) -> Check:
    scores = record.preference.scores
    wins, losses = sum(s > 0 for s in scores), sum(s < 0 for s in scores)
    test = preference_test(
        wins, losses, len(scores) - wins - losses, margin=spec.effective_margin, alpha=alpha, decision=spec.decision
    )
    return Check(
        name=name,
        metric="human_preference",
        test="sign test, ties dropped",
        n=test.decided,
        candidate_value=test.share if test.share is not None else 0.5,
        reference_value=0.5,
        estimate=test.estimate,
        ci_low=test.ci_low,
        ci_high=test.ci_high,
        p_value=test.p_value,
        alpha=alpha,
        verdict=test.verdict,
        reasons=test.reasons,
        details={
            "decision": spec.decision,
            "margin": spec.effective_margin,
            "wins": wins,
            "losses": losses,
            "ties": test.ties,
            "p_value_two_sided": test.p_value_two_sided,
        },
    )


def _floors(check: Check, record: HumanRecord, spec: HumanGate) -> Check:
    """The rating counts and agreement as evidence, then the floors of :func:`harness.verdict.rating_floors`."""
    rated = len(record.preference)
    agreement = record.agreement[spec.measure]
    details = {**check.details, "alpha_krippendorff": agreement.alpha, "rated_items": rated, "raters": record.raters}
    return rules.rating_floors(
        replace(check, details=details),
        rated=rated,
        exported=record.items_exported,
        min_items=spec.min_items,
        agreement=agreement.alpha,
        described=agreement.describe(),
        min_alpha=spec.min_alpha,
    )


def evaluate(case: GateCase[HumanGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    metric = f"human_{spec.measure}"
    cand_role, ref_role = ctx.pool.role("candidate"), ctx.pool.role("baseline")
    where = suite.resolve(spec.ratings) if spec.ratings else None
    record = find_record(
        cand_role.weights_hash or cand_role.content_hash, ref_role.weights_hash or ref_role.content_hash, where
    )
    if record is None:
        return GateResult(name, suite.name, "human", metric, failure=_missing(ctx, where))
    title = f"human {spec.measure}: {spec.decision.replace('_', '-')} vs {ref_role.spec.ref}"
    candidate: ScoreTable
    reference: ScoreTable
    if spec.measure == "preference":
        check = _preference_check(title, record, spec, suite.alpha)
        candidate = record.preference
        # The reference's side of a preference is 0 by construction (the scale is centred on it); its rows keep
        # the reference's responses as evidence.
        ref_text = record.reference_outputs()
        reference = ScoreTable(
            candidate.metric, tuple(replace(r, score=0.0, output=ref_text[r.id]) for r in candidate.rows)
        )
        flipped = tuple(r.id for r in sorted(candidate.rows, key=lambda r: r.score) if r.score < 0)
        improved = tuple(r.id for r in sorted(candidate.rows, key=lambda r: -r.score) if r.score > 0)
    else:
        candidate, reference = record.criteria[spec.measure]
        outcome = compare_tables(
            title,
            candidate,
            reference,
            margin=spec.effective_margin,
            alpha=suite.alpha,
            decision=spec.decision,
            seed=ctx.seed,
            kind="continuous",
        )
        check, flipped, improved = outcome.check, outcome.flipped, outcome.improved
    check = _floors(check, record, spec)
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, "baseline", reference)
    texts, ref_text = {r.id: r.output for r in record.preference.rows}, record.reference_outputs()
    examples = tuple(Example(i, record.prompts[i], texts[i], ref_text[i], None) for i in flipped[:10])
    notes = (f"Human ratings: export {record.export_id}, imported from {', '.join(record.sources)}.",)
    return GateResult(name, suite.name, "human", metric, (check,), flipped, improved, examples, notes)


register(GateKind("human", HumanGate, evaluate, "blind human A/B ratings, candidate vs --baseline"))
