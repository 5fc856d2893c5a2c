"""Holm and Benjamini-Hochberg against statsmodels, and joint re-decision of gates."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from harness.errors import ConfigError
from harness.stats import adjust_comparisons, adjust_pvalues, benjamini_hochberg, compare_paired, holm

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


def _gate_with_t(rng: np.random.Generator, t_value: float) -> object:
    """A continuous gate whose paired t statistic is exactly ``t_value`` (margin 0)."""
    item = rng.uniform(size=300)
    diff = rng.normal(0, 0.1, 300)
    diff += t_value * diff.std(ddof=1) / np.sqrt(300) - diff.mean()
    return compare_paired(item + diff, item, kind="continuous", n_resamples=300)


def test_adjusting_gates_downgrades_marginal_passes() -> None:
    rng = np.random.default_rng(3)
    gates = [_gate_with_t(rng, 6.0), _gate_with_t(rng, 1.9), _gate_with_t(rng, 1.8)]
    assert [g.verdict for g in gates] == ["PASS", "PASS", "PASS"]  # type: ignore[attr-defined]
    adjusted = adjust_comparisons(gates, "holm")  # type: ignore[arg-type]
    assert [a.verdict for a in adjusted] == ["PASS", "INCONCLUSIVE", "INCONCLUSIVE"]
    expected = multipletests([g.p_value for g in gates], method="holm")[1]  # type: ignore[attr-defined]
    assert [a.p_value_adjusted for a in adjusted] == pytest.approx(list(expected), rel=1e-12)
    assert "Holm" in adjusted[1].reasons[-1]
    # Benjamini-Hochberg is less strict: the largest p-value is not inflated.
    assert adjust_comparisons(gates, "bh")[2].verdict == "PASS"  # type: ignore[arg-type]
