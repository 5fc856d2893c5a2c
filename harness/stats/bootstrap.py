"""Percentile bootstrap evidence whose interval and p-values are exact inversions of each other.

With ``B`` resampled differences, the one-sided p-value for ``H0: difference <= d0`` is
``(1 + #{theta* <= d0}) / (B + 1)`` (Davison & Hinkley's +1 rule) and the lower bound is the
order statistic at which that p-value crosses alpha, so ``ci_low > d0`` exactly when
``p_greater(d0) < alpha``. The interval is the percentile interval at level ``1 - 2 * alpha``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from harness.stats.clusters import ClusterResampler
from harness.stats.evidence import Evidence, SecondaryTest, bounded_p
from harness.stats.planning import StandardErrorPlanner

_BATCH_CELLS = 2_000_000  # resample rows x units per batch: bounds memory at ~16 MB


def _last_rejecting_rank(alpha: float, n_resamples: int) -> int:
    """Largest count K with (1 + K) / (B + 1) < alpha, in the same float arithmetic as the p-value."""
    k = int(alpha * (n_resamples + 1))
    while k >= 0 and (1 + k) / (n_resamples + 1) >= alpha:
        k -= 1
    while (2 + k) / (n_resamples + 1) < alpha:
        k += 1
    return k


class PercentileDistribution:
    """A sorted bootstrap distribution with consistent bounds and p-values."""

    def __init__(self, resampled: NDArray[np.float64]) -> None:
        if not np.all(np.isfinite(resampled)):
            raise ValueError("bootstrap distribution has non-finite values: the statistic is undefined on a resample")
        self.values = np.sort(resampled)
        self.size = int(self.values.size)

    def p_greater(self, d0: float) -> float:
        at_or_below = int(np.searchsorted(self.values, d0, side="right"))
        return bounded_p((1 + at_or_below) / (self.size + 1))

    def p_less(self, d0: float) -> float:
        at_or_above = self.size - int(np.searchsorted(self.values, d0, side="left"))
        return bounded_p((1 + at_or_above) / (self.size + 1))

    def p_two_sided(self, d0: float = 0.0) -> float:
        return bounded_p(2.0 * min(self.p_greater(d0), self.p_less(d0)))

    def bounds(self, alpha: float) -> tuple[float, float]:
        k = _last_rejecting_rank(alpha, self.size)
        if k < 0:
            return -math.inf, math.inf
        return float(self.values[k]), float(self.values[self.size - 1 - k])

    def se(self) -> float:
        return float(np.std(self.values, ddof=1))


def bootstrap_means(
    d: NDArray[np.float64], resampler: ClusterResampler, rng: np.random.Generator, n_resamples: int
) -> NDArray[np.float64]:
    """Bootstrap distribution of ``mean(d)``, resampling items or whole clusters."""
    sums = resampler.unit_sums(d)
    sizes = resampler.unit_sizes().astype(float)
    out = np.empty(n_resamples)
    batch = max(1, _BATCH_CELLS // resampler.n_units)
    for start in range(0, n_resamples, batch):
        rows = min(batch, n_resamples - start)
        units = resampler.draw_units(rng, rows)
        out[start : start + rows] = sums[units].sum(axis=1) / sizes[units].sum(axis=1)
    return out


def percentile_evidence(
    *,
    observed: float,
    distribution: PercentileDistribution,
    alpha: float,
    test: str,
    n: int,
    candidate_value: float,
    reference_value: float,
    p_two_sided: float | None = None,
    two_sided_test: str | None = None,
    secondary: tuple[SecondaryTest, ...] = (),
    notes: tuple[str, ...] = (),
) -> Evidence:
    ci_low, ci_high = distribution.bounds(alpha)
    se = distribution.se()
    return Evidence(
        test=test,
        estimate=observed,
        ci_low=ci_low,
        ci_high=ci_high,
        p_greater=distribution.p_greater,
        p_less=distribution.p_less,
        p_two_sided=distribution.p_two_sided() if p_two_sided is None else p_two_sided,
        two_sided_test=test if two_sided_test is None else two_sided_test,
        candidate_value=candidate_value,
        reference_value=reference_value,
        planner=StandardErrorPlanner(n=n, se=se, description=f"the bootstrap standard error {se:.4g}"),
        secondary=secondary,
        notes=notes,
    )
