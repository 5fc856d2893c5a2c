"""Paired binary: exact McNemar, Tango's score statistic and interval, and their consistency."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.contingency_tables import mcnemar

from harness.stats import mcnemar_exact, tango_score_interval, tango_score_statistic
from harness.stats.binary import binary_evidence


@pytest.mark.parametrize(("b", "c"), [(15, 22), (0, 5), (7, 7), (40, 20), (1, 0), (60, 31)])
def test_mcnemar_exact_two_sided_matches_statsmodels(b: int, c: int) -> None:
    table = [[100, b], [c, 50]]
    assert mcnemar_exact(b, c) == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)


@pytest.mark.parametrize(("b", "c"), [(15, 22), (3, 12), (9, 2)])
def test_mcnemar_exact_one_sided_is_the_binomial_tail(b: int, c: int) -> None:
    m = b + c
    upper = sum(math.comb(m, k) for k in range(b, m + 1)) / 2**m
    lower = sum(math.comb(m, k) for k in range(0, b + 1)) / 2**m
    assert mcnemar_exact(b, c, alternative="greater") == pytest.approx(upper, rel=1e-9)
    assert mcnemar_exact(b, c, alternative="less") == pytest.approx(lower, rel=1e-9)


def test_mcnemar_exact_without_discordant_pairs_is_uninformative() -> None:
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 0, alternative="greater") == 1.0


def _score_by_numerical_mle(b: int, c: int, n: int, d0: float) -> float:
    """Independent Tango statistic: maximise the multinomial likelihood under p10 = p01 + d0."""
    m = n - b - c

    def negloglik(p01: float) -> float:
        p10 = p01 + d0
        rest = 1.0 - p10 - p01
        return -(b * math.log(p10) + c * math.log(p01) + m * math.log(rest))

    lo = max(0.0, -d0) + 1e-12
    hi = (1.0 - d0) / 2.0 - 1e-12
    p01 = optimize.minimize_scalar(negloglik, bounds=(lo, hi), method="bounded", options={"xatol": 1e-14}).x
    var = (p01 + d0) + p01 - d0**2  # variance of one item's difference under the restricted fit
    return (b - c - n * d0) / math.sqrt(n * var)


@pytest.mark.parametrize(
    ("b", "c", "n", "d0"),
    [(40, 20, 160, 0.05), (40, 20, 160, -0.1), (3, 9, 50, 0.1), (12, 30, 870, -0.02), (5, 1, 30, 0.3)],
)
def test_tango_statistic_matches_restricted_mle_found_numerically(b: int, c: int, n: int, d0: float) -> None:
    assert tango_score_statistic(b, c, n, d0) == pytest.approx(_score_by_numerical_mle(b, c, n, d0), rel=1e-6)


def test_tango_statistic_at_zero_is_the_mcnemar_z() -> None:
    assert tango_score_statistic(30, 18, 500, 0.0) == pytest.approx((30 - 18) / math.sqrt(48), rel=1e-12)


@pytest.mark.parametrize(("b", "c", "n"), [(40, 20, 160), (1, 7, 21), (0, 5, 100), (25, 25, 400)])
def test_tango_interval_inverts_the_score_test(b: int, c: int, n: int) -> None:
    low, high = tango_score_interval(b, c, n, alpha=0.05)
    z = stats.norm.isf(0.025)
    assert tango_score_statistic(b, c, n, low) == pytest.approx(z, rel=1e-7)
    assert tango_score_statistic(b, c, n, high) == pytest.approx(-z, rel=1e-7)
    assert low < (b - c) / n < high


def test_tango_interval_with_no_discordant_pairs_has_closed_form() -> None:
    # With b = c = 0 the score equation gives |d| = z^2 / (n + z^2): a Wilson-like bound at zero.
    n, z = 870, stats.norm.isf(0.05)
    low, high = tango_score_interval(0, 0, n, alpha=0.10)
    assert high == pytest.approx(z**2 / (n + z**2), rel=1e-9)
    assert low == pytest.approx(-(z**2) / (n + z**2), rel=1e-9)


@pytest.mark.parametrize(("n", "p10", "p01"), [(40, 0.15, 0.10), (40, 0.05, 0.05), (30, 0.10, 0.20)])
def test_tango_interval_has_nominal_exact_coverage_at_small_n(n: int, p10: float, p01: float) -> None:
    # Exact coverage by enumerating every (b, c) table: Tango's interval stays close to 95%.
    coverage = 0.0
    for b in range(n + 1):
        for c in range(n + 1 - b):
            prob = stats.multinomial.pmf([b, c, n - b - c], n, [p10, p01, 1 - p10 - p01])
            if prob > 1e-12:
                low, high = tango_score_interval(b, c, n, alpha=0.05)
                coverage += prob * (low <= p10 - p01 <= high)
    assert 0.935 <= coverage <= 0.965


@pytest.mark.parametrize("alpha", [0.05, 0.025])
def test_binary_interval_and_p_values_never_disagree(alpha: float) -> None:
    nulls = np.linspace(-0.3, 0.3, 61)
    for b in range(0, 13, 3):
        for c in range(0, 13, 4):
            ev = binary_evidence(b, c, 60, alpha=alpha, p_candidate=0.5, p_reference=0.5)
            for d0 in [*nulls, 0.0]:
                assert (ev.ci_low > d0) == (ev.p_greater(d0) < alpha), (b, c, d0)
                assert (ev.ci_high < d0) == (ev.p_less(d0) < alpha), (b, c, d0)


def test_interval_includes_zero_when_exact_mcnemar_cannot_reject() -> None:
    # 4 improved, 0 regressed: the asymptotic score test rejects "no difference" (z = 2.0) but
    # the exact one-sided p is 1/16 > 0.05, so the interval must reach 0.
    ev = binary_evidence(4, 0, 100, alpha=0.05, p_candidate=0.54, p_reference=0.5)
    assert stats.norm.sf(tango_score_statistic(4, 0, 100, 0.0)) < 0.05
    assert mcnemar_exact(4, 0, alternative="greater") == pytest.approx(1 / 16)
    assert ev.ci_low == 0.0
    assert ev.p_greater(0.0) == pytest.approx(1 / 16)
    assert ev.test_name_at(0.0) == "exact McNemar"
    assert ev.test_name_at(-0.02) == "exact unconditional (Berger-Boos)"  # 4 discordant pairs: the exact path
