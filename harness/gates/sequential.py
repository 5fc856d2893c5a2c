"""Sequential early stopping for paired gates (``sequential: true``): items in a seeded random order, scored
chunk by chunk, stopped as soon as the betting confidence sequence of every metric decides
(:mod:`harness.stats.sequential`). A FAIL of any metric stops the gate at once: the gate's verdict is its
worst check.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from harness.cases import Case
from harness.errors import ConfigError
from harness.gates.result import Check
from harness.scores import ScoreRow, ScoreTable
from harness.stats.sequential import SequentialResult, sequential_compare

SCORE_RANGE = {"exact_match": (0.0, 1.0), "rouge_l": (0.0, 1.0)}  # per-item scores; differences lie in [-1, 1]
TEST = "betting confidence sequence (Waudby-Smith & Ramdas 2023)"

# metric -> (candidate table, reference table) of one chunk, rows in the chunk's order
ChunkScorer = Callable[[Sequence[Case], Sequence[str]], dict[str, tuple[ScoreTable, ScoreTable]]]


def check_sequential_metrics(metrics: Sequence[str]) -> None:
    unbounded = [m for m in metrics if m not in SCORE_RANGE]
    if unbounded:
        raise ConfigError(
            f"sequential: true needs bounded per-item scores, and {unbounded} are not bounded "
            f"(bounded: {', '.join(SCORE_RANGE)}): drop them from metrics or set sequential: false"
        )


def check_chunk(chunk: int) -> None:
    if not (isinstance(chunk, int) and not isinstance(chunk, bool) and chunk >= 1):
        raise ConfigError(f"chunk={chunk!r} is invalid: pass the number of items scored between looks (e.g. 50)")


@dataclass(frozen=True)
class Order:
    """The evaluation order of a sequential gate and the uniform of its randomized final look."""

    seed: int
    cases: tuple[Case, ...]
    u: float

    @classmethod
    def draw(cls, cases: Sequence[Case], seed: int, gate: str) -> Order:
        # The gate's name enters the stream so two sequential gates of one run do not share an order.
        salt = int.from_bytes(hashlib.sha256(gate.encode()).digest()[:4], "big")
        rng = np.random.default_rng([seed, salt])
        perm = rng.permutation(len(cases))
        u = float(1.0 - rng.random())  # in (0, 1]
        return cls(seed, tuple(cases[int(i)] for i in perm), u)


@dataclass(frozen=True)
class MetricRun:
    """One metric's sequential outcome: the decision and the items it used."""

    metric: str
    result: SequentialResult
    candidate: ScoreTable
    reference: ScoreTable


def _concat(metric: str, parts: Sequence[ScoreTable]) -> ScoreTable:
    rows: tuple[ScoreRow, ...] = tuple(r for p in parts for r in p.rows)
    return ScoreTable(metric, rows, dict(parts[0].provenance))


def run(
    order: Order,
    metrics: Sequence[str],
    score: ChunkScorer,
    *,
    chunk: int,
    decision: str,
    margins: dict[str, float],
    alpha: float,
) -> dict[str, MetricRun]:
    """Score chunk after chunk until every metric is decided or one fails; each metric keeps the result of the
    look where it was decided (or of the last item)."""
    check_chunk(chunk)
    check_sequential_metrics(metrics)
    total = len(order.cases)
    parts: dict[str, tuple[list[ScoreTable], list[ScoreTable]]] = {m: ([], []) for m in metrics}
    done: dict[str, MetricRun] = {}
    for start in range(0, total, chunk):
        open_metrics = [m for m in metrics if m not in done]
        tables = score(order.cases[start : start + chunk], open_metrics)
        final = start + chunk >= total
        for metric in open_metrics:
            cand_part, ref_part = tables[metric]
            parts[metric][0].append(cand_part)
            parts[metric][1].append(ref_part)
            cand, ref = _concat(metric, parts[metric][0]), _concat(metric, parts[metric][1])
            lo, hi = SCORE_RANGE[metric]
            d = np.array(cand.scores) - np.array(ref.scores)
            result = sequential_compare(
                d,
                low=lo - hi,
                high=hi - lo,
                decision=decision,
                margin=margins[metric],
                alpha=alpha,
                final=final,
                u=order.u if final else None,
            )
            if result.verdict != "INCONCLUSIVE" or final:
                done[metric] = MetricRun(metric, result, cand, ref)
        if len(done) == len(metrics) or any(r.result.verdict == "FAIL" for r in done.values()):
            break
    for metric in metrics:  # stopped by another metric's FAIL: undecided at that look
        if metric not in done:
            cand, ref = _concat(metric, parts[metric][0]), _concat(metric, parts[metric][1])
            d = np.array(cand.scores) - np.array(ref.scores)
            lo, hi = SCORE_RANGE[metric]
            result = sequential_compare(
                d, low=lo - hi, high=hi - lo, decision=decision, margin=margins[metric], alpha=alpha
            )
            done[metric] = MetricRun(metric, result, cand, ref)
    return {m: done[m] for m in metrics}


def check(name: str, run_: MetricRun, *, total: int, chunk: int, order: Order, decision: str, margin: float) -> Check:
    r = run_.result
    level = f"{1 - 2 * r.alpha:.0%}"
    saved = total - r.n
    if r.randomized:
        how = f"at the last item, by the randomized Ville bound (U = {r.u:.3f} from the seed)"
    elif r.verdict != "INCONCLUSIVE":
        how = "when its confidence sequence decided"
    else:
        how = "without a decision (all items used)" if r.n == total else "undecided when another metric failed"
    reasons = (
        f"{TEST} on {r.n} of {total} paired items, in a random order (seed {order.seed}), looked at every "
        f"{chunk} items: candidate {run_.candidate.mean():.4g}, reference {run_.reference.mean():.4g}, "
        f"difference {r.estimate:+.4g}; {decision.replace('_', '-')} margin {margin:g}.",
        f"The {level} anytime-valid confidence sequence is [{r.ci_low:.4f}, {r.ci_high:.4f}] "
        f"(valid at every look, so stopping early does not inflate the error); anytime p = {r.p_value:.3g}.",
        f"{r.verdict}: stopped after {r.n} of {total} items {how}; {saved} items ({saved / total:.0%}) not evaluated.",
    )
    return Check(
        name=name,
        metric=run_.metric,
        test=TEST,
        n=r.n,
        candidate_value=run_.candidate.mean(),
        reference_value=run_.reference.mean(),
        estimate=r.estimate,
        ci_low=r.ci_low,
        ci_high=r.ci_high,
        p_value=r.p_value,
        alpha=r.alpha,
        verdict=r.verdict,
        reasons=reasons,
        details={
            "decision": decision,
            "margin": margin,
            "higher_is_better": True,
            "sequential": True,
            "n_used": r.n,
            "n_total": total,
            "items_saved": saved,
            "chunk": chunk,
            "order_seed": order.seed,
            "final_look_u": r.u,
        },
    )
