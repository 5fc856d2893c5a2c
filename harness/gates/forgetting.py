"""Forgetting gate: general-capability items the base model got right that the candidate now gets wrong."""

from __future__ import annotations

from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples
from harness.gates.result import GateResult
from harness.spec import ForgettingGate, SuiteSpec


def evaluate(name: str, spec: ForgettingGate, suite: SuiteSpec, ctx: RunContext) -> GateResult:
    cases = ctx.cases(suite, spec.cases)
    scorer = ctx.scorer(suite)
    candidate = scorer.table("candidate", cases, spec.metric)
    base = scorer.table("base", cases, spec.metric)
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, "base", base)
    outcome = compare_tables(
        f"non-inferiority vs base ({spec.cases})", candidate, base, margin=spec.margin, alpha=suite.alpha, seed=ctx.seed
    )
    notes = (
        f"{len(outcome.flipped)} of {len(cases)} items flipped from right to wrong, {len(outcome.improved)} from "
        f"wrong to right (base: {ctx.pool.role('base').spec.ref}).",
    )
    return GateResult(
        name,
        suite.name,
        "forgetting",
        spec.metric,
        (outcome.check,),
        outcome.flipped,
        outcome.improved,
        examples(outcome.flipped, cases, candidate, base, spec.show),
        notes,
    )
