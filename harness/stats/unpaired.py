"""Two independent samples (an online A/B test's arms): proportions, means, and the sample-ratio check.

Differences are ``treatment - control``. Intervals are two-sided at level ``1 - 2 * alpha`` (each bound a
one-sided ``alpha`` bound, like the paired gates), and a non-inferiority claim with margin ``m`` is
``difference > -m`` when higher is better.

- Binary outcomes: the Newcombe hybrid score interval (method 10: two Wilson intervals combined), which keeps
  its coverage near 0 and 1 where the Wald interval does not; the Farrington-Manning score test of
  ``H0: difference <= -m`` is reported with it (the same family of score statistics).
- Numeric ratings: Welch's t (unequal variances), the test of the *mean* difference, which is what a margin in
  rating units is about; at production sample sizes the CLT makes it accurate even for 1-5 star ratings.
  Mann-Whitney U is reported beside it: it tests stochastic ordering, not the mean, so it cannot carry a
  margin on the mean and never decides.
- Sample ratio mismatch: Pearson's chi-square goodness of fit of the arm counts to the declared split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from harness.errors import DataError
from harness.stats.evidence import bounded_p
from harness.stats.intervals import wilson_interval
from harness.stats.validation import check_alpha

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class UnpairedResult:
    """``treatment - control`` with its interval and the non-inferiority decision at ``-margin``."""

    test: str
    treatment_value: float
    control_value: float
    estimate: float
    ci_low: float
    ci_high: float
    p_value: float  # of H0: difference <= -margin (higher is better)
    p_value_two_sided: float  # of "no difference"
    margin: float
    alpha: float
    verdict: Verdict
    secondary: dict[str, float]


def interval_verdict(ci_low: float, ci_high: float, null: float) -> Verdict:
    """Non-inferiority on an interval of a higher-is-better difference: PASS above ``null``, FAIL below."""
    return "PASS" if ci_low > null else "FAIL" if ci_high < null else "INCONCLUSIVE"


def newcombe_interval(x_t: int, n_t: int, x_c: int, n_c: int, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe's hybrid score interval for ``p_t - p_c`` (two-sided, level ``1 - alpha``)."""
    p_t, p_c = x_t / n_t, x_c / n_c
    l_t, u_t = wilson_interval(x_t, n_t, alpha)
    l_c, u_c = wilson_interval(x_c, n_c, alpha)
    d = p_t - p_c
    low = d - math.sqrt((p_t - l_t) ** 2 + (u_c - p_c) ** 2)
    high = d + math.sqrt((u_t - p_t) ** 2 + (p_c - l_c) ** 2)
    return max(-1.0, low), min(1.0, high)


def _fm_restricted(x_t: int, n_t: int, x_c: int, n_c: int, delta: float) -> tuple[float, float]:
    """Restricted MLEs of (p_t, p_c) under ``p_t - p_c == delta``: the closed-form root of the cubic in
    Miettinen & Nurminen (1985), written for the control's proportion."""
    n, x = n_t + n_c, x_t + x_c
    if delta == 0.0:
        return x / n, x / n
    l3 = float(n)
    l2 = (n_t + 2.0 * n_c) * delta - n - x
    l1 = (x_c * delta - n - 2.0 * x_c) * delta + x
    l0 = x_c * delta * (1.0 - delta)
    q = (l2 / (3.0 * l3)) ** 3 - l1 * l2 / (6.0 * l3**2) + l0 / (2.0 * l3)
    p = math.copysign(math.sqrt(max((l2 / (3.0 * l3)) ** 2 - l1 / (3.0 * l3), 0.0)), q)
    if p == 0.0:
        rc = -l2 / (3.0 * l3)
    else:
        a = (math.pi + math.acos(max(-1.0, min(1.0, q / p**3)))) / 3.0
        rc = 2.0 * p * math.cos(a) - l2 / (3.0 * l3)
    rc = min(1.0, max(0.0, rc))
    return min(1.0, max(0.0, rc + delta)), rc


def farrington_manning_p(x_t: int, n_t: int, x_c: int, n_c: int, delta: float) -> float:
    """One-sided score p-value of ``H0: p_t - p_c <= delta`` (Farrington-Manning; Miettinen-Nurminen without
    the n / (n - 1) factor)."""
    p_t, p_c = x_t / n_t, x_c / n_c
    rt, rc = _fm_restricted(x_t, n_t, x_c, n_c, delta)
    var = rt * (1.0 - rt) / n_t + rc * (1.0 - rc) / n_c
    diff = p_t - p_c - delta
    if var <= 0.0:
        return 0.0 if diff > 0 else 1.0
    return bounded_p(stats.norm.sf(diff / math.sqrt(var)))


