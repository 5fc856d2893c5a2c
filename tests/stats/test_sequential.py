"""The betting confidence sequence: predictable bets, wealth, interval/decision consistency, and its calibration."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from harness.errors import ConfigError, DataError
from harness.stats.sequential import ConfidenceSequence, bets, log_wealth, sequential_compare

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "calibrate_stats.py"


def _calibration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_stats", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_stats"] = module
    spec.loader.exec_module(module)
    return module


def test_bets_are_predictable_and_match_the_plug_in_formula() -> None:
    rng = np.random.default_rng(0)
    z = rng.random(40)
    lam = bets(z, 0.05)
    changed = z.copy()
    changed[20] = 1.0 - z[20]
    assert np.array_equal(bets(changed, 0.05)[:21], lam[:21]), "bet 21 (index 20) must not see item 21"
    # Independent loop: mu and sigma^2 from the items before t (Waudby-Smith & Ramdas 2023, PrPl).
    mus, sq = [0.5], 0.0
    for t in range(1, 41):
        var_before = 0.25 if t == 1 else (0.25 + sq) / t
        expected = min(math.sqrt(2 * math.log(20) / (var_before * t * math.log(1 + t))), 0.5)
        assert lam[t - 1] == pytest.approx(expected, rel=1e-12)
        sq += (z[t - 1] - mus[-1]) ** 2
        mus.append((0.5 + z[:t].sum()) / (t + 1))


def test_wealth_is_the_product_of_the_bets() -> None:
    z = np.array([0.5, 1.0, 0.0, 1.0, 1.0])
    lam = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    expected = np.cumprod(1 + lam * (z - 0.3))
    assert np.exp(log_wealth(z, lam, 0.3, +1)) == pytest.approx(expected, rel=1e-12)
    assert np.exp(log_wealth(z, lam, 0.3, -1)) == pytest.approx(np.cumprod(1 - lam * (z - 0.3)), rel=1e-12)


def test_interval_and_decision_agree() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        d = rng.choice([-1.0, 0.0, 1.0], size=int(rng.integers(50, 400)), p=[0.04, 0.9, 0.06])
        r = sequential_compare(d, low=-1, high=1, margin=0.03, alpha=0.05)
        cs = ConfidenceSequence(d, low=-1, high=1, alpha=0.05)
        assert (r.verdict == "PASS") == (r.ci_low > -0.03)
        assert (r.verdict == "FAIL") == (r.ci_high < -0.03)
        assert r.ci_low <= r.estimate <= r.ci_high or r.ci_low == r.ci_high
        assert (r.p_value < 0.05) == (cs.peak(-0.03, +1) >= math.log(20))


def test_a_clear_improvement_passes_early_and_a_regression_fails() -> None:
    rng = np.random.default_rng(1)
    good = rng.choice([-1.0, 0.0, 1.0], size=300, p=[0.02, 0.78, 0.2])
    assert sequential_compare(good, low=-1, high=1, margin=0.02).verdict == "PASS"
    bad = -good
    assert sequential_compare(bad, low=-1, high=1, margin=0.02).verdict == "FAIL"
    few = good[:5]
    assert sequential_compare(few, low=-1, high=1, margin=0.02).verdict == "INCONCLUSIVE"


def test_randomized_final_look_uses_u_and_only_at_the_end() -> None:
    d = np.zeros(300)  # identical models: the wealth against "worse by 0.03" grows slowly
    undecided = sequential_compare(d, low=-1, high=1, margin=0.03)
    assert undecided.verdict == "INCONCLUSIVE"
    lucky = sequential_compare(d, low=-1, high=1, margin=0.03, final=True, u=0.001)
    assert lucky.verdict == "PASS" and lucky.randomized and lucky.p_value < 0.05
    unlucky = sequential_compare(d, low=-1, high=1, margin=0.03, final=True, u=1.0)
    assert unlucky.verdict == "INCONCLUSIVE" and not unlucky.randomized


def test_bad_inputs_name_the_item_and_the_fix() -> None:
    with pytest.raises(DataError, match=r"item 2 is 1\.5, outside the declared bounds"):
        sequential_compare([0.0, 0.1, 1.5], low=-1, high=1)
    with pytest.raises(ConfigError, match="bounds"):
        sequential_compare([0.0], low=1, high=-1)
    with pytest.raises(ConfigError, match="Uniform"):
        sequential_compare([0.0], low=-1, high=1, final=True, u=0.0)


def test_fast_rule_of_the_calibration_is_the_engine_looked_at_every_item() -> None:
    calib = _calibration()
    rng = np.random.default_rng(5)
    for _ in range(3):
        d = rng.choice([-1.0, 0.0, 1.0], size=120, p=[0.08, 0.86, 0.06])
        verdict, used = calib.sequential_rule(d, None, margin=0.02)
        for t in range(1, d.size + 1):
            r = sequential_compare(d[:t], low=-1, high=1, margin=0.02)
            if r.verdict != "INCONCLUSIVE":
                assert (r.verdict, t) == (verdict, used)
                break
        else:
            assert verdict == "INCONCLUSIVE" and used == d.size


def test_small_calibration_separates_the_confidence_sequence_from_naive_peeking() -> None:
    # A small version of the calibration rows (seconds): the naive "stop when the fixed-n p < alpha" rule
    # must exceed alpha under the null on the margin; the confidence sequence (deterministic Ville) must not.
    calib = _calibration()
    rows = {r.path.key: r for r in calib.calibrate({"sequential": (300, 20)}, workers=1)}
    assert rows["seq-naive"].type1 > 0.1
    assert rows["seq-betting-det"].type1 <= 0.03
    assert rows["seq-betting"].type1 <= 0.1
    assert rows["seq-betting"].mean_items is not None and rows["seq-betting"].mean_items < calib.SEQ_N


def test_an_earlier_rejection_wins_over_a_randomized_one() -> None:
    # Identical models at n = 401, margin 0.03: the wealth against "worse by 0.03" reaches 1/alpha at item 401;
    # with a tiny U the randomized look would also reject "not worse"'s mirror. The crossing comes first.
    d = np.zeros(401)
    assert sequential_compare(d, low=-1, high=1, margin=0.03).verdict == "PASS"
    tiny = sequential_compare(d, low=-1, high=1, margin=0.03, final=True, u=0.0006)
    assert tiny.verdict == "PASS" and not tiny.randomized
