"""A/B gate: candidate vs the --baseline model on the same cases, the paired test matching each metric
(exact match: exact McNemar / Tango; ROUGE-L and answer log-likelihood: paired t with Wilcoxon and bootstrap).

``sequential: true`` scores the cases in a seeded random order, ``chunk`` items at a time, and stops as soon as
an anytime-valid confidence sequence decides every metric (harness.gates.sequential)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from harness.cases import Case
from harness.errors import ConfigError
from harness.gates import sequential as seq
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples, is_binary
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import Check, Example, GateResult, SliceResult
from harness.gates.slices import slicing_of
from harness.scores import ScoreTable
from harness.stats.decision import Decision

ABMetric = Literal["exact_match", "rouge_l", "loglikelihood"]


@dataclass(frozen=True)
class ABGate:
    """Candidate vs the --baseline model on the same cases, one paired test per metric."""

    kind: Literal["ab"]
    cases: str
    metrics: tuple[ABMetric, ...] = ("exact_match", "rouge_l", "loglikelihood")
    decision: Decision = "non_inferiority"
    margins: dict[str, float] = field(
        default_factory=lambda: {"exact_match": 0.02, "rouge_l": 0.02, "loglikelihood": 0.5}
    )
    sequential: bool = False  # stop early once an anytime-valid confidence sequence decides every metric
    chunk: int = 50  # items scored between two looks of a sequential gate

    def __post_init__(self) -> None:
        if self.sequential:
            seq.check_sequential_metrics(self.metrics)
            seq.check_chunk(self.chunk)
        missing = [m for m in self.metrics if m not in self.margins]
        if missing:
            raise ConfigError(f"margins has no entry for {missing}: give a margin per metric")
        if any(not (math.isfinite(v) and v >= 0) for v in self.margins.values()):
            raise ConfigError(f"margins {self.margins} must be finite and not negative")


def evaluate(case: GateCase[ABGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    cases = ctx.cases(suite, spec.cases)
    if spec.sequential:
        return evaluate_sequential(case, ctx, cases)
    scorer = ctx.scorer(suite)
    checks: list[Check] = []
    flipped: tuple[str, ...] = ()
    improved: tuple[str, ...] = ()
    shown: tuple[Example, ...] = ()
    slices: tuple[SliceResult, ...] = ()
    for metric in spec.metrics:
        candidate = scorer.table("candidate", cases, metric)
        baseline = scorer.table("baseline", cases, metric)
        ctx.save_table(suite, f"{name}.{metric}", "candidate", candidate)
        ctx.save_table(suite, f"{name}.{metric}", "baseline", baseline)
        outcome = compare_tables(
            f"{metric}: {spec.decision.replace('_', '-')} vs {ctx.pool.role('baseline').spec.ref}",
            candidate,
            baseline,
            margin=spec.margins[metric],
            alpha=suite.alpha,
            decision=spec.decision,
            seed=ctx.seed,
            # repeated samples make exact match a per-item mean: then the paired t on item means
            kind="binary" if metric == "exact_match" and is_binary(candidate, baseline) else "continuous",
            cases=cases,
            slicing=slicing_of(case),
        )
        checks.append(outcome.check)
        slices += outcome.slices
        if metric == spec.metrics[0]:  # the first metric's flips are the gate's evidence
            flipped, improved = outcome.flipped, outcome.improved
            shown = examples(flipped, cases, candidate, baseline, 10)
    return GateResult(name, suite.name, "ab", spec.metrics[0], tuple(checks), flipped, improved, shown, slices=slices)


def evaluate_sequential(case: GateCase[ABGate], ctx: RunContext, cases: list[Case]) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    scorer = ctx.scorer(suite)
    order = seq.Order.draw(cases, ctx.seed, f"{suite.name}/{name}")

    def score(part: Sequence[Case], metrics: Sequence[str]) -> dict[str, tuple[ScoreTable, ScoreTable]]:
        return {m: (scorer.table("candidate", part, m), scorer.table("baseline", part, m)) for m in metrics}

    runs = seq.run(
        order, spec.metrics, score, chunk=spec.chunk, decision=spec.decision, margins=spec.margins, alpha=suite.alpha
    )
    ref = ctx.pool.role("baseline").spec.ref
    checks = []
    for metric, run in runs.items():
        ctx.save_table(suite, f"{name}.{metric}", "candidate", run.candidate)
        ctx.save_table(suite, f"{name}.{metric}", "baseline", run.reference)
        label = f"{metric}: {spec.decision.replace('_', '-')} vs {ref}, sequential"
        checks.append(
            seq.check(
                label,
                run,
                total=len(cases),
                chunk=spec.chunk,
                order=order,
                decision=spec.decision,
                margin=spec.margins[metric],
            )
        )
    first = runs[spec.metrics[0]]
    deltas = [(c.score - r.score, c.id) for c, r in zip(first.candidate.rows, first.reference.rows, strict=True)]
    flipped = tuple(i for d, i in sorted(deltas) if d < 0)
    improved = tuple(i for d, i in sorted(deltas, reverse=True) if d > 0)
    shown = examples(flipped, cases, first.candidate, first.reference, 10)
    used = max(r.result.n for r in runs.values())
    notes = (f"sequential: {used} of {len(cases)} items evaluated (order seed {order.seed}, chunks of {spec.chunk})",)
    return GateResult(name, suite.name, "ab", spec.metrics[0], tuple(checks), flipped, improved, shown, notes)


register(GateKind("ab", ABGate, evaluate, "A/B significance, candidate vs --baseline", cases=lambda spec: [spec.cases]))
