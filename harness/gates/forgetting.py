"""Forgetting gate: general-capability items the base model got right that the candidate now gets wrong."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.errors import ConfigError
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import GateResult
from harness.gates.slices import slicing_of
from harness.scoring import TextMetric
from harness.yamlspec import check_fraction


@dataclass(frozen=True)
class ForgettingGate:
    """General-capability items for the candidate vs the model it was trained from (--base-model)."""

    kind: Literal["forgetting"]
    cases: str
    metric: TextMetric = "exact_match"
    margin: float = 0.03
    show: int = 10  # flipped examples listed in the failure message

    def __post_init__(self) -> None:
        check_fraction("margin", self.margin)
        if self.show < 0:
            raise ConfigError(f"show={self.show} must be 0 or more (flipped examples listed on failure)")


def evaluate(case: GateCase[ForgettingGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    cases = ctx.cases(suite, spec.cases)
    scorer = ctx.scorer(suite)
    candidate = scorer.table("candidate", cases, spec.metric)
    base = scorer.table("base", cases, spec.metric)
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, "base", base)
    outcome = compare_tables(
        f"non-inferiority vs base ({spec.cases})",
        candidate,
        base,
        margin=spec.margin,
        alpha=suite.alpha,
        seed=ctx.seed,
        cases=cases,
        slicing=slicing_of(case),
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
        slices=outcome.slices,
    )


register(
    GateKind(
        "forgetting",
        ForgettingGate,
        evaluate,
        "general-capability items, candidate vs --base-model",
        cases=lambda spec: [spec.cases],
    )
)
