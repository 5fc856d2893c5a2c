"""Paired binary outcomes: exact McNemar and the Tango score interval for the difference.

Notation: ``b`` items went 0 -> 1 (candidate right, reference wrong), ``c`` went 1 -> 0, out of
``n``; the difference in proportions is ``(b - c) / n``.

The interval is built so that it agrees with the tests the decision uses:

* at the null ``0`` (no difference) the test is the exact McNemar binomial test on the ``b + c``
  discordant items;
* at any other null ``d0`` it is Tango's (1998) score test, whose inversion is the Tango interval.

One-sided p-values for composite nulls are the supremum over the null of these point tests, and
the reported interval is the convex hull of the nulls that are not rejected: the Tango interval,
widened to include 0 whenever exact McNemar cannot reject "no difference". So at every margin
``ci_low > d0`` holds exactly when ``p_greater(d0) < alpha``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from harness.stats.evidence import Evidence, bounded_p
from harness.stats.exact import EXACT_BELOW, exact_p_greater
from harness.stats.planning import BinaryPlanner, StandardErrorPlanner
from harness.stats.power import tango_restricted_p01
from harness.stats.validation import check_two_sided_alpha

_EDGE = 1e-12


def mcnemar_exact(n_improved: int, n_regressed: int, *, alternative: str = "two-sided") -> float:
    """Exact McNemar p-value: a binomial(b + c, 1/2) test on the discordant pairs.

    ``alternative="greater"`` tests whether the candidate improves more items than it regresses.
    With no discordant pairs there is no evidence either way and the p-value is 1.
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise ValueError(f"alternative={alternative!r} is unknown: use 'two-sided', 'greater' or 'less'")
    if n_improved < 0 or n_regressed < 0:
        raise ValueError(f"discordant counts must be >= 0, got {n_improved} and {n_regressed}")
    m = n_improved + n_regressed
    if m == 0:
        return 1.0
    return bounded_p(stats.binomtest(n_improved, m, 0.5, alternative=alternative).pvalue)


def tango_score_statistic(b: int, c: int, n: int, null: float) -> float:
    """Tango's score z for ``H0: difference == null``; positive when the data lie above the null."""
    numerator = b - c - n * null
    q = tango_restricted_p01(b, c, n, null)
    variance = n * (2.0 * q + null * (1.0 - null))
    if variance <= 0.0:
        # Only reachable at null == 0 with no discordant pairs, where the numerator is 0 as well.
        return 0.0 if numerator == 0 else math.copysign(math.inf, numerator)
    return numerator / math.sqrt(variance)


def _tango_bound(b: int, c: int, n: int, z: float, side: int) -> float:
    """The null at which the score statistic equals ``side * z`` (lower bound: side=+1)."""
    estimate = (b - c) / n
    end = -1.0 + _EDGE if side > 0 else 1.0 - _EDGE

    def f(d0: float) -> float:
        return tango_score_statistic(b, c, n, d0) - side * z

    if side * (estimate - end) <= 0.0 or f(end) * side <= 0.0:
        return -1.0 if side > 0 else 1.0
    lo, hi = (end, estimate) if side > 0 else (estimate, end)
    return float(optimize.brentq(f, lo, hi, xtol=1e-13, rtol=1e-13, maxiter=500))


