"""Corpus metrics: paired bootstrap and approximate randomization, against scipy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from scipy import stats

from harness.errors import DataError
from harness.stats import compare_paired
from harness.stats.clusters import ClusterResampler
from harness.stats.corpus import RecordTable, approximate_randomization


def mean_score(records: Sequence[tuple[float, str]]) -> float:
    return float(np.mean([score for score, _ in records]))


def corpus_f1(records: Sequence[tuple[int, int, int]]) -> float:
    tp = sum(r[0] for r in records)
    fp = sum(r[1] for r in records)
    fn = sum(r[2] for r in records)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


def test_exact_approximate_randomization_matches_scipy_permutation_test() -> None:
    cand = np.array([0.61, 0.42, 0.93, 0.55, 0.71, 0.38, 0.84, 0.66, 0.59])
    ref = np.array([0.52, 0.47, 0.81, 0.41, 0.69, 0.40, 0.70, 0.51, 0.63])
    table = RecordTable([(x, "a") for x in cand], [(x, "b") for x in ref])
    p, exact = approximate_randomization(
        table, mean_score, ClusterResampler(9, None), np.random.default_rng(0), n_resamples=1000
    )
    expected = stats.permutation_test(
        (cand, ref), lambda x, y: np.mean(x) - np.mean(y), permutation_type="samples", n_resamples=1000
    ).pvalue
    assert exact
    assert p == pytest.approx(expected, rel=1e-9)


def test_random_approximate_randomization_is_close_to_exact() -> None:
    rng = np.random.default_rng(5)
    cand, ref = rng.normal(0.1, 1, 14), rng.normal(0, 1, 14)
    table = RecordTable(cand.reshape(-1, 1), ref.reshape(-1, 1))

    def metric(rows: np.ndarray) -> float:
        return float(rows.mean())

    exact, was_exact = approximate_randomization(table, metric, ClusterResampler(14, None), rng, 2**14)
    approx, was_random = approximate_randomization(table, metric, ClusterResampler(14, None), rng, 4000)
    assert was_exact and not was_random
    assert approx == pytest.approx(exact, abs=0.02)


def test_corpus_bootstrap_of_a_mean_metric_matches_the_t_interval() -> None:
    rng = np.random.default_rng(9)
    item = rng.uniform(size=400)
    cand, ref = item + rng.normal(0.02, 0.1, 400), item + rng.normal(0, 0.1, 400)
    corpus = compare_paired(
        [(x, "") for x in cand],
        [(x, "") for x in ref],
        kind="corpus",
        metric=mean_score,
        n_resamples=4000,
        seed=3,
    )
    paired_t = compare_paired(cand, ref, kind="continuous")
    assert corpus.estimate == pytest.approx(paired_t.estimate, rel=1e-9)
    assert corpus.ci_low == pytest.approx(paired_t.ci_low, abs=0.002)
    assert corpus.ci_high == pytest.approx(paired_t.ci_high, abs=0.002)
    assert corpus.test == "paired bootstrap (percentile)"
    assert corpus.two_sided_test == "paired approximate randomization"


def _f1_records(rng: np.random.Generator, n: int, recall: float) -> list[tuple[int, int, int]]:
    gold = rng.poisson(3, n) + 1
    tp = rng.binomial(gold, recall)
    return [(int(t), int(f), int(g - t)) for t, f, g in zip(tp, rng.poisson(0.5, n), gold, strict=True)]


def test_corpus_f1_comparison_is_seeded_and_consistent() -> None:
    rng = np.random.default_rng(1)
    cand, ref = _f1_records(rng, 150, 0.75), _f1_records(rng, 150, 0.70)
    first = compare_paired(cand, ref, kind="corpus", metric=corpus_f1, margin=0.01, n_resamples=400, seed=4)
    again = compare_paired(cand, ref, kind="corpus", metric=corpus_f1, margin=0.01, n_resamples=400, seed=4)
    assert first == again
    assert first.candidate_value == pytest.approx(corpus_f1(cand), rel=1e-12)
    assert first.estimate == pytest.approx(corpus_f1(cand) - corpus_f1(ref), rel=1e-12)
    assert (first.verdict == "PASS") == (first.ci_low > -0.01) == (first.p_value < 0.05)


def test_numpy_records_reach_the_metric_as_arrays() -> None:
    seen: list[type] = []

    def metric(rows: np.ndarray) -> float:
        seen.append(type(rows))
        return float(rows[:, 0].mean())

    x = np.random.default_rng(0).uniform(size=(30, 2))
    compare_paired(x, x[::-1].copy(), kind="corpus", metric=metric, n_resamples=200)
    assert set(seen) == {np.ndarray}


def test_cluster_bootstrap_resamples_whole_clusters() -> None:
    codes = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    resampler = ClusterResampler(10, codes)
    units = resampler.draw_units(np.random.default_rng(0), 50)
    for row in units:
        items = resampler.items(row)
        assert items.size == np.bincount(codes)[row].sum()
        # Each drawn cluster contributes all of its items, once per draw.
        expected = np.bincount(codes, minlength=4) * np.bincount(row, minlength=4)
        assert np.array_equal(np.bincount(codes[items], minlength=4), expected)


def test_metric_that_breaks_on_a_resample_names_the_fix() -> None:
    def fragile(records: Sequence[tuple[float, str]]) -> float:
        return float("nan") if len({s for s, _ in records}) < 3 else 1.0

    with pytest.raises(DataError, match="defined for any non-empty subset"):
        compare_paired([(1.0, "")] * 5, [(2.0, "")] * 5, kind="corpus", metric=fragile, n_resamples=200)
