"""compare_paired: validation, decisions, orientation, degenerate inputs, and self-consistency."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pytest
from scipy import stats

from harness.errors import ConfigError, DataError
from harness.stats import Comparison, compare_paired, mcnemar_exact, tango_score_interval
from harness.stats.exact import GAMMA


def _binary_pair(n: int, improved: int, regressed: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ref = (rng.random(n) < 0.75).astype(int)
    cand = ref.copy()
    wrong, right = np.flatnonzero(ref == 0), np.flatnonzero(ref == 1)
    cand[wrong[:improved]] = 1
    cand[right[:regressed]] = 0
    return cand, ref


# ---------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"candidate": [1, 0, 1], "reference": [1, 0]},
            DataError,
            "candidate has 3 items but reference has 2",
        ),
        ({"candidate": [], "reference": []}, DataError, "empty"),
        ({"candidate": [1, 0, 2], "reference": [1, 0, 1]}, DataError, 'item 2 is 2.0 but kind="binary"'),
        ({"candidate": [1, 0, 0.5], "reference": [1, 0, 1]}, DataError, "item 2"),
        ({"candidate": [1, float("nan")], "reference": [1, 0]}, DataError, "item 1 is nan"),
        (
            {"candidate": [1, 0], "reference": [1, 0], "kind": "ordinal"},
            ConfigError,
            "kind='ordinal' is unknown",
        ),
        ({"candidate": [1, 0], "reference": [1, 0], "alpha": 0.7}, ConfigError, "alpha=0.7"),
        ({"candidate": [1, 0], "reference": [1, 0], "margin": -0.1}, ConfigError, "non-negative"),
        (
            {"candidate": [1, 0], "reference": [1, 0], "decision": "equivalence"},
            ConfigError,
            "needs margin > 0",
        ),
        ({"candidate": [1, 0], "reference": [1, 0], "decision": "better"}, ConfigError, "decision='better'"),
        (
            {"candidate": [1, 0], "reference": [1, 0], "metric": len},
            ConfigError,
            'only used with kind="corpus"',
        ),
        ({"candidate": [1, 0], "reference": [1, 0], "kind": "corpus"}, ConfigError, "needs metric="),
        ({"candidate": [1, 0], "reference": [1, 0], "clusters": ["a"]}, DataError, "clusters has 1 ids"),
        ({"candidate": [1, 0], "reference": [1, 0], "clusters": ["a", None]}, DataError, "item 1 is None"),
        ({"candidate": [1, 0], "reference": [1, 0], "n_resamples": 10}, ConfigError, "n_resamples=10"),
    ],
)
def test_bad_input_raises_a_value_error_naming_the_problem(kwargs: dict, error: type, match: str) -> None:
    args = {"kind": "binary", **kwargs}
    with pytest.raises(error, match=match) as info:
        compare_paired(args.pop("candidate"), args.pop("reference"), **args)
    assert isinstance(info.value, ValueError)


def test_continuous_nan_names_side_and_item() -> None:
    with pytest.raises(DataError, match="reference score of item 2 is inf"):
        compare_paired([0.1, 0.2, 0.3], [0.1, 0.2, float("inf")], kind="continuous")


# ---------------------------------------------------------------- binary decisions
def test_binary_non_inferiority_reports_tango_and_mcnemar() -> None:
    cand, ref = _binary_pair(870, improved=40, regressed=45)
    c = compare_paired(cand, ref, kind="binary", margin=0.03)
    low, high = tango_score_interval(40, 45, 870, alpha=0.10)
    assert c.test == "Tango score"
    assert (c.n_improved, c.n_regressed) == (40, 45)
    assert c.estimate == pytest.approx(-5 / 870, rel=1e-12)
    assert (c.ci_low, c.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert c.p_value_two_sided == pytest.approx(mcnemar_exact(40, 45), rel=1e-12)
    assert c.verdict == "PASS"
    assert c.candidate_value == pytest.approx(cand.mean()) and c.reference_value == pytest.approx(ref.mean())


def test_binary_superiority_at_margin_zero_is_exact_mcnemar() -> None:
    cand, ref = _binary_pair(500, improved=30, regressed=14)
    c = compare_paired(cand, ref, kind="binary", decision="superiority")
    assert c.test == "exact McNemar"
    assert c.p_value == pytest.approx(stats.binomtest(30, 44, 0.5, alternative="greater").pvalue, rel=1e-9)
    assert c.verdict == "PASS"


def test_binary_regression_fails_and_lower_is_better_mirrors_it() -> None:
    cand, ref = _binary_pair(400, improved=5, regressed=40)
    worse = compare_paired(cand, ref, kind="binary", margin=0.02)
    assert worse.verdict == "FAIL"
    # The same data as a rate where lower is better (1 - outcome): same verdict, mirrored numbers.
    mirrored = compare_paired(1 - cand, 1 - ref, kind="binary", margin=0.02, higher_is_better=False)
    assert mirrored.verdict == "FAIL"
    assert mirrored.estimate == pytest.approx(-worse.estimate, rel=1e-12)
    assert mirrored.ci_low == pytest.approx(-worse.ci_high, rel=1e-9)
    assert mirrored.p_value == pytest.approx(worse.p_value, rel=1e-9)
    assert (mirrored.n_improved, mirrored.n_regressed) == (5, 40)


def test_identical_binary_outcomes() -> None:
    cand, ref = _binary_pair(870, 0, 0)
    zero = compare_paired(cand, ref, kind="binary", margin=0.0)
    assert zero.estimate == 0.0 and zero.verdict == "INCONCLUSIVE"
    # No discordant pair: the exact path. Its bound solves (1 - U)^n + gamma = alpha (the worst boundary point
    # puts all discordance on one side, where only "no change" is as extreme), wider than Tango's z^2 / (n + z^2).
    assert zero.test == "exact McNemar"
    assert zero.ci_high == pytest.approx(1 - (0.05 - GAMMA) ** (1 / 870), rel=1e-6)
    assert zero.ci_high > stats.norm.isf(0.05) ** 2 / (870 + stats.norm.isf(0.05) ** 2)
    assert compare_paired(cand, ref, kind="binary", margin=0.01).verdict == "PASS"
    # Ten identical items say little: up to ~21% of items could differ.
    small = compare_paired(cand[:10], ref[:10], kind="binary", margin=0.05)
    assert small.verdict == "INCONCLUSIVE"


def test_small_n_is_inconclusive_with_planning_numbers() -> None:
    cand, ref = _binary_pair(40, improved=3, regressed=2)
    c = compare_paired(cand, ref, kind="binary", margin=0.05)
    assert c.verdict == "INCONCLUSIVE"
    assert c.mde is not None and c.required_n is not None and c.required_n > 40
    assert any("MDE" in r for r in c.reasons)
    assert any(f"about {c.required_n} items" in r for r in c.reasons)


# ---------------------------------------------------------------- decisions and the CI definition
def test_equivalence_is_tost_on_the_90_percent_interval() -> None:
    rng = np.random.default_rng(8)
    item = rng.uniform(size=500)
    c = compare_paired(
        item + rng.normal(0.002, 0.05, 500),
        item,
        kind="continuous",
        decision="equivalence",
        margin=0.02,
        n_resamples=300,
    )
    assert c.ci_level == pytest.approx(0.90)
    assert c.verdict == "PASS"
    assert c.ci_low > -0.02 and c.ci_high < 0.02
    assert c.p_value < 0.05


def _random_case(rng: np.random.Generator, kind: str) -> tuple[Any, Any, dict[str, Any]]:
    n = int(rng.integers(5, 120))
    if kind == "binary":
        ref = (rng.random(n) < 0.7).astype(int)
        flip = rng.random(n) < rng.uniform(0, 0.3)
        cand = np.where(flip, 1 - ref, ref)
        return cand, ref, {}
    shift = rng.normal(0, 0.05)
    ref = rng.uniform(size=n)
    cand = ref + rng.normal(shift, rng.uniform(0.01, 0.2), n)
    if kind == "continuous":
        return cand, ref, {}
    return (
        list(zip(cand, ref, strict=True)),
        list(zip(ref, ref, strict=True)),
        {"metric": lambda rs: float(np.mean([a for a, _ in rs])), "n_resamples": 200},
    )


@pytest.mark.parametrize("kind", ["binary", "continuous", "corpus"])
def test_verdict_interval_and_p_value_never_contradict(kind: str) -> None:
    rng = np.random.default_rng({"binary": 1, "continuous": 2, "corpus": 3}[kind])
    for _ in range(40 if kind != "corpus" else 12):
        cand, ref, extra = _random_case(rng, kind)
        decision = str(rng.choice(["non_inferiority", "superiority", "equivalence"]))
        margin = float(rng.choice([0.0, 0.01, 0.05])) if decision != "equivalence" else 0.05
        hib = bool(rng.random() < 0.5)
        clusters = rng.integers(0, 8, len(cand)) if (kind != "corpus" and rng.random() < 0.3) else None
        c = compare_paired(
            cand,
            ref,
            kind=kind,
            decision=decision,
            margin=margin,
            higher_is_better=hib,
            clusters=clusters,
            **extra,
        )
        s = 1.0 if hib else -1.0
        bad_bound = c.ci_low if hib else c.ci_high
        if decision == "non_inferiority":
            assert (c.verdict == "PASS") == (s * bad_bound > -margin) == (c.p_value < 0.05)
            assert (c.verdict == "FAIL") == (s * (c.ci_high if hib else c.ci_low) < -margin)
        elif decision == "superiority":
            assert (c.verdict == "PASS") == (s * bad_bound > margin) == (c.p_value < 0.05)
        else:
            assert (c.verdict == "PASS") == (-margin < c.ci_low and c.ci_high < margin) == (c.p_value < 0.05)
        assert c.ci_low <= c.estimate <= c.ci_high or kind == "corpus"


def test_comparison_is_frozen_serialisable_and_self_checking() -> None:
    cand, ref = _binary_pair(200, improved=12, regressed=3)
    c = compare_paired(cand, ref, kind="binary", margin=0.02)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.verdict = "FAIL"  # type: ignore[misc]
    payload = json.loads(json.dumps(c.to_dict()))
    assert payload["verdict"] == c.verdict and payload["n_improved"] == 12
    assert isinstance(payload["reasons"], list) and all(isinstance(r, str) for r in payload["reasons"])
    with pytest.raises(ValueError, match="PASS contradicts"):
        dataclasses.replace(c, verdict="PASS", ci_low=-0.5)
    assert isinstance(c, Comparison)


def test_one_item_per_cluster_is_no_clustering_for_binary_outcomes() -> None:
    # 100 singleton clusters, no discordant pair: the exact small-sample path decides, as without clusters.
    same = [1] * 40 + [0] * 60
    kwargs: dict[str, Any] = {"kind": "binary", "decision": "non_inferiority", "margin": 0.05}
    plain = compare_paired(same, same, **kwargs)
    singletons = compare_paired(same, same, clusters=[f"c{i}" for i in range(100)], **kwargs)
    paired = compare_paired(same, same, clusters=[f"c{i // 2}" for i in range(100)], **kwargs)
    assert singletons.test == plain.test == "exact unconditional (Berger-Boos)"
    assert (singletons.ci_low, singletons.p_value) == (plain.ci_low, plain.p_value)
    assert paired.test.startswith("Tango score, Rao-Scott")
