"""Bootstrap quantile tests: the verdict agrees with the interval, and clear cases are decided."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.errors import DataError
from harness.stats.quantiles import paired_quantile_log_ratio, unpaired_quantile_difference


def test_paired_log_ratio_of_a_clearly_slower_candidate_fails() -> None:
    rng = np.random.default_rng(0)
    ref = rng.lognormal(mean=-3, sigma=0.3, size=60)
    result = paired_quantile_log_ratio(ref * 2.0, ref, q=0.95, null=math.log(1.1))
    assert result.estimate == pytest.approx(math.log(2.0))
    assert result.verdict == "FAIL" and result.ci_low > math.log(1.1)


def test_paired_log_ratio_of_an_equal_candidate_passes() -> None:
    rng = np.random.default_rng(0)
    ref = rng.lognormal(mean=-3, sigma=0.3, size=60)
    cand = ref * rng.lognormal(0, 0.02, size=60)
    result = paired_quantile_log_ratio(cand, ref, q=0.5, null=math.log(1.1))
    assert result.verdict == "PASS" and result.ci_high < math.log(1.1) and result.p_value < 0.05


def test_unpaired_difference_is_decided_against_the_scaled_control() -> None:
    rng = np.random.default_rng(2)
    control, slower = rng.gamma(4, 50, 500), rng.gamma(4, 50, 500) * 1.5
    fail = unpaired_quantile_difference(slower, control, q=0.5, scale=1.1)
    assert fail.verdict == "FAIL"
    assert fail.estimate == pytest.approx(np.quantile(slower, 0.5) - 1.1 * np.quantile(control, 0.5))
    same = unpaired_quantile_difference(rng.gamma(4, 50, 500), control, q=0.5, scale=1.2)
    assert same.verdict == "PASS" and same.ci_high < 0


def test_bad_inputs_are_named() -> None:
    with pytest.raises(DataError, match="non-positive time"):
        paired_quantile_log_ratio([0.1, 0.0], [0.1, 0.2], q=0.5, null=0.1)
    with pytest.raises(DataError, match=r"quantile q=1\.5"):
        unpaired_quantile_difference([1.0, 2.0], [1.0, 2.0], q=1.5)
