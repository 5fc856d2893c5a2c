"""Paired continuous scores: paired t (primary), Wilcoxon and bootstrap (reported)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.weightstats import DescrStatsW

from harness.stats import compare_paired, wilcoxon_signed_rank
from harness.stats.bootstrap import PercentileDistribution, bootstrap_means
from harness.stats.clusters import ClusterResampler


@pytest.fixture
def scores() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    item = rng.uniform(0.2, 0.8, 60)
    return item + rng.normal(0.03, 0.1, 60), item + rng.normal(0.0, 0.1, 60)


def _secondary(comparison: object, prefix: str) -> object:
    return next(s for s in comparison.secondary if s.name.startswith(prefix))  # type: ignore[attr-defined]


def test_paired_t_matches_statsmodels_and_scipy(scores: tuple[np.ndarray, np.ndarray]) -> None:
    cand, ref = scores
    c = compare_paired(cand, ref, kind="continuous", margin=0.02, alpha=0.05)
    d = DescrStatsW(cand - ref)
    low, high = d.tconfint_mean(alpha=0.10)  # two-sided 90% = one-sided 5% bounds
    assert c.test == "paired t"
    assert (c.ci_low, c.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert c.p_value == pytest.approx(d.ttest_mean(-0.02, alternative="larger")[1], rel=1e-9)
    assert c.p_value_two_sided == pytest.approx(stats.ttest_rel(cand, ref).pvalue, rel=1e-9)
    assert c.estimate == pytest.approx(float(np.mean(cand - ref)), rel=1e-12)


def test_lower_is_better_uses_the_upper_bound(scores: tuple[np.ndarray, np.ndarray]) -> None:
    cand, ref = scores
    c = compare_paired(-cand, -ref, kind="continuous", margin=0.02, higher_is_better=False)
    d = DescrStatsW(ref - cand)
    assert c.p_value == pytest.approx(d.ttest_mean(0.02, alternative="smaller")[1], rel=1e-9)


def _wilcoxon_exact_by_enumeration(d: np.ndarray) -> float:
    """Exact one-sided (greater) signed-rank p-value by listing all 2^n sign patterns."""
    ranks = stats.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    hits = sum(1 for signs in itertools.product((0, 1), repeat=d.size) if (ranks * np.array(signs)).sum() >= observed)
    return hits / 2**d.size


def test_wilcoxon_matches_exact_enumeration() -> None:
    d = np.array([0.12, -0.05, 0.31, 0.07, -0.21, 0.44, 0.16, 0.02, -0.09, 0.27, 0.35, 0.11])
    assert wilcoxon_signed_rank(d, alternative="greater") == pytest.approx(_wilcoxon_exact_by_enumeration(d), rel=1e-9)


def test_wilcoxon_with_a_margin_shifts_the_differences() -> None:
    d = np.array([0.12, -0.05, 0.31, 0.07, -0.21, 0.44, 0.16, 0.02, -0.09, 0.27, 0.35, 0.11])
    expected = _wilcoxon_exact_by_enumeration(d + 0.1)
    assert wilcoxon_signed_rank(d, shift=-0.1, alternative="greater") == pytest.approx(expected, rel=1e-9)
    c = compare_paired(d, np.zeros_like(d), kind="continuous", margin=0.1)
    assert _secondary(c, "Wilcoxon").p_value == pytest.approx(expected, rel=1e-9)  # type: ignore[attr-defined]


def test_bootstrap_interval_agrees_with_scipy_bootstrap(scores: tuple[np.ndarray, np.ndarray]) -> None:
    cand, ref = scores
    d = cand - ref
    dist = PercentileDistribution(bootstrap_means(d, ClusterResampler(d.size, None), np.random.default_rng(1), 20_000))
    low, high = dist.bounds(0.05)
    ref_ci = stats.bootstrap(
        (d,),
        np.mean,
        confidence_level=0.90,
        method="percentile",
        n_resamples=20_000,
        rng=np.random.default_rng(2),
    ).confidence_interval
    assert low == pytest.approx(ref_ci.low, abs=0.002)
    assert high == pytest.approx(ref_ci.high, abs=0.002)
    assert dist.se() == pytest.approx(np.std(d, ddof=0) / np.sqrt(d.size), rel=0.03)


def test_bootstrap_bounds_and_p_values_are_exact_inversions() -> None:
    dist = PercentileDistribution(np.random.default_rng(3).normal(size=1999))
    low, high = dist.bounds(0.05)
    for d0 in np.linspace(-3, 3, 601):
        assert (low > d0) == (dist.p_greater(d0) < 0.05)
        assert (high < d0) == (dist.p_less(d0) < 0.05)


def test_reported_bootstrap_is_seeded(scores: tuple[np.ndarray, np.ndarray]) -> None:
    cand, ref = scores
    first = compare_paired(cand, ref, kind="continuous", seed=11, n_resamples=500)
    again = compare_paired(cand, ref, kind="continuous", seed=11, n_resamples=500)
    other = compare_paired(cand, ref, kind="continuous", seed=12, n_resamples=500)
    assert first == again
    assert _secondary(first, "paired bootstrap") != _secondary(other, "paired bootstrap")


def test_identical_scores_give_a_degenerate_interval() -> None:
    x = np.linspace(0.1, 0.9, 50)
    passed = compare_paired(x, x, kind="continuous", margin=0.01)
    assert (passed.estimate, passed.ci_low, passed.ci_high, passed.verdict) == (0.0, 0.0, 0.0, "PASS")
    at_zero = compare_paired(x, x, kind="continuous", margin=0.0)
    assert at_zero.verdict == "INCONCLUSIVE"
    assert any("identical models cannot pass" in r for r in at_zero.reasons)


def test_constant_shift_is_decided_without_variance() -> None:
    x = np.linspace(0.1, 0.9, 20)
    c = compare_paired(x - 0.05, x, kind="continuous", margin=0.01)
    assert (c.ci_low, c.ci_high) == (pytest.approx(-0.05), pytest.approx(-0.05))
    assert c.verdict == "FAIL"


def test_one_item_is_inconclusive_with_an_unbounded_interval() -> None:
    c = compare_paired([0.7], [0.5], kind="continuous", margin=0.05)
    assert c.verdict == "INCONCLUSIVE"
    assert c.ci_low == -np.inf and c.ci_high == np.inf
    assert c.mde is None and c.required_n is None
    assert c.to_dict()["ci_low"] is None
