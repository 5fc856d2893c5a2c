"""Clustered items: CR1 standard errors, design effect, and the clustered decision paths."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats

from harness.stats import compare_paired, cr1_variance_of_mean, design_effect, tango_score_statistic


@pytest.fixture
def clustered() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    codes = np.repeat(np.arange(15), 4)
    d = 0.04 + rng.normal(0, 0.1, 15)[codes] + rng.normal(0, 0.1, 60)
    ref = rng.uniform(0.3, 0.7, 60)
    return ref + d, ref, codes


def test_cr1_variance_matches_statsmodels_cluster_robust_ols(clustered: tuple[np.ndarray, ...]) -> None:
    cand, ref, codes = clustered
    d = cand - ref
    fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    assert cr1_variance_of_mean(d, codes) == pytest.approx(fit.bse[0] ** 2, rel=1e-9)


def test_clustered_continuous_decision_uses_t_on_clusters(clustered: tuple[np.ndarray, ...]) -> None:
    cand, ref, codes = clustered
    d = cand - ref
    fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="cluster", cov_kwds={"groups": codes}, use_t=True)
    c = compare_paired(cand, ref, kind="continuous", clusters=[f"q{k}" for k in codes], margin=0.0, n_resamples=300)
    assert c.test == "cluster-robust t (CR1)"
    assert c.n_clusters == 15
    assert c.p_value_two_sided == pytest.approx(fit.pvalues[0], rel=1e-9)
    low, high = fit.conf_int(alpha=0.10)[0]
    assert (c.ci_low, c.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))


def test_singleton_clusters_reduce_to_the_paired_t(clustered: tuple[np.ndarray, ...]) -> None:
    cand, ref, _ = clustered
    plain = compare_paired(cand, ref, kind="continuous", n_resamples=300)
    singletons = compare_paired(cand, ref, kind="continuous", clusters=list(range(60)), n_resamples=300)
    assert singletons.ci_low == pytest.approx(plain.ci_low, rel=1e-12)
    assert singletons.p_value == pytest.approx(plain.p_value, rel=1e-9)
    assert design_effect(cand - ref, np.arange(60)) == pytest.approx(1.0, rel=1e-12)


def test_design_effect_grows_with_within_cluster_correlation() -> None:
    rng = np.random.default_rng(2)
    codes = np.repeat(np.arange(200), 5)
    independent = rng.normal(size=1000)
    shared = rng.normal(size=200)[codes] + 0.5 * rng.normal(size=1000)  # ICC 0.8, deff 1 + 4 * 0.8
    assert design_effect(independent, codes) == pytest.approx(1.0, abs=0.3)
    assert design_effect(shared, codes) == pytest.approx(4.2, rel=0.2)


def test_clustered_binary_divides_the_score_by_the_design_effect() -> None:
    rng = np.random.default_rng(4)
    codes = np.repeat(np.arange(40), 5)
    lean = rng.random(40)[codes]
    flips = rng.random(200) < 0.3
    up = rng.random(200) < lean
    ref = np.where(flips, ~up, rng.random(200) < 0.7).astype(int)
    cand = np.where(flips, up, ref).astype(int)
    c = compare_paired(cand, ref, kind="binary", clusters=codes, decision="superiority")
    b, cc = int(np.sum((cand == 1) & (ref == 0))), int(np.sum((cand == 0) & (ref == 1)))
    deff = design_effect((cand - ref).astype(float), codes)
    z = tango_score_statistic(b, cc, 200, 0.0) / np.sqrt(deff)
    assert c.test == "Tango score, Rao-Scott cluster-adjusted"
    assert c.p_value_two_sided == pytest.approx(2 * stats.t.sf(abs(z), 39), rel=1e-9)
    assert c.p_value == pytest.approx(stats.t.sf(z, 39), rel=1e-9)
    assert (c.n_improved, c.n_regressed) == (b, cc)


def test_clustered_binary_without_changes_stays_honest() -> None:
    # No discordance: the design effect falls back to the mean cluster size (n_eff = clusters),
    # so 10 clusters of 20 identical outcomes cannot pass a 2-point margin.
    outcome = np.tile([1, 0, 1, 1], 50)
    c = compare_paired(outcome, outcome, kind="binary", clusters=np.repeat(np.arange(10), 20), margin=0.02)
    assert c.verdict == "INCONCLUSIVE"
    assert c.ci_high > 0.02


def test_one_cluster_is_undecidable() -> None:
    c = compare_paired([1, 0, 1, 1], [0, 0, 1, 0], kind="binary", clusters=["a"] * 4, margin=0.1)
    assert c.verdict == "INCONCLUSIVE"
    assert (c.ci_low, c.ci_high) == (-1.0, 1.0)
    c = compare_paired([0.3, 0.5], [0.1, 0.2], kind="continuous", clusters=["a", "a"], margin=0.1)
    assert c.verdict == "INCONCLUSIVE"
