"""One-proportion intervals and the safety-rate gate."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from harness.errors import ConfigError, DataError
from harness.stats import (
    check_rate,
    clopper_pearson_interval,
    wilson_interval,
    zero_failure_required_n,
    zero_failure_upper_bound,
)

CASES = [(0, 20), (1, 20), (3, 300), (17, 40), (299, 300), (300, 300), (5, 5000)]


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_matches_statsmodels(k: int, n: int, alpha: float) -> None:
    low, high = proportion_confint(k, n, alpha=alpha, method="wilson")
    got = wilson_interval(k, n, alpha)
    assert got[0] == pytest.approx(low, rel=1e-9, abs=1e-15)
    assert got[1] == pytest.approx(high, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("k", "n"), CASES)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_clopper_pearson_matches_statsmodels(k: int, n: int, alpha: float) -> None:
    low, high = proportion_confint(k, n, alpha=alpha, method="beta")
    got = clopper_pearson_interval(k, n, alpha)
    assert got[0] == pytest.approx(low, rel=1e-9, abs=1e-15)
    assert got[1] == pytest.approx(high, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("n", [1, 10, 100, 299, 3000])
def test_zero_failure_bound_is_the_exact_rule_of_three(n: int) -> None:
    bound = zero_failure_upper_bound(n, 0.05)
    assert bound == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-12)
    assert bound == pytest.approx(clopper_pearson_interval(0, n, 0.10)[1], rel=1e-9)
    assert stats.binom.pmf(0, n, bound) == pytest.approx(0.05, rel=1e-9)


def test_zero_failure_bound_approaches_three_over_n() -> None:
    # n * bound -> -ln(alpha) = 2.996: the "rule of three".
    assert zero_failure_upper_bound(30000, 0.05) * 30000 == pytest.approx(-math.log(0.05), rel=1e-4)
    assert zero_failure_upper_bound(30000, 0.05) * 30000 == pytest.approx(3.0, rel=0.002)


def test_zero_failure_required_n() -> None:
    # ln(0.05) / ln(0.99) = 298.07: 299 clean items show a failure rate below 1%.
    assert zero_failure_required_n(0.01, 0.05) == 299
    assert zero_failure_upper_bound(299) < 0.01 <= zero_failure_upper_bound(298)


def test_check_rate_verdicts() -> None:
    assert check_rate(0, 300, bound=0.01, direction="at_most").verdict == "PASS"
    assert check_rate(0, 200, bound=0.01, direction="at_most").verdict == "INCONCLUSIVE"
    assert check_rate(12, 200, bound=0.01, direction="at_most").verdict == "FAIL"
    assert check_rate(299, 300, bound=0.95, direction="at_least").verdict == "PASS"
    assert check_rate(180, 200, bound=0.95, direction="at_least").verdict == "FAIL"
    inconclusive = check_rate(0, 200, bound=0.01, direction="at_most")
    assert any("299 items" in r for r in inconclusive.reasons)


def test_check_rate_p_value_and_interval_agree_everywhere() -> None:
    for n in (20, 150):
        for k in range(0, n + 1, max(1, n // 30)):
            for bound in (0.01, 0.05, 0.3, 0.9):
                for direction in ("at_most", "at_least"):
                    r = check_rate(k, n, bound=bound, direction=direction, alpha=0.05)
                    assert (r.verdict == "PASS") == (r.p_value < 0.05), (k, n, bound, direction)
                    tail = "less" if direction == "at_most" else "greater"
                    assert r.p_value == pytest.approx(stats.binomtest(k, n, bound, alternative=tail).pvalue, rel=1e-9)


def test_bad_inputs_name_the_problem() -> None:
    with pytest.raises(DataError, match="between 0 and n"):
        wilson_interval(5, 3)
    with pytest.raises(DataError, match="positive integer"):
        clopper_pearson_interval(0, 0)
    with pytest.raises(ConfigError, match="strictly between 0 and 1"):
        check_rate(1, 10, bound=1.5, direction="at_most")
    with pytest.raises(ConfigError, match="at_most"):
        check_rate(1, 10, bound=0.5, direction="below")  # type: ignore[arg-type]
    assert math.isfinite(zero_failure_upper_bound(1))
