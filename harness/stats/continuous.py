"""Paired continuous scores (ROUGE-L per item, log-likelihood): paired t, Wilcoxon, bootstrap.

The primary test is the paired t on the per-item differences: the gate's margin is in the units
of the mean difference, the t interval and t-test are exact inversions of each other, and the
calibration study shows it holds its level at eval-suite sizes. Wilcoxon signed-rank (a test of
location shift / pseudo-median, shifted by the margin) and the paired bootstrap interval for the
mean difference are reported alongside and never change the verdict.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from harness.stats.bootstrap import PercentileDistribution, bootstrap_means
from harness.stats.clusters import ClusterResampler, gate_variance_of_mean
from harness.stats.decision import OneSided
from harness.stats.evidence import Evidence, PFunction, Planner, SecondaryTest, bounded_p
from harness.stats.planning import ContinuousPlanner, StandardErrorPlanner


class TParts(NamedTuple):
    ci_low: float
    ci_high: float
    p_greater: PFunction
    p_less: PFunction


def _never(d0: float) -> float:
    return 1.0


def t_parts(mean: float, se: float, df: float, alpha: float) -> TParts:
    """Interval and one-sided p-values of a t statistic; degenerate cases stay consistent.

    * df < 1 (one item, or one cluster): nothing can be concluded, the interval is unbounded;
    * se == 0 (every difference identical): the interval collapses to the mean, and a null is
      rejected exactly when it lies strictly on the other side of it.
    """
    if not df >= 1 or math.isnan(se):
        return TParts(-math.inf, math.inf, _never, _never)
    if se == 0.0:
        return TParts(mean, mean, lambda d0: 0.0 if mean > d0 else 1.0, lambda d0: 0.0 if mean < d0 else 1.0)
    half = float(stats.t.isf(alpha, df)) * se
    return TParts(
        mean - half,
        mean + half,
        lambda d0: bounded_p(stats.t.sf((mean - d0) / se, df)),
        lambda d0: bounded_p(stats.t.cdf((mean - d0) / se, df)),
    )


def wilcoxon_signed_rank(d: NDArray[np.float64], *, shift: float = 0.0, alternative: str = "two-sided") -> float:
    """Wilcoxon signed-rank p-value for ``H0: location of d == shift`` (zeros dropped, Wilcox rule).

    With every shifted difference exactly zero there is no evidence either way: p = 1.
    """
    shifted = np.asarray(d, dtype=float) - shift
    if not np.any(shifted != 0.0):
        return 1.0
    return bounded_p(stats.wilcoxon(shifted, alternative=alternative, zero_method="wilcox").pvalue)


def _wilcoxon(d: NDArray[np.float64], hypotheses: tuple[OneSided, ...]) -> SecondaryTest:
    decision_p = max(wilcoxon_signed_rank(d, shift=h.null, alternative=h.side) for h in hypotheses)
    shifts = ", ".join(f"{h.null:+g}" for h in hypotheses)
    return SecondaryTest(
        name="Wilcoxon signed-rank",
        p_value=decision_p,
        p_value_two_sided=wilcoxon_signed_rank(d),
        note=f"location-shift test; decision p-value with differences shifted by {shifts}",
    )


def _bootstrap(
    d: NDArray[np.float64],
    codes: NDArray[np.int64] | None,
    hypotheses: tuple[OneSided, ...],
    *,
    alpha: float,
    seed: int,
    n_resamples: int,
) -> SecondaryTest:
    resampler = ClusterResampler(d.size, codes)
    dist = PercentileDistribution(bootstrap_means(d, resampler, np.random.default_rng(seed), n_resamples))
    low, high = dist.bounds(alpha)
    decision_p = max(dist.p_greater(h.null) if h.side == "greater" else dist.p_less(h.null) for h in hypotheses)
    return SecondaryTest(
        name="paired cluster bootstrap (percentile)" if codes is not None else "paired bootstrap (percentile)",
        p_value=decision_p,
        p_value_two_sided=dist.p_two_sided(),
        ci_low=low,
        ci_high=high,
        note=f"{n_resamples} resamples; interval for the mean difference at the same level",
    )


def continuous_evidence(
    cand: NDArray[np.float64],
    ref: NDArray[np.float64],
    *,
    codes: NDArray[np.int64] | None,
    alpha: float,
    seed: int,
    n_resamples: int,
    hypotheses: tuple[OneSided, ...],
) -> Evidence:
    """Paired t (or cluster-robust t) evidence; Wilcoxon and bootstrap reported as secondary.

    ``hypotheses`` are the decision's PASS hypotheses, so the secondary tests report the p-value
    of the same claim (Wilcoxon with the differences shifted by the margin).
    """
    d = cand - ref
    n = d.size
    mean = float(d.mean())
    constant = bool(np.ptp(d) <= 1e-12 * max(float(np.max(np.abs(d))), 1e-300))  # equal up to rounding
    notes: list[str] = []
    planner: Planner
    if codes is None:
        sd = 0.0 if (constant and n > 1) else float(np.std(d, ddof=1)) if n > 1 else math.nan
        se, df, test = sd / math.sqrt(n), float(n - 1), "paired t"
        planner = ContinuousPlanner(
            n=n, sd_diff=0.0 if math.isnan(sd) else sd, description=f"the observed SD of differences {sd:.4g}"
        )
    else:
        g = int(codes.max()) + 1
        se = math.sqrt(gate_variance_of_mean(d, codes)) if g > 1 else math.nan
        df, test = float(g - 1), "cluster-robust t (CR1)"
        planner = StandardErrorPlanner(n=n, se=se, description=f"the cluster-robust standard error {se:.4g}")
        notes.append(f"Items share clusters: {g} clusters, t with {g - 1} df on the CR1 standard error.")
    if constant and df >= 1:
        se = 0.0
    parts = t_parts(mean, se, df, alpha)
    if df >= 1 and se == 0.0:
        notes.append(
            f"All {n} differences equal {mean:.6g}: the interval is degenerate, [{mean:.6g}, {mean:.6g}]. "
            f"It reflects no observed variation; up to {1 - alpha ** (1 / n):.1%} of unseen items could "
            "still differ (exact zero-failure bound)."
        )
    if df < 1:
        notes.append(
            "Too few independent units to estimate a variance (need at least 2 items, or 2 clusters): "
            "no conclusion is possible."
        )
    secondary: list[SecondaryTest] = []
    if codes is None:
        secondary.append(_wilcoxon(d, hypotheses))
    else:
        notes.append("Wilcoxon signed-rank is not reported: it assumes independent items, and items share clusters.")
    if n > 1:
        secondary.append(_bootstrap(d, codes, hypotheses, alpha=alpha, seed=seed, n_resamples=n_resamples))
    return Evidence(
        test=test,
        estimate=mean,
        ci_low=parts.ci_low,
        ci_high=parts.ci_high,
        p_greater=parts.p_greater,
        p_less=parts.p_less,
        p_two_sided=bounded_p(2.0 * min(parts.p_greater(0.0), parts.p_less(0.0))),
        two_sided_test=test,
        candidate_value=float(cand.mean()),
        reference_value=float(ref.mean()),
        planner=planner,
        secondary=tuple(secondary),
        notes=tuple(notes),
    )
