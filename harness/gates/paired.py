"""The paired comparison every table-vs-table gate makes: align by item id, test, list the flips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.cases import Case
from harness.gates.result import Check, Example, SliceResult
from harness.gates.slices import sliced, subset
from harness.sampling import pass_at_k_summary
from harness.scores import ScoreTable
from harness.slicing import Slicing
from harness.stats import compare_paired


@dataclass(frozen=True)
class PairedOutcome:
    check: Check
    flipped: tuple[str, ...]  # worse for the candidate, most worse first
    improved: tuple[str, ...]
    slices: tuple[SliceResult, ...] = ()


def is_binary(*tables: ScoreTable) -> bool:
    return all(score in (0.0, 1.0) for t in tables for score in t.scores)


def compare_tables(
    name: str,
    candidate: ScoreTable,
    reference: ScoreTable,
    *,
    margin: float,
    alpha: float,
    decision: str = "non_inferiority",
    higher_is_better: bool = True,
    seed: int = 0,
    kind: str | None = None,
    cases: Sequence[Case] = (),
    slicing: Slicing | None = None,
) -> PairedOutcome:
    """compare_paired on two tables aligned by id; clustered when every item names its cluster.

    With ``slicing`` (and the ``cases`` the tables score) the same comparison is made on each slice too.
    Tables of repeated samples compare per-item means, so n is the number of items; pass@k is reported.
    """
    cand_rows, ref_rows = candidate.align(reference)
    clusters = [r.cluster for r in ref_rows]
    use_clusters = all(clusters) and len(set(clusters)) < len(clusters)  # only when items really share clusters
    kind = kind or ("binary" if is_binary(candidate, reference) else "continuous")
    comparison = compare_paired(
        [r.score for r in cand_rows],
        [r.score for r in ref_rows],
        kind=kind,
        margin=margin,
        alpha=alpha,
        decision=decision,
        higher_is_better=higher_is_better,
        clusters=clusters if use_clusters else None,
        seed=seed,
    )
    sign = 1.0 if higher_is_better else -1.0
    deltas = [(sign * (c.score - r.score), c.id) for c, r in zip(cand_rows, ref_rows, strict=True)]
    flipped = tuple(i for d, i in sorted(deltas) if d < 0)
    improved = tuple(i for d, i in sorted(deltas, reverse=True) if d > 0)
    sampled = {role: pass_at_k_summary(t) for role, t in (("candidate", candidate), ("reference", reference))}
    extra = {"pass_at_k": sampled} if all(sampled.values()) else {}
    check = Check.paired(name, candidate.metric, comparison, **extra)
    slices: tuple[SliceResult, ...] = ()
    if slicing is not None and cases:

        def decide(slice_name: str, ids: tuple[str, ...]) -> Check:
            part = subset(candidate, ids), subset(reference, ids)
            return compare_tables(
                slice_name,
                *part,
                margin=margin,
                alpha=alpha,
                decision=decision,
                higher_is_better=higher_is_better,
                seed=seed,
                kind=kind,
            ).check

        slices = sliced(name, candidate, cases, slicing, decide)
    return PairedOutcome(check, flipped, improved, slices)


def examples(
    ids: Sequence[str], cases: Sequence[Case], candidate: ScoreTable, reference: ScoreTable, limit: int
) -> tuple[Example, ...]:
    by_case = {c.id: c for c in cases}
    cand, ref = candidate.by_id(), reference.by_id()
    return tuple(
        Example(i, by_case[i].prompt, cand[i].output, ref[i].output, by_case[i].answer)
        for i in ids[:limit]
        if i in by_case
    )
