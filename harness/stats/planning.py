"""Power planning for the design at hand, used to fill ``Comparison.mde`` and ``required_n``.

Each planner holds the observed n and nuisance parameter (discordance rate, SD of differences, or
a standard error) and answers two questions at a given boundary: the smallest detectable distance
beyond it, and the n needed if the true difference equals the estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from harness.stats.power import (
    mde_paired_binary,
    mde_paired_continuous,
    required_n_paired_binary,
    required_n_paired_continuous,
)


@dataclass(frozen=True)
class BinaryPlanner:
    """Planning from the observed discordance rate (unclustered binary)."""

    n: int
    discordance: float
    description: str

    def mde(self, null: float, alpha: float, power: float, direction: int = 1) -> float | None:
        if self.discordance == 0.0:
            return None
        return mde_paired_binary(self.n, self.discordance, margin=-null, alpha=alpha, power=power, direction=direction)

    def required_n(self, effect: float, null: float, alpha: float, power: float) -> int | None:
        if self.discordance == 0.0 or effect == null or abs(effect) > self.discordance:
            return None
        return required_n_paired_binary(self.discordance, effect, margin=-null, alpha=alpha, power=power)


@dataclass(frozen=True)
class ContinuousPlanner:
    """Planning from the observed SD of the per-item differences (unclustered paired t)."""

    n: int
    sd_diff: float
    description: str

    def mde(self, null: float, alpha: float, power: float, direction: int = 1) -> float | None:
        if self.n < 2 or self.sd_diff == 0.0:
            return None
        return mde_paired_continuous(self.n, self.sd_diff, alpha=alpha, power=power)

    def required_n(self, effect: float, null: float, alpha: float, power: float) -> int | None:
        if self.n < 2 or self.sd_diff == 0.0 or effect == null:
            return None
        return required_n_paired_continuous(self.sd_diff, effect, margin=-null, alpha=alpha, power=power)


@dataclass(frozen=True)
class StandardErrorPlanner:
    """Normal-approximation planning from a standard error (clustered designs, bootstrap).

    Assumes the standard error shrinks like 1/sqrt(n) with the same cluster structure.
    """

    n: int
    se: float
    description: str

    def mde(self, null: float, alpha: float, power: float, direction: int = 1) -> float | None:
        if not (self.se > 0.0 and math.isfinite(self.se)):
            return None
        return float((stats.norm.isf(alpha) + stats.norm.ppf(power)) * self.se)

    def required_n(self, effect: float, null: float, alpha: float, power: float) -> int | None:
        if not (self.se > 0.0 and math.isfinite(self.se)) or effect == null:
            return None
        k = (stats.norm.isf(alpha) + stats.norm.ppf(power)) * self.se / abs(effect - null)
        return max(2, math.ceil(self.n * k * k))
