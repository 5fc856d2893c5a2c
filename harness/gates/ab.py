"""A/B gate: candidate vs the --baseline model on the same cases, the paired test matching each metric
(exact match: exact McNemar / Tango; ROUGE-L and answer log-likelihood: paired t with Wilcoxon and bootstrap)."""

from __future__ import annotations

from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples
from harness.gates.result import Check, Example, GateResult
from harness.spec import ABGate, SuiteSpec


def evaluate(name: str, spec: ABGate, suite: SuiteSpec, ctx: RunContext) -> GateResult:
    cases = ctx.cases(suite, spec.cases)
    scorer = ctx.scorer(suite)
    checks: list[Check] = []
    flipped: tuple[str, ...] = ()
    improved: tuple[str, ...] = ()
    shown: tuple[Example, ...] = ()
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
            kind="binary" if metric == "exact_match" else "continuous",
        )
        checks.append(outcome.check)
        if metric == spec.metrics[0]:  # the first metric's flips are the gate's evidence
            flipped, improved = outcome.flipped, outcome.improved
            shown = examples(flipped, cases, candidate, baseline, 10)
    return GateResult(name, suite.name, "ab", spec.metrics[0], tuple(checks), flipped, improved, shown)
