"""Holm and Benjamini-Hochberg against statsmodels (applied to the gates of a run in tests/test_verdict.py)."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from harness.errors import ConfigError
from harness.stats import adjust_pvalues, benjamini_hochberg, holm

PVALUES = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04, 0.9, 0.0001]


def test_holm_matches_statsmodels() -> None:
    expected = multipletests(PVALUES, method="holm")[1]
    assert holm(PVALUES) == pytest.approx(tuple(expected), rel=1e-12)


def test_benjamini_hochberg_matches_statsmodels() -> None:
    expected = multipletests(PVALUES, method="fdr_bh")[1]
    assert benjamini_hochberg(PVALUES) == pytest.approx(tuple(expected), rel=1e-12)


def test_random_p_values_match_statsmodels() -> None:
    p = np.random.default_rng(0).uniform(size=40) ** 3
    assert adjust_pvalues(p, "holm") == pytest.approx(tuple(multipletests(p, method="holm")[1]), rel=1e-12)
    assert adjust_pvalues(p, "bh") == pytest.approx(tuple(multipletests(p, method="fdr_bh")[1]), rel=1e-12)


def test_bad_p_values_and_methods_are_refused() -> None:
    with pytest.raises(ConfigError, match="must be in"):
        holm([0.1, 1.2])
    with pytest.raises(ConfigError, match="holm"):
        adjust_pvalues([0.1], "bonferroni")  # type: ignore[arg-type]
