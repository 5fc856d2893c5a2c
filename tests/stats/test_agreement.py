"""Krippendorff's alpha: the published example, the library on ordinal data, and the undefined cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.stats.agreement import krippendorff_alpha

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 3 raters (rows), 15 units,
# NaN where a rater gave no value. The paper reports alpha = 0.691 (nominal) and 0.811 (interval).
NAN = math.nan
EXAMPLE = [
    [NAN, NAN, NAN, NAN, NAN, 3, 4, 1, 2, 1, 1, 3, 3, NAN, 3],
    [1, NAN, 2, 1, 3, 3, 4, 3, NAN, NAN, NAN, NAN, NAN, NAN, NAN],
    [NAN, NAN, 2, 1, 3, 4, 4, NAN, 2, 1, 1, 3, 3, NAN, 4],
]


def _as_ratings(matrix: list[list[float]]) -> dict[tuple[str, int], float]:
    return {(f"r{i}", j): v for i, row in enumerate(matrix) for j, v in enumerate(row) if not math.isnan(v)}


def test_the_published_example() -> None:
    nominal = krippendorff_alpha(_as_ratings(EXAMPLE), level="nominal")
    interval = krippendorff_alpha(_as_ratings(EXAMPLE), level="interval")
    assert nominal.alpha == pytest.approx(0.691, abs=5e-4)
    assert interval.alpha == pytest.approx(0.811, abs=5e-4)
    assert (nominal.raters, nominal.units, nominal.pairable_units) == (3, 13, 12)


def test_ordinal_alpha_matches_the_library_on_the_same_matrix() -> None:
    import krippendorff

    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, size=40)
    matrix = np.clip(truth + rng.integers(-1, 2, size=(4, 40)), 1, 5).astype(float)
    matrix[0, :5] = np.nan  # a rater who skipped some items
    ratings = {(f"r{i}", j): matrix[i, j] for i in range(4) for j in range(40) if not np.isnan(matrix[i, j])}
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="ordinal", value_domain=[1, 2, 3, 4, 5])
    got = krippendorff_alpha(ratings, level="ordinal", domain=(1, 2, 3, 4, 5)).alpha
    assert got == pytest.approx(expected, rel=1e-12)
    assert 0.5 < got < 1.0


def test_one_rater_leaves_alpha_undefined_and_says_why() -> None:
    agreement = krippendorff_alpha({("solo", j): j % 3 for j in range(10)}, level="nominal")
    assert agreement.alpha is None
    assert "two raters" in agreement.note and "undefined" in agreement.describe()


def test_unanimity_without_variation_leaves_alpha_undefined() -> None:
    # two raters marking everything alike say nothing about reliability: the human gate's floor must not pass
    agreement = krippendorff_alpha({(r, j): 1 for r in ("a", "b") for j in range(5)}, level="nominal")
    assert agreement.alpha is None and "no variation" in agreement.note


def test_random_raters_agree_at_chance() -> None:
    rng = np.random.default_rng(0)
    ratings = {(r, j): int(rng.integers(0, 3)) for r in ("a", "b", "c") for j in range(300)}
    assert abs(krippendorff_alpha(ratings, level="nominal").alpha or 0.0) < 0.1