def tango_score_interval(b: int, c: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided (1 - alpha) Tango score interval for the paired difference in proportions."""
    alpha = check_two_sided_alpha(alpha)
    if not (b >= 0 and c >= 0 and b + c <= n):
        raise ValueError(f"counts b={b}, c={c} do not fit n={n}: need 0 <= b, c and b + c <= n")
    z = float(stats.norm.isf(alpha / 2))
    return _tango_bound(b, c, n, z, +1), _tango_bound(b, c, n, z, -1)


def binary_evidence(b: int, c: int, n: int, *, alpha: float, p_candidate: float, p_reference: float) -> Evidence:
    """Unclustered paired binary evidence; interval level 1 - 2 * alpha (one-sided alpha bounds).

    Fewer than ``EXACT_BELOW`` discordant pairs: the exact unconditional test replaces Tango's.
    """
    if b + c < EXACT_BELOW:
        return exact_binary_evidence(b, c, n, alpha=alpha, p_candidate=p_candidate, p_reference=p_reference)
    z = float(stats.norm.isf(alpha))
    tango_low, tango_high = _tango_bound(b, c, n, z, +1), _tango_bound(b, c, n, z, -1)
    exact_greater = mcnemar_exact(b, c, alternative="greater")
    exact_less = mcnemar_exact(b, c, alternative="less")

    def p_greater(d0: float) -> float:
        tango = float(stats.norm.sf(tango_score_statistic(b, c, n, d0)))
        # H0: difference <= d0 contains the point 0 whenever d0 >= 0, tested exactly there.
        return bounded_p(max(tango, exact_greater) if d0 >= 0.0 else tango)

    def p_less(d0: float) -> float:
        tango = float(stats.norm.cdf(tango_score_statistic(b, c, n, d0)))
        return bounded_p(max(tango, exact_less) if d0 <= 0.0 else tango)

    ci_low = tango_low if exact_greater < alpha else min(tango_low, 0.0)
    ci_high = tango_high if exact_less < alpha else max(tango_high, 0.0)
    m = b + c
    planner = BinaryPlanner(n=n, discordance=m / n, description=f"the observed discordance rate {m / n:.1%}")
    notes = []
    if m == 0:
        notes.append(
            f"No item changed outcome ({n} concordant pairs), so the estimate is 0; the interval still "
            f"has width because up to {tango_high:.4f} of unseen items could differ at this n."
        )
    return Evidence(
        test="Tango score",
        estimate=(b - c) / n,
        ci_low=ci_low,
        ci_high=ci_high,
        p_greater=p_greater,
        p_less=p_less,
        p_two_sided=mcnemar_exact(b, c),
        two_sided_test="exact McNemar",
        candidate_value=p_candidate,
        reference_value=p_reference,
        planner=planner,
        notes=tuple(notes),
        test_at=lambda d0: "exact McNemar" if d0 == 0.0 else "Tango score",
        n_improved=b,
        n_regressed=c,
    )


EXACT_TEST = "exact unconditional (Berger-Boos)"


def _exact_raw_greater(b: int, c: int, n: int, d0: float) -> float:
    """Exact p of ``H0: difference <= d0``; the null 0 is tested by exact McNemar as in the Tango path."""
    if d0 == 0.0:
        return mcnemar_exact(b, c, alternative="greater")
    if d0 >= 1.0:  # no difference exceeds 1: the null always holds
        return 1.0
    p = exact_p_greater(b, c, n, max(d0, -1.0 + _EDGE))  # the test is defined on the open interval (-1, 1)
    return max(p, mcnemar_exact(b, c, alternative="greater")) if d0 > 0.0 else p


def _exact_lower_bound(b: int, c: int, n: int, alpha: float) -> float:
    """The smallest null the exact test does not reject (scanning up from -1): the interval's lower end."""
    p = lambda d0: _exact_raw_greater(b, c, n, d0)  # noqa: E731
    # p at the estimate (or at 0, by McNemar) is far above alpha; every pair in favour puts it at 1, outside the
    # open interval the exact test is defined on
    top = min(max((b - c) / n, 0.0), 1.0 - _EDGE)
    while p(top) < alpha and top < 1.0 - _EDGE:  # pragma: no cover - only for alpha near 0.5
        top = (top + 1.0) / 2.0
    start = _tango_bound(b, c, n, float(stats.norm.isf(alpha / 20.0)), +1)
    while p(start) >= alpha:
        if start <= -1.0 + 1e-9:
            return -1.0
        start = max(-1.0 + 1e-12, start - max(0.05, top - start))
    grid = np.linspace(start, top, 9)
    below = start
    for d0 in grid[1:]:
        if p(float(d0)) >= alpha:
            top = float(d0)
            break
        below = float(d0)
    if below < 0.0 < top and p(0.0) >= alpha:  # the step where McNemar takes over at 0: land on it exactly
        top = 0.0
    for _ in range(26):  # the crossing to within (top - start) / 8 / 2^26
        mid = (below + top) / 2.0
        if p(mid) >= alpha:
            top = mid
        else:
            below = mid
    return top


def exact_binary_evidence(b: int, c: int, n: int, *, alpha: float, p_candidate: float, p_reference: float) -> Evidence:
    """Paired binary evidence from the exact unconditional test (few discordant pairs).

    The interval is ``[L, U]`` with ``L`` the first null (from below) that the exact test does not
    reject and ``U`` its mirror image. The exact p-value is not monotone in the null (discreteness),
    so a null inside the interval counts as not rejected even where the point test dips below alpha:
    its p-value is reported as at least alpha. That keeps ``ci_low > d0`` exactly when
    ``p_greater(d0) < alpha``, as every engine guarantees.
    """
    ci_low = _exact_lower_bound(b, c, n, alpha)
    ci_high = -_exact_lower_bound(c, b, n, alpha)

    def p_greater(d0: float) -> float:
        raw = _exact_raw_greater(b, c, n, d0)
        return bounded_p(raw if d0 < ci_low else max(raw, alpha))

    def p_less(d0: float) -> float:
        raw = _exact_raw_greater(c, b, n, -d0)
        return bounded_p(raw if d0 > ci_high else max(raw, alpha))

    m = b + c
    planner = BinaryPlanner(n=n, discordance=m / n, description=f"the observed discordance rate {m / n:.1%}")
    notes = [
        f"Only {m} discordant pairs (fewer than {EXACT_BELOW}): the margin is tested with the exact unconditional "
        f"test (Tango-ordered, Berger-Boos nuisance interval), not Tango's normal approximation, which is "
        f"anti-conservative with few discordant pairs."
    ]
    return Evidence(
        test=EXACT_TEST,
        estimate=(b - c) / n,
        ci_low=ci_low,
        ci_high=ci_high,
        p_greater=p_greater,
        p_less=p_less,
        p_two_sided=mcnemar_exact(b, c),
        two_sided_test="exact McNemar",
        candidate_value=p_candidate,
        reference_value=p_reference,
        planner=planner,
        notes=tuple(notes),
        test_at=lambda d0: "exact McNemar" if d0 == 0.0 else EXACT_TEST,
        n_improved=b,
        n_regressed=c,
    )


def clustered_binary_evidence(
    b: int,
    c: int,
    n: int,
    *,
    deff: float,
    n_clusters: int,
    alpha: float,
    p_candidate: float,
    p_reference: float,
    se: float,
) -> Evidence:
    """Tango score test with a Rao-Scott design-effect correction, referred to t with G - 1 df."""
    df = n_clusters - 1
    if df < 1 or not math.isfinite(deff):
        return _undecidable(b, c, n, p_candidate, p_reference, "only one cluster: nothing varies between units")
    scale = math.sqrt(deff)

    def stat(d0: float) -> float:
        return tango_score_statistic(b, c, n, d0) / scale

    def p_greater(d0: float) -> float:
        return bounded_p(stats.t.sf(stat(d0), df))

    def p_less(d0: float) -> float:
        return bounded_p(stats.t.cdf(stat(d0), df))

    z = float(stats.t.isf(alpha, df)) * scale
    ci_low, ci_high = _tango_bound(b, c, n, z, +1), _tango_bound(b, c, n, z, -1)
    planner = StandardErrorPlanner(n=n, se=se, description=f"the cluster-robust standard error {se:.4g}")
    return Evidence(
        test="Tango score, Rao-Scott cluster-adjusted",
        estimate=(b - c) / n,
        ci_low=ci_low,
        ci_high=ci_high,
        p_greater=p_greater,
        p_less=p_less,
        p_two_sided=bounded_p(2.0 * stats.t.sf(abs(stat(0.0)), df)),
        two_sided_test="Tango score, Rao-Scott cluster-adjusted",
        candidate_value=p_candidate,
        reference_value=p_reference,
        planner=planner,
        secondary=(),
        notes=(f"Items share clusters: design effect {deff:.2f} over {n_clusters} clusters (t with {df} df).",),
        n_improved=b,
        n_regressed=c,
    )


def _undecidable(b: int, c: int, n: int, p_candidate: float, p_reference: float, why: str) -> Evidence:
    """No inference possible: the difference can be anywhere in [-1, 1]."""
    return Evidence(
        test="Tango score, Rao-Scott cluster-adjusted",
        estimate=(b - c) / n,
        ci_low=-1.0,
        ci_high=1.0,
        p_greater=lambda d0: 1.0,
        p_less=lambda d0: 1.0,
        p_two_sided=1.0,
        two_sided_test="Tango score, Rao-Scott cluster-adjusted",
        candidate_value=p_candidate,
        reference_value=p_reference,
        planner=None,
        notes=(f"No conclusion is possible ({why}); pass at least 2 clusters, 30 or more for a gate.",),
        n_improved=b,
        n_regressed=c,
    )
