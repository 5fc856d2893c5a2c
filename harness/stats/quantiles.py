"""Bootstrap tests on quantiles (p50, p95 latency): paired log-ratios and unpaired differences.

Both return a :class:`QuantileTest` of the claim ``statistic <= null`` ("not slower than the margin allows"),
decided on the percentile bootstrap distribution of the statistic. The interval is the percentile interval at
level ``1 - 2 * alpha``, and ``p_value = (1 + #{theta* >= null}) / (B + 1)``, so PASS (``p_value < alpha``)
holds exactly when the upper bound is below ``null``, and FAIL exactly when the lower bound is above it
(:mod:`harness.stats.bootstrap`); otherwise INCONCLUSIVE.

- :func:`paired_quantile_log_ratio`: ``log(Q_q(candidate) / Q_q(reference))`` over items measured on both
  sides, resampling items (the pair stays together).
- :func:`unpaired_quantile_difference`: ``Q_q(treatment) - scale * Q_q(control)`` over two independent
  samples (an online A/B test), each arm resampled on its own; ``scale = 1 + margin`` turns "the treatment's
  quantile is at most (1 + margin) times the control's" into ``statistic <= 0``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from harness.errors import DataError
from harness.stats.bootstrap import PercentileDistribution
from harness.stats.validation import as_float_array, check_alpha, check_lengths, check_resamples

_BATCH_CELLS = 2_000_000  # resampled values held at once: bounds memory at ~16 MB
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class QuantileTest:
    """The claim ``estimate <= null`` tested on a percentile bootstrap (see the module docstring)."""

    statistic: str
    q: float
    estimate: float
    ci_low: float
    ci_high: float
    null: float
    p_value: float
    alpha: float
    verdict: Verdict
    n_resamples: int
    se: float


def _check_q(q: float) -> float:
    if not 0.0 < q < 1.0:
        raise DataError(f"quantile q={q!r} is invalid: pass a probability in (0, 1), e.g. 0.5 or 0.95")
    return float(q)


def _positive(values: NDArray[np.float64], side: str) -> NDArray[np.float64]:
    if values.size and float(values.min()) <= 0.0:
        raise DataError(f"{side} has a non-positive time ({float(values.min())}): latencies must be > 0 seconds")
    return values


def _decide(
    statistic: str, q: float, observed: float, dist: PercentileDistribution, null: float, alpha: float
) -> QuantileTest:
    low, high = dist.bounds(alpha)
    p_value = dist.p_less(null)
    verdict: Verdict = "PASS" if p_value < alpha else "FAIL" if dist.p_greater(null) < alpha else "INCONCLUSIVE"
    return QuantileTest(statistic, q, observed, low, high, null, p_value, alpha, verdict, dist.size, dist.se())


def _resampled(draw: Callable[[int], NDArray[np.float64]], n_resamples: int, width: int) -> NDArray[np.float64]:
    out = np.empty(n_resamples)
    batch = max(1, _BATCH_CELLS // max(width, 1))
    for start in range(0, n_resamples, batch):
        rows = min(batch, n_resamples - start)
        out[start : start + rows] = draw(rows)
    return out


def paired_quantile_log_ratio(
    candidate: NDArray[np.float64] | list[float],
    reference: NDArray[np.float64] | list[float],
    *,
    q: float,
    null: float,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = 2000,
) -> QuantileTest:
    """``log(Q_q(candidate) / Q_q(reference))`` on paired positive times; PASS when it is below ``null``."""
    q, alpha, n_resamples = _check_q(q), check_alpha(alpha), check_resamples(n_resamples)
    n = check_lengths(candidate, reference)
    cand = _positive(as_float_array(candidate, side="candidate"), "candidate")
    ref = _positive(as_float_array(reference, side="reference"), "reference")
    rng = np.random.default_rng(seed)

    def draw(rows: int) -> NDArray[np.float64]:
        idx = rng.integers(0, n, size=(rows, n))
        return np.log(np.quantile(cand[idx], q, axis=1)) - np.log(np.quantile(ref[idx], q, axis=1))

    observed = math.log(float(np.quantile(cand, q)) / float(np.quantile(ref, q)))
    dist = PercentileDistribution(_resampled(draw, n_resamples, n))
    return _decide(f"log(p{q * 100:g} ratio), paired bootstrap", q, observed, dist, null, alpha)


def unpaired_quantile_difference(
    treatment: NDArray[np.float64] | list[float],
    control: NDArray[np.float64] | list[float],
    *,
    q: float,
    scale: float = 1.0,
    alpha: float = 0.05,
    seed: int = 0,
    n_resamples: int = 2000,
) -> QuantileTest:
    """``Q_q(treatment) - scale * Q_q(control)`` on two independent samples; PASS when it is below 0."""
    q, alpha, n_resamples = _check_q(q), check_alpha(alpha), check_resamples(n_resamples)
    t = as_float_array(treatment, side="treatment")
    c = as_float_array(control, side="control")
    if t.size < 2 or c.size < 2:
        raise DataError(f"a quantile needs at least 2 values per arm; got {t.size} and {c.size}")
    rng = np.random.default_rng(seed)

    def draw(rows: int) -> NDArray[np.float64]:
        qt = np.quantile(t[rng.integers(0, t.size, size=(rows, t.size))], q, axis=1)
        qc = np.quantile(c[rng.integers(0, c.size, size=(rows, c.size))], q, axis=1)
        return np.asarray(qt - scale * qc, dtype=float)

    observed = float(np.quantile(t, q)) - scale * float(np.quantile(c, q))
    dist = PercentileDistribution(_resampled(draw, n_resamples, t.size + c.size))
    return _decide(f"p{q * 100:g} difference, unpaired bootstrap", q, observed, dist, 0.0, alpha)
