"""The sign test on paired preferences: against scipy and statsmodels, its decisions, and its calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from harness.errors import ConfigError
from harness.stats.preference import preference_test, sign_test_evidence


def test_p_values_and_interval_match_scipy_and_statsmodels() -> None:
    test = preference_test(31, 17, 12, margin=0.05, alpha=0.05)
    assert test.p_value == pytest.approx(stats.binomtest(31, 48, 0.45, alternative="greater").pvalue, rel=1e-12)
    assert test.p_value_two_sided == pytest.approx(stats.binomtest(31, 48, 0.5).pvalue, rel=1e-12)
    low, high = proportion_confint(31, 48, alpha=0.10, method="beta")
    assert (0.5 + test.ci_low, 0.5 + test.ci_high) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))
    assert test.verdict == "PASS" and test.n == 60 and test.decided == 48
    assert "12 ties (dropped" in test.reasons[0]


@pytest.mark.parametrize(("wins", "losses"), [(0, 9), (3, 9), (5, 5), (9, 3), (9, 0), (40, 25)])
def test_the_interval_is_the_inversion_of_the_test(wins: int, losses: int) -> None:
    alpha = 0.05
    evidence = sign_test_evidence(wins, losses, alpha=alpha)
    for d0 in np.linspace(-0.49, 0.49, 99):
        assert (evidence.p_greater(d0) < alpha) == (evidence.ci_low > d0 + 1e-12) or abs(evidence.ci_low - d0) < 1e-9
        assert (evidence.p_less(d0) < alpha) == (evidence.ci_high < d0 - 1e-12) or abs(evidence.ci_high - d0) < 1e-9


def test_verdicts() -> None:
    assert preference_test(5, 40, 5, margin=0.05, alpha=0.05).verdict == "FAIL"
    undecided = preference_test(12, 10, 3, margin=0.05, alpha=0.05)
    assert undecided.verdict == "INCONCLUSIVE"
    assert any("decided (non-tied) items would decide" in r for r in undecided.reasons)
    all_ties = preference_test(0, 0, 20, margin=0.05, alpha=0.05)
    assert all_ties.verdict == "INCONCLUSIVE" and all_ties.share is None
    with pytest.raises(ConfigError, match=r"below 0\.5"):
        preference_test(1, 1, 0, margin=0.5, alpha=0.05)


def _exact_size(decided: int, alpha: float) -> float:
    """P(the one-sided sign test rejects | no preference), summed over the binomial."""
    ks = np.arange(decided + 1)
    reject = np.array([stats.binomtest(int(k), decided, 0.5, alternative="greater").pvalue < alpha for k in ks])
    return float(stats.binom.pmf(ks, decided, 0.5)[reject].sum())


def test_the_exact_size_never_exceeds_alpha() -> None:
    assert max(_exact_size(m, 0.05) for m in range(1, 121)) <= 0.05


ROUNDS = 200


def test_random_ratings_claim_a_difference_no_more_often_than_alpha() -> None:
    """200 rounds of 100 items, 3 raters each choosing candidate / reference / tie at random: the claims that
    the candidate is better (superiority PASS) or worse (non-inferiority at margin 0 FAIL) are each at most
    alpha = 0.05 of the rounds, and together at most the two-sided alpha 0.10."""
    rng = np.random.default_rng(20240613)
    alpha, better, worse = 0.05, 0, 0
    for _ in range(ROUNDS):
        votes = rng.integers(-1, 2, size=(100, 3)).sum(axis=1)  # each rater: -1 reference, 0 tie, +1 candidate
        wins, losses = int((votes > 0).sum()), int((votes < 0).sum())
        ties = 100 - wins - losses
        better += preference_test(wins, losses, ties, margin=0.0, alpha=alpha, decision="superiority").verdict == "PASS"
        worse += preference_test(wins, losses, ties, margin=0.0, alpha=alpha).verdict == "FAIL"
    rates = f"'better' claimed {better / ROUNDS:.3f}, 'worse' {worse / ROUNDS:.3f}"
    print(f"\nno real preference, {ROUNDS} rounds: {rates}")
    assert better / ROUNDS <= alpha and worse / ROUNDS <= alpha
