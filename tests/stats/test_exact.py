"""The exact unconditional paired test: against an independent enumeration, its size, and where the engine uses it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import gammaln, xlogy

from harness.stats import compare_paired, tango_score_statistic
from harness.stats.binary import EXACT_TEST, binary_evidence, exact_binary_evidence
from harness.stats.exact import EXACT_BELOW, GAMMA, exact_p_greater, exact_p_less, tango_statistics


def _enumerated_p(b: int, c: int, n: int, d0: float, gamma: float) -> float:
    """Independent: every (b', c') cell of the trinomial, scalar Tango statistics, a plain psi grid."""
    t_obs = tango_score_statistic(b, c, n, d0)
    cells = [(i, j) for i in range(n + 1) for j in range(n + 1 - i)]
    extreme = np.array(
        [(i, j) for i, j in cells if tango_score_statistic(i, j, n, d0) >= t_obs - 1e-9 * (1 + abs(t_obs))], dtype=float
    )
    i, j = extreme[:, 0], extreme[:, 1]
    log_coef = gammaln(n + 1) - gammaln(i + 1) - gammaln(j + 1) - gammaln(n - i - j + 1)
    m = b + c
    low, high = (0.0, 1.0) if gamma == 0 else (stats.beta.ppf(gamma / 2, m, n - m + 1) if m else 0.0, 1.0)
    if gamma:
        high = stats.beta.isf(gamma / 2, m + 1, n - m)
    best = 0.0
    for psi in np.linspace(max(low, abs(d0)), min(high, 1 - 1e-12), 2001):
        p10, p01 = (psi + d0) / 2, (psi - d0) / 2
        log_pmf = log_coef + xlogy(i, p10) + xlogy(j, p01) + (n - i - j) * math.log1p(-psi)
        best = max(best, float(np.exp(log_pmf).sum()))
    return best + gamma


@pytest.mark.parametrize(
    ("b", "c", "n", "d0"),
    [(0, 0, 105, -0.03), (0, 0, 40, -0.1), (3, 5, 40, -0.1), (6, 1, 30, -0.05), (2, 9, 50, 0.05)],
)
@pytest.mark.parametrize("gamma", [0.0, GAMMA])
def test_exact_p_matches_full_enumeration(b: int, c: int, n: int, d0: float, gamma: float) -> None:
    assert exact_p_greater(b, c, n, d0, gamma=gamma) == pytest.approx(_enumerated_p(b, c, n, d0, gamma), rel=2e-3)


def test_zero_discordance_tango_is_below_the_exact_p() -> None:
    # No item changed outcome at n = 105, margin 0.03: the worst boundary point is p01 = 0.03, p10 = 0, where
    # the data (and nothing more extreme) has probability 0.97^105; Tango's normal tail is smaller.
    tango = stats.norm.sf(tango_score_statistic(0, 0, 105, -0.03))
    exact = exact_p_greater(0, 0, 105, -0.03, gamma=0.0)
    assert tango == pytest.approx(0.0358, abs=1e-4)
    assert exact == pytest.approx(0.97**105, rel=1e-6)
    assert exact > tango


def test_rejection_region_is_monotone_so_the_boundary_is_the_worst_case() -> None:
    for n, d0 in ((30, -0.1), (105, -0.03), (60, 0.05)):
        i, j = np.tril_indices(n + 1)
        b, c = j.astype(float), (i - j).astype(float)  # all cells with b + c <= n
        z = tango_statistics(b, c, n, d0)
        grid = np.full((n + 1, n + 1), np.nan)
        grid[b.astype(int), c.astype(int)] = z
        # Increasing in b at fixed c, decreasing in c at fixed b (more improvements, fewer regressions).
        assert np.all(np.nan_to_num(np.diff(grid, axis=0), nan=1.0) > 0)
        assert np.all(np.nan_to_num(np.diff(grid, axis=1), nan=-1.0) < 0)
        scalar = [tango_score_statistic(int(x), int(y), n, d0) for x, y in zip(b[:50], c[:50], strict=True)]
        assert z[:50] == pytest.approx(scalar, rel=1e-12)


def test_exact_size_never_exceeds_alpha_where_tango_does() -> None:
    # n = 300, margin 0.02, discordance 0.02 (all regressions on the boundary): Tango's false-pass rate is above
    # alpha, the exact test's is not. Computed by enumerating the rejection region of each p-value.
    n, d0, psi = 300, -0.02, 0.02
    exact_rate = tango_rate = 0.0
    for m in range(0, 40):
        weight = stats.binom.pmf(m, n, psi)
        pi = (psi + d0) / (2 * psi)
        for b in range(m + 1):
            mass = weight * stats.binom.pmf(b, m, pi)
            if mass < 1e-14:
                continue
            exact_rate += mass * (exact_p_greater(b, m - b, n, d0) < 0.05)
            tango_rate += mass * (stats.norm.sf(tango_score_statistic(b, m - b, n, d0)) < 0.05)
    assert tango_rate > 0.055
    assert exact_rate <= 0.05


def test_exact_p_less_mirrors_p_greater() -> None:
    assert exact_p_less(2, 7, 60, 0.05) == pytest.approx(exact_p_greater(7, 2, 60, -0.05), rel=1e-12)


def test_engine_switches_to_exact_below_the_threshold_and_says_so() -> None:
    few = binary_evidence(3, 8, 105, alpha=0.05, p_candidate=0.5, p_reference=0.55)
    assert few.test_name_at(-0.05) == EXACT_TEST and few.test_name_at(0.0) == "exact McNemar"
    assert any("exact unconditional" in note for note in few.notes)
    assert few.p_greater(-0.2) == pytest.approx(exact_p_greater(3, 8, 105, -0.2), rel=1e-12)
    many = binary_evidence(EXACT_BELOW, 10, 870, alpha=0.05, p_candidate=0.5, p_reference=0.5)
    assert many.test_name_at(-0.05) == "Tango score"


def test_comparison_reports_the_exact_method_and_stays_consistent() -> None:
    cand = np.array([1] * 2 + [0] * 4 + [1] * 99)
    ref = np.array([0] * 2 + [1] * 4 + [1] * 99)
    c = compare_paired(cand, ref, kind="binary", margin=0.1)
    assert c.test == EXACT_TEST
    assert c.verdict == "PASS" and c.ci_low > -0.1 and c.p_value < 0.05
    assert c.p_value == pytest.approx(exact_p_greater(2, 4, 105, -0.1), rel=1e-12)
    assert any("exact unconditional" in r for r in c.reasons)
    # The exact interval is wider than Tango's at the same level: the price of exactness.
    tango_low = -0.1
    for d0 in np.linspace(-0.2, 0.0, 401):
        if stats.norm.sf(tango_score_statistic(2, 4, 105, d0)) >= 0.05:
            tango_low = d0
            break
    assert c.ci_low <= tango_low + 1e-3


@pytest.mark.parametrize("n", [5, 20, 401])
def test_every_pair_on_one_side_gives_an_interval_not_an_error(n: int) -> None:
    """b = n puts the estimate at 1, the edge of the open interval the exact test is defined on."""
    up = exact_binary_evidence(n, 0, n, alpha=0.05, p_candidate=1.0, p_reference=0.0)
    down = exact_binary_evidence(0, n, n, alpha=0.05, p_candidate=0.0, p_reference=1.0)
    assert 0.0 < up.ci_low < 1.0 and up.ci_high == pytest.approx(1.0)
    assert down.ci_high == pytest.approx(-up.ci_low) and down.ci_low == pytest.approx(-1.0)
