"""Baseline gate: the candidate on the task cases against the stored per-example baseline of --baseline.

A missing baseline is recorded and the gate fails (nothing was compared); a baseline recorded from another
model than today's --baseline is stale and fails too. --update-baselines records a fresh one (keeping the
previous version) and gates against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from harness.baseline import BaselineStore
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import GateResult
from harness.gates.slices import slicing_of
from harness.paths import safe_component
from harness.scoring import TextMetric
from harness.stats.decision import Decision
from harness.yamlspec import check_fraction

FIX = "rerun with --update-baselines to record the baseline from the current --baseline model"


@dataclass(frozen=True)
class BaselineGate:
    """The candidate against the stored per-example baseline of the reference (--baseline) model."""

    kind: Literal["baseline"]
    cases: str
    metric: TextMetric = "exact_match"
    margin: float = 0.03
    decision: Decision = "non_inferiority"

    def __post_init__(self) -> None:
        check_fraction("margin", self.margin)


def evaluate(case: GateCase[BaselineGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    cases = ctx.cases(suite, spec.cases)
    scorer = ctx.scorer(suite)
    store = BaselineStore(suite.resolve(suite.baselines) / safe_component(suite.name))
    reference_model = ctx.pool.role("baseline")
    stored = store.read(name)
    notes: list[str] = []
    if stored is None or ctx.update_baselines:
        fresh = scorer.table("baseline", cases, spec.metric)
        path, previous = store.write(name, fresh)
        notes.append(
            f"Baseline recorded from {reference_model.spec.ref} ({reference_model.content_hash[:12]}) at {path}"
            + (f"; the previous version is kept at {previous}." if previous else ".")
        )
        if stored is None and not ctx.update_baselines:
            return GateResult(
                name,
                suite.name,
                "baseline",
                spec.metric,
                notes=tuple(notes),
                failure=f"no stored baseline for gate {name!r}, so nothing was compared. One has now been "
                f"recorded at {path}; review it, then rerun to gate against it (or run with --update-baselines to "
                "record and gate in one step).",
            )
        stored = fresh
    recorded_hash = stored.provenance.get("model", {}).get("content_hash")
    if recorded_hash != reference_model.content_hash:
        return _stale(
            case,
            notes,
            f"was recorded from model {str(recorded_hash)[:12]}, but --baseline is now {reference_model.spec.ref} "
            f"({reference_model.content_hash[:12]}): it is stale",
        )
    candidate = scorer.table("candidate", cases, spec.metric)
    changed = recorded_differently(stored.provenance, candidate.provenance)
    if changed:
        return _stale(
            case, notes, f"was recorded under another {changed}: the scores are not comparable, so it is stale"
        )
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, "baseline", stored)
    outcome = compare_tables(
        f"{spec.decision.replace('_', '-')} vs stored baseline",
        candidate,
        stored,
        margin=spec.margin,
        alpha=suite.alpha,
        decision=spec.decision,
        seed=ctx.seed,
        cases=cases,
        slicing=slicing_of(case),
    )
    return GateResult(
        name,
        suite.name,
        "baseline",
        spec.metric,
        (outcome.check,),
        outcome.flipped,
        outcome.improved,
        examples(outcome.flipped, cases, candidate, stored, 10),
        tuple(notes),
        slices=outcome.slices,
    )


def recorded_differently(stored: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """What makes a stored baseline's scores incomparable with the candidate's (None if nothing): another metric,
    other cases (their hash covers prompts and answers) or other decoding. The batch size is left out: greedy
    results do not depend on it."""
    if stored.get("metric") != current.get("metric"):
        return f"metric ({stored.get('metric')!r}, now {current.get('metric')!r})"
    if stored.get("cases_hash") != current.get("cases_hash"):
        return "case set (the cases' prompts or answers changed since)"

    def decoding(info: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in (info.get("decoding") or {}).items() if k != "batch_size"}

    if decoding(stored) != decoding(current):
        return f"decoding ({decoding(stored)}, now {decoding(current)})"
    return None


register(
    GateKind(
        "baseline",
        BaselineGate,
        evaluate,
        "candidate vs the stored per-example baseline of --baseline",
        cases=lambda spec: [spec.cases],
    )
)


def _stale(case: GateCase[BaselineGate], notes: list[str], why: str) -> GateResult:
    """The gate's failure when its stored baseline cannot be compared with this run (``why`` says how)."""
    return GateResult(
        case.name,
        case.suite.name,
        "baseline",
        case.spec.metric,
        notes=tuple(notes),
        failure=f"the stored baseline of {case.name!r} {why}; {FIX}.",
    )
