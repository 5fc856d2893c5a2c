"""Corpus-level metrics that do not decompose into per-item scores (corpus F1, corpus ROUGE).

The metric is a callable on one side's records. Both resampling methods keep the pairing:

* paired bootstrap: resample items (or whole clusters) once and score both sides on that resample;
* paired approximate randomization: swap the two sides' records per item (or per cluster) with
  probability 1/2 and rescore; exact enumeration when there are few enough units.

Records are passed to the metric as a list, or as a NumPy array when the input was an array
(so a vectorised metric stays fast).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.errors import DataError
from harness.stats.bootstrap import PercentileDistribution, percentile_evidence
from harness.stats.clusters import ClusterResampler
from harness.stats.evidence import Evidence, SecondaryTest, bounded_p
from harness.stats.validation import Items

Metric = Callable[[Any], float]


class RecordTable:
    """Both sides' records stacked (candidate rows 0..n-1, reference rows n..2n-1) for fast takes."""

    def __init__(self, candidate: Items, reference: Items) -> None:
        self.n = len(candidate)
        self._as_list: bool
        if isinstance(candidate, np.ndarray) and isinstance(reference, np.ndarray):
            self._rows: NDArray[Any] = np.concatenate([candidate, reference])
            self._as_list = False
        else:
            rows = np.empty(2 * self.n, dtype=object)
            for i, rec in enumerate(itertools.chain(candidate, reference)):
                rows[i] = rec  # element-wise so tuples stay records, not array rows
            self._rows = rows
            self._as_list = True

    def take(self, idx: NDArray[np.int64]) -> Any:
        out = self._rows[idx]
        return out.tolist() if self._as_list else out


def _score(metric: Metric, records: Any, what: str) -> float:
    value = metric(records)
    try:
        score = float(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"metric returned {value!r} on {what}: it must return one float") from exc
    if not math.isfinite(score):
        raise DataError(
            f"metric returned {score} on {what}: make it defined for any non-empty subset of records "
            "(e.g. return 0.0 when there is nothing to score)"
        )
    return score


def metric_difference(table: RecordTable, metric: Metric, cand_idx: NDArray[np.int64], what: str) -> float:
    """metric(candidate rows) - metric(reference rows) for item indices ``cand_idx`` (0..n-1)."""
    return _score(metric, table.take(cand_idx), what) - _score(metric, table.take(cand_idx + table.n), what)


def paired_bootstrap_distribution(
    table: RecordTable,
    metric: Metric,
    resampler: ClusterResampler,
    rng: np.random.Generator,
    n_resamples: int,
) -> NDArray[np.float64]:
    out = np.empty(n_resamples)
    units = resampler.draw_units(rng, n_resamples)
    for r in range(n_resamples):
        out[r] = metric_difference(table, metric, resampler.items(units[r]), "a bootstrap resample")
    return out


def approximate_randomization(
    table: RecordTable,
    metric: Metric,
    resampler: ClusterResampler,
    rng: np.random.Generator,
    n_resamples: int,
) -> tuple[float, bool]:
    """Two-sided p-value for "no difference" by swapping sides per unit; (p, exact?).

    The two-sided p-value is twice the smaller one-sided p-value, with scipy's tolerance for
    ties, so it matches ``scipy.stats.permutation_test(permutation_type="samples")``.
    """
    n = table.n
    base = np.arange(n)
    unit = resampler.unit_of_item()
    observed = metric_difference(table, metric, base, "the full data")
    exact = 2**resampler.n_units <= n_resamples
    if exact:
        masks: Any = itertools.product((False, True), repeat=resampler.n_units)
        total = 2**resampler.n_units
    else:
        masks = rng.random((n_resamples, resampler.n_units)) < 0.5
        total = n_resamples
    null = np.empty(total)
    for r, mask in enumerate(masks):
        swapped = np.asarray(mask, dtype=bool)[unit]
        cand_idx = base + n * swapped
        ref_idx = base + n * ~swapped
        null[r] = _score(metric, table.take(cand_idx), "a permutation") - _score(
            metric, table.take(ref_idx), "a permutation"
        )
    adjustment = 0 if exact else 1
    gamma = abs(observed) * np.finfo(float).eps * 100
    p_less = (np.count_nonzero(null <= observed + gamma) + adjustment) / (total + adjustment)
    p_greater = (np.count_nonzero(null >= observed - gamma) + adjustment) / (total + adjustment)
    return bounded_p(2.0 * min(p_less, p_greater)), exact


def corpus_evidence(
    candidate: Items,
    reference: Items,
    metric: Metric,
    *,
    codes: NDArray[np.int64] | None,
    alpha: float,
    seed: int,
    n_resamples: int,
) -> Evidence:
    """Paired (cluster) bootstrap for the interval and decisions; approximate randomization for p."""
    table = RecordTable(candidate, reference)
    resampler = ClusterResampler(table.n, codes)
    boot_rng, perm_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    everything = np.arange(table.n)
    cand_value = _score(metric, table.take(everything), "the candidate records")
    ref_value = _score(metric, table.take(everything + table.n), "the reference records")
    dist = PercentileDistribution(paired_bootstrap_distribution(table, metric, resampler, boot_rng, n_resamples))
    p_perm, exact = approximate_randomization(table, metric, resampler, perm_rng, n_resamples)
    unit = "cluster" if codes is not None else "item"
    perm_name = "paired approximate randomization" + (" (clusters swapped whole)" if codes is not None else "")
    boot_name = "paired cluster bootstrap" if codes is not None else "paired bootstrap"
    how = "exact enumeration of all swaps" if exact else f"{n_resamples} random swaps per {unit}"
    secondary = (SecondaryTest(name=boot_name, p_value=None, p_value_two_sided=dist.p_two_sided()),)
    return percentile_evidence(
        observed=cand_value - ref_value,
        distribution=dist,
        alpha=alpha,
        test=f"{boot_name} (percentile)",
        n=table.n,
        candidate_value=cand_value,
        reference_value=ref_value,
        p_two_sided=p_perm,
        two_sided_test=perm_name,
        secondary=secondary,
        notes=(f"Bootstrap: {n_resamples} resamples of {unit}s; approximate randomization: {how}.",),
    )
