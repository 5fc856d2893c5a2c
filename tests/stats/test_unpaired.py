"""Two-sample statistics against statsmodels / scipy computed independently."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats import proportion
from statsmodels.stats.power import zt_ind_solve_power

from harness.errors import DataError
from harness.stats.power import required_n_unpaired
from harness.stats.unpaired import (
    compare_means,
    compare_proportions,
    farrington_manning_p,
    newcombe_interval,
    sample_ratio_mismatch,
)


@pytest.mark.parametrize(("x_t", "n_t", "x_c", "n_c"), [(45, 100, 50, 100), (0, 30, 3, 40), (199, 200, 180, 210)])
def test_newcombe_matches_statsmodels(x_t: int, n_t: int, x_c: int, n_c: int) -> None:
    expected = proportion.confint_proportions_2indep(x_t, n_t, x_c, n_c, method="newcomb", compare="diff", alpha=0.1)
    assert newcombe_interval(x_t, n_t, x_c, n_c, 0.1) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("x_t", "n_t", "x_c", "n_c", "delta"), [(45, 100, 50, 100, -0.05), (80, 120, 70, 110, -0.1)])
def test_farrington_manning_matches_the_uncorrected_score_test(
    x_t: int, n_t: int, x_c: int, n_c: int, delta: float
) -> None:
    expected = proportion.test_proportions_2indep(
        x_t, n_t, x_c, n_c, value=delta, method="score", compare="diff", alternative="larger", correction=False
    ).pvalue
    assert farrington_manning_p(x_t, n_t, x_c, n_c, delta) == pytest.approx(expected, rel=1e-6)


def test_proportions_decide_on_the_interval() -> None:
    same = compare_proportions(4000, 5000, 4010, 5000, margin=0.03, alpha=0.05)
    assert same.verdict == "PASS" and same.ci_low > -0.03 and same.p_value < 0.05
    worse = compare_proportions(3500, 5000, 4000, 5000, margin=0.03, alpha=0.05)
    assert worse.verdict == "FAIL" and worse.ci_high < -0.03


def test_welch_matches_scipy_with_the_margin_as_a_shift() -> None:
    rng = np.random.default_rng(1)
    t, c = rng.normal(3.9, 1.0, 80), rng.normal(4.0, 1.6, 120)
    result = compare_means(t, c, margin=0.2, alpha=0.05)
    expected = stats.ttest_ind(t + 0.2, c, equal_var=False, alternative="greater")
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9)
    ci = stats.ttest_ind(t, c, equal_var=False).confidence_interval(0.90)
    assert (result.ci_low, result.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-9)
    assert result.secondary["mann_whitney_p_two_sided"] == pytest.approx(stats.mannwhitneyu(t, c).pvalue, rel=1e-9)


def test_sample_ratio_mismatch_is_pearson_chi_square() -> None:
    srm = sample_ratio_mismatch((5200, 4800), (0.5, 0.5))
    assert srm.chi2 == pytest.approx(16.0) and srm.p_value == pytest.approx(stats.chi2.sf(16.0, 1), rel=1e-9)
    assert srm.mismatch
    assert not sample_ratio_mismatch((9010, 990), (0.9, 0.1)).mismatch
    with pytest.raises(DataError, match="summing to 1"):
        sample_ratio_mismatch((1, 2), (0.5, 0.6))


def test_required_n_unpaired_matches_statsmodels_power() -> None:
    # Equal variances, equal split: N = 2 * nobs1 of the one-sided two-sample z-test.
    nobs1 = zt_ind_solve_power(effect_size=0.1 / 1.0, alpha=0.05, power=0.8, ratio=1.0, alternative="larger")
    assert required_n_unpaired(1.0, 1.0, 0.1) == int(np.ceil(2 * nobs1 - 1e-9))
