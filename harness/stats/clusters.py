"""Items that share a cluster (one source question under several templates).

Within-cluster correlation makes item-level standard errors too small, so with clusters:

* means of per-item differences use the CR1 cluster-robust variance
  ``G / (G - 1) * sum_g (sum_{i in g} (d_i - mean))^2 / n^2`` with t on ``G - 1`` df;
  with one item per cluster it equals the paired-t variance exactly;
* binary outcomes divide Tango's score statistic by the square root of the design effect
  (CR1 variance over the i.i.d. variance), a Rao-Scott correction;
* the gates use ``max(CR1, i.i.d.)`` (design effect floored at 1): clusters may widen an interval
  but never narrow it, so a chance cancellation inside clusters cannot buy a PASS;
* resampling methods resample (or swap) whole clusters.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def cluster_sums(values: NDArray[np.float64], codes: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.bincount(codes, weights=values, minlength=int(codes.max()) + 1).astype(float)


def cr1_variance_of_mean(d: NDArray[np.float64], codes: NDArray[np.int64]) -> float:
    """CR1 cluster-robust variance of ``mean(d)``; NaN with fewer than two clusters."""
    g = int(codes.max()) + 1
    if g < 2:
        return float("nan")
    resid_sums = cluster_sums(d - d.mean(), codes)
    return float(g / (g - 1) * np.sum(resid_sums**2) / d.size**2)


def gate_variance_of_mean(d: NDArray[np.float64], codes: NDArray[np.int64]) -> float:
    """The variance the gates use: CR1, but never below the i.i.d. variance ``s^2 / n``."""
    iid = float(np.var(d, ddof=1)) / d.size if d.size > 1 else 0.0
    return max(cr1_variance_of_mean(d, codes), iid)


def design_effect(d: NDArray[np.float64], codes: NDArray[np.int64]) -> float:
    """CR1 variance over the i.i.d. variance of the mean (not floored; see gate_variance_of_mean).

    With no variation at all (every difference equal) the ratio is 0/0; the worst case, the mean
    cluster size (every cluster moving as one item), is returned so that no precision is invented.
    """
    n = d.size
    g = int(codes.max()) + 1
    iid = float(np.var(d, ddof=1)) / n if n > 1 else 0.0
    if iid == 0.0:
        return n / g
    return cr1_variance_of_mean(d, codes) / iid


class ClusterResampler:
    """Draws bootstrap index sets: items (no clusters) or whole clusters with replacement."""

    def __init__(self, n: int, codes: NDArray[np.int64] | None) -> None:
        self.n = n
        if codes is None:
            self.n_units = n
            self._order = np.arange(n)
            self._starts = np.arange(n)
            self._sizes = np.ones(n, dtype=np.int64)
        else:
            self.n_units = int(codes.max()) + 1
            self._order = np.argsort(codes, kind="stable")
            self._sizes = np.bincount(codes, minlength=self.n_units)
            self._starts = np.concatenate(([0], np.cumsum(self._sizes)[:-1]))
        self._singletons = bool(np.all(self._sizes == 1))

    def draw_units(self, rng: np.random.Generator, size: int) -> NDArray[np.int64]:
        """``size`` rows of unit (cluster) ids drawn with replacement."""
        return rng.integers(0, self.n_units, size=(size, self.n_units))

    def items(self, units: NDArray[np.int64]) -> NDArray[np.int64]:
        """Item indices of one row of drawn units, cluster members kept together."""
        if self._singletons:
            return self._order[units]
        sizes = self._sizes[units]
        starts = self._starts[units]
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return self._order[np.repeat(starts, sizes) + offsets]

    def unit_sums(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Per-unit sums of ``values`` (for fast bootstrap of means)."""
        return np.bincount(self.unit_of_item(), weights=values, minlength=self.n_units).astype(float)

    def unit_sizes(self) -> NDArray[np.int64]:
        return self._sizes

    def unit_of_item(self) -> NDArray[np.int64]:
        unit = np.empty(self.n, dtype=np.int64)
        unit[self._order] = np.repeat(np.arange(self.n_units), self._sizes)
        return unit
