"""Repeated sampling: seeded repeats cached one by one, per-item means, pass@k, and tests whose n is items."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from scipy.special import comb

from harness.cache import ResultCache
from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.gates.paired import compare_tables
from harness.pool import build_pool
from harness.run import DecodingSettings
from harness.sampling import pass_at_k, pass_at_k_summary, repeat_seeds
from harness.scores import ScoreTable, table
from harness.scoring import Scorer
from harness.spec import load_suite


def _enumerated(n: int, c: int, k: int) -> float:
    """The share of k-subsets of n samples (c correct) that hold a correct one, by enumeration."""
    samples = [1] * c + [0] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_is_the_unbiased_estimator(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(_enumerated(n, c, k), abs=1e-12)
    for c, k in [(3, 10), (0, 7), (150, 100), (1, 1)]:
        assert pass_at_k(200, c, k) == pytest.approx(1 - comb(200 - c, k, exact=True) / comb(200, k, exact=True))
    with pytest.raises(ConfigError, match="1 <= k <= n"):
        pass_at_k(5, 2, 6)


def test_pass_at_k_summary_averages_items() -> None:
    rows = [(1.0, 0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 0.0, 0.0, 1.0), (0.0,) * 5]
    t = table("exact_match", ["a", "b", "c"], [float(np.mean(r)) for r in rows], samples=rows)
    summary = pass_at_k_summary(t)
    assert summary is not None and list(summary) == ["pass@1", "pass@2", "pass@5"]
    assert summary["pass@1"] == pytest.approx(np.mean([0.2, 0.6, 0.0]))
    assert summary["pass@2"] == pytest.approx(np.mean([_enumerated(5, c, 2) for c in (1, 3, 0)]))
    assert summary["pass@5"] == pytest.approx(2 / 3)
    assert pass_at_k_summary(table("rouge_l", ["a"], [0.5], samples=[(0.5, 0.5)])) is None, "binary only"
    assert ScoreTable.from_dict(json.loads(json.dumps(t.to_dict()))).rows == t.rows, "samples are stored"


def test_repeat_seeds_differ_and_are_reproducible() -> None:
    seeds = repeat_seeds(7, 5)
    assert seeds[0] == 7 and len(set(seeds)) == 5 and seeds == repeat_seeds(7, 5)
    assert repeat_seeds(7, 3) == seeds[:3], "adding repeats keeps the earlier ones (and their cache)"
    assert repeat_seeds(8, 5)[1:] != seeds[1:]


def test_repeats_without_a_temperature_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"identical greedy samples.*temperature: 0\.7"):
        DecodingSettings(repeats=4)
    (tmp_path / "test_r.yaml").write_text(
        "suite: r\ndecoding: {repeats: 3}\ngates: {f: {kind: forgetting, cases: fact}}\n"
    )
    with pytest.raises(ConfigError, match=r"test_r.yaml: decoding.*repeats=3 with temperature=0"):
        load_suite(tmp_path / "test_r.yaml")


def _paired_samples(n_items: int, k: int, seed: int = 3) -> tuple[ScoreTable, ScoreTable, np.ndarray, np.ndarray]:
    """k samples per item; the candidate got some items much easier and others much harder than the reference,
    so the differences of one item's samples share its shift (they are not independent)."""
    rng = np.random.default_rng(seed)
    ease = rng.uniform(0.2, 0.8, n_items)
    shift = rng.choice([-0.5, 0.5], n_items)
    cand = (rng.uniform(size=(n_items, k)) < (ease + shift)[:, None]).astype(float)
    ref = (rng.uniform(size=(n_items, k)) < ease[:, None]).astype(float)
    ids = [f"i{i}" for i in range(n_items)]

    def side(scores: np.ndarray) -> ScoreTable:
        return table("exact_match", ids, scores.mean(axis=1).tolist(), samples=[tuple(r) for r in scores])

    return side(cand), side(ref), cand, ref


def test_a_repeated_sampling_test_counts_items_not_samples() -> None:
    n_items, k = 60, 8
    cand, ref, cand_s, ref_s = _paired_samples(n_items, k)
    outcome = compare_tables("vs base", cand, ref, margin=0.1, alpha=0.05)
    check = outcome.check
    assert check.n == n_items
    d = cand_s.mean(axis=1) - ref_s.mean(axis=1)  # per-item mean differences: the item is the unit
    half = stats.t.isf(0.05, n_items - 1) * d.std(ddof=1) / np.sqrt(n_items)
    assert (check.ci_low, check.ci_high) == pytest.approx((d.mean() - half, d.mean() + half), rel=1e-9)
    flat = (cand_s - ref_s).ravel()  # the wrong analysis: n_items * k independent samples
    naive_half = stats.t.isf(0.05, flat.size - 1) * flat.std(ddof=1) / np.sqrt(flat.size)
    assert check.ci_high - check.ci_low > 1.5 * 2 * naive_half, "samples of one item are not independent evidence"
    passes = check.details["pass_at_k"]
    assert set(passes) == {"candidate", "reference"} and list(passes["candidate"]) == [
        "pass@1",
        "pass@2",
        "pass@5",
        "pass@8",
    ]
    assert passes["candidate"]["pass@1"] == pytest.approx(cand_s.mean())


def _cases(n: int) -> list[Case]:
    return [
        Case(f"c{i}", "fact", (Message("user", f"What is the capital of country {i}?"),), "Paris") for i in range(n)
    ]


def test_each_repeat_is_seeded_cached_and_recorded(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    pool = build_pool(str(tiny_adapter_dir), baseline=str(tiny_model_dir), base_model=str(tiny_model_dir))
    settings = DecodingSettings(max_new_tokens=4, batch_size=8, temperature=1.5, seed=11, repeats=3)
    cases = _cases(6)
    cache = ResultCache(tmp_path / "cache")
    scorer = Scorer(pool, cache, settings)
    scored = scorer.table("candidate", cases, "exact_match")
    assert scorer.computed["candidate"] == 3 * len(cases) and cache.misses == 3, "one cache entry per repeat"
    assert scored.provenance["repeat_seeds"] == list(repeat_seeds(11, 3))
    assert all(len(r.samples) == 3 and r.score == pytest.approx(np.mean(r.samples)) for r in scored.rows)
    runs = [scorer.generations("candidate", cases, r) for r in range(3)]
    assert runs[0] != runs[1] or runs[1] != runs[2], "repeats are drawn with different seeds"
    assert [r.output for r in scored.rows] == runs[0]

    again = Scorer(pool, cache, settings)
    again.table("candidate", cases, "exact_match")
    assert again.reused["candidate"] == 3 * len(cases) and not again.computed, "every repeat is served from the cache"
    fresh = Scorer(pool, ResultCache(tmp_path / "other-cache"), settings)
    assert [fresh.generations("candidate", cases, r) for r in range(3)] == runs, "the seeds make repeats reproducible"