def compare_proportions(x_t: int, n_t: int, x_c: int, n_c: int, *, margin: float, alpha: float) -> UnpairedResult:
    """Binary outcomes of two arms: Newcombe interval, Farrington-Manning p at ``-margin``, non-inferiority."""
    alpha = check_alpha(alpha)
    for x, n, arm in ((x_t, n_t, "treatment"), (x_c, n_c, "control")):
        if n < 1 or not 0 <= x <= n:
            raise DataError(f"{arm}: {x} successes out of {n} rows is impossible; each arm needs rows")
    low, high = newcombe_interval(x_t, n_t, x_c, n_c, 2 * alpha)
    p_two = 2.0 * min(
        farrington_manning_p(x_t, n_t, x_c, n_c, 0.0), 1.0 - farrington_manning_p(x_t, n_t, x_c, n_c, 0.0)
    )
    return UnpairedResult(
        test="Newcombe hybrid score interval (Farrington-Manning score p)",
        treatment_value=x_t / n_t,
        control_value=x_c / n_c,
        estimate=x_t / n_t - x_c / n_c,
        ci_low=low,
        ci_high=high,
        p_value=farrington_manning_p(x_t, n_t, x_c, n_c, -margin),
        p_value_two_sided=bounded_p(p_two),
        margin=margin,
        alpha=alpha,
        verdict=interval_verdict(low, high, -margin),
        secondary={},
    )


def compare_means(
    treatment: NDArray[np.float64], control: NDArray[np.float64], *, margin: float, alpha: float
) -> UnpairedResult:
    """Numeric ratings of two arms: Welch's t interval and test at ``-margin``; Mann-Whitney U beside it."""
    alpha = check_alpha(alpha)
    t, c = np.asarray(treatment, dtype=float), np.asarray(control, dtype=float)
    if t.size < 2 or c.size < 2:
        raise DataError(f"Welch's t needs at least 2 ratings per arm; got {t.size} (treatment) and {c.size} (control)")
    vt, vc = float(t.var(ddof=1)) / t.size, float(c.var(ddof=1)) / c.size
    se = math.sqrt(vt + vc)
    diff = float(t.mean() - c.mean())
    if se == 0.0:
        low = high = diff
        p_value = 0.0 if diff > -margin else 1.0
        p_two = 0.0 if diff != 0 else 1.0
    else:
        df = (vt + vc) ** 2 / (vt**2 / (t.size - 1) + vc**2 / (c.size - 1))
        half = float(stats.t.isf(alpha, df)) * se
        low, high = diff - half, diff + half
        p_value = bounded_p(stats.t.sf((diff + margin) / se, df))
        p_two = bounded_p(2.0 * stats.t.sf(abs(diff) / se, df))
    mw = stats.mannwhitneyu(t, c, alternative="two-sided")
    return UnpairedResult(
        test="Welch t",
        treatment_value=float(t.mean()),
        control_value=float(c.mean()),
        estimate=diff,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        p_value_two_sided=p_two,
        margin=margin,
        alpha=alpha,
        verdict=interval_verdict(low, high, -margin),
        secondary={"mann_whitney_u": float(mw.statistic), "mann_whitney_p_two_sided": bounded_p(mw.pvalue)},
    )


@dataclass(frozen=True)
class SampleRatio:
    counts: tuple[int, ...]
    expected_shares: tuple[float, ...]
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        return self.p_value < self.threshold


def sample_ratio_mismatch(counts: tuple[int, ...], shares: tuple[float, ...], threshold: float = 0.001) -> SampleRatio:
    """Chi-square goodness of fit of the arm counts to the declared traffic shares."""
    total = sum(counts)
    if total == 0 or len(counts) != len(shares) or len(counts) < 2:
        raise DataError(f"counts {counts} and shares {shares} must be two or more arms with rows")
    if any(s <= 0 for s in shares) or not math.isclose(sum(shares), 1.0, abs_tol=1e-9):
        raise DataError(f"declared split {shares} must be positive shares summing to 1")
    result = stats.chisquare(list(counts), [total * s for s in shares])
    return SampleRatio(counts, shares, float(result.statistic), bounded_p(result.pvalue), threshold)
