"""Sequential (anytime-valid) paired comparison: a betting confidence sequence for the mean difference.

Items arrive one by one in a random order; after each chunk the gate may stop. The evidence against
each one-sided hypothesis of the decision (:mod:`harness.stats.decision`) is the wealth of a bettor
(Waudby-Smith & Ramdas 2023, "Estimating means of bounded random variables by betting", JRSS-B):
with the paired difference rescaled to ``z`` in [0, 1] and ``m`` the null mean on that scale,

    K_t(m) = prod_{i <= t} (1 + lambda_i * (z_i - m))      (against H0: mean <= m; the mirror for >=)

is a nonnegative supermartingale under H0 whenever the bet ``lambda_i`` in [0, 1/2] is chosen from
the items before ``i`` (predictable). Ville's inequality bounds ``P(sup_t K_t >= 1/alpha) <= alpha``,
so the gate may look after every item and stop at the first crossing: the type-I error holds under
continuous monitoring. The bets are the predictable plug-in of Waudby-Smith & Ramdas (PrPl):
``lambda_t = min(sqrt(2 log(1/alpha) / (sigma2_{t-1} t log(1 + t))), 1/2)``, the same for every
``m``, so ``K_t(m)`` is monotone in ``m`` and the confidence sequence ``{m : sup_s K_s(m) < 1/alpha}``
is an interval found by bisection, consistent with the decision at the margin.

Ville's inequality is loose on a finite horizon (the wealth of most null paths has not come back to
0 when the items run out: about 1% type-I at alpha 0.05). At the last item the test therefore uses the
uniformly randomized Ville inequality (Ramdas & Manole 2023, "Randomized and exchangeable improvements
of Markov's, Chebyshev's and Chernoff's inequalities", Thm. 4.1): for a stopping time ``tau`` and an
independent ``U ~ Uniform(0, 1)``, ``P(exists t < tau: K_t >= 1/alpha, or K_tau >= U/alpha) <= alpha``.
``U`` is drawn from the gate's recorded seed, so the verdict is reproducible; ``randomized=False``
gives the conservative deterministic test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from harness.errors import ConfigError, DataError
from harness.stats.decision import OneSided, fail_hypotheses, pass_hypotheses
from harness.stats.validation import check_alpha, check_margin

MAX_BET = 0.5  # lambda <= 1/2 keeps every factor 1 + lambda (z - m) >= 1/2 for all m in [0, 1]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


def bets(z: NDArray[np.float64], alpha: float) -> NDArray[np.float64]:
    """Predictable plug-in bets: bet i uses only z_1 .. z_{i-1} (Waudby-Smith & Ramdas 2023, PrPl)."""
    t = np.arange(1, z.size + 1, dtype=float)
    mu = (0.5 + np.cumsum(z)) / (t + 1.0)
    mu_before = np.concatenate(([0.5], mu[:-1]))
    var = (0.25 + np.cumsum((z - mu_before) ** 2)) / (t + 1.0)
    var_before = np.concatenate(([0.25], var[:-1]))
    return np.minimum(np.sqrt(2.0 * math.log(1.0 / alpha) / (var_before * t * np.log1p(t))), MAX_BET)


def log_wealth(z: NDArray[np.float64], lam: NDArray[np.float64], m: float, side: int) -> NDArray[np.float64]:
    """log K_t(m) for t = 1..n: side +1 bets on a mean above m, side -1 on a mean below m."""
    return np.cumsum(np.log1p(side * lam * (z - m)))


@dataclass(frozen=True)
class SequentialResult:
    """Where a sequential comparison stands after the items seen so far (difference = candidate - reference)."""

    verdict: Verdict
    n: int  # items used
    estimate: float
    ci_low: float  # the confidence sequence at n: each bound a one-sided alpha bound, valid at any n
    ci_high: float
    p_value: float  # anytime-valid p of the PASS claim: 1 / (largest wealth against its null)
    alpha: float
    final: bool  # the last item: the randomized look applied
    u: float | None  # the uniform of the randomized final look
    randomized: bool = False  # the verdict came from the randomized final look (deterministically undecided)

    def __post_init__(self) -> None:
        if not (self.ci_low <= self.ci_high) or not 0.0 <= self.p_value <= 1.0:
            raise ValueError(f"inconsistent sequential result: [{self.ci_low}, {self.ci_high}], p={self.p_value}")


class ConfidenceSequence:
    """The betting confidence sequence of a mean paired difference bounded in ``[low, high]``."""

    def __init__(self, d: NDArray[np.float64], *, low: float, high: float, alpha: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ConfigError(f"bounds [{low}, {high}] are invalid: pass finite bounds with low < high")
        d = np.asarray(d, dtype=float)
        outside = np.flatnonzero((d < low) | (d > high) | ~np.isfinite(d))
        if outside.size:
            i = int(outside[0])
            raise DataError(
                f"paired difference of item {i} is {d[i]}, outside the declared bounds [{low}, {high}]: "
                "a betting confidence sequence needs bounded differences; declare the metric's true range"
            )
        self.low, self.high, self.alpha = float(low), float(high), check_alpha(alpha)
        self.z = (d - low) / (high - low)
        self.lam = bets(self.z, self.alpha)

    def to_unit(self, null: float) -> float:
        return (null - self.low) / (self.high - self.low)

    def peak(self, null: float, side: int) -> float:
        """The largest log-wealth so far against the null (side +1: H0 mean <= null; -1: H0 mean >= null)."""
        if self.z.size == 0:
            return 0.0
        m = min(max(self.to_unit(null), 0.0), 1.0)
        return float(max(0.0, log_wealth(self.z, self.lam, m, side).max()))

    def last(self, null: float, side: int) -> float:
        m = min(max(self.to_unit(null), 0.0), 1.0)
        return float(log_wealth(self.z, self.lam, m, side)[-1]) if self.z.size else 0.0

    def bound(self, side: int) -> float:
        """The lower (side +1) or upper (side -1) end of the confidence sequence, by bisection."""
        threshold = math.log(1.0 / self.alpha)
        lo, hi = 0.0, 1.0  # in unit scale; the excluded region is m < lower (side +1) or m > upper (side -1)
        for _ in range(60):
            mid = (lo + hi) / 2.0
            excluded = self.peak(self.low + mid * (self.high - self.low), side) >= threshold
            if (side > 0) == excluded:
                lo = mid
            else:
                hi = mid
        inside = hi if side > 0 else lo
        return self.low + inside * (self.high - self.low)


@dataclass(frozen=True)
class _Test:
    """One one-sided hypothesis so far: rejected at which item (n + 1: by the randomized final look), and the log
    of its evidence (the peak wealth, or the last wealth over U)."""

    rejected: bool
    when: int
    evidence: float


def _test(cs: ConfidenceSequence, h: OneSided, final: bool, u: float | None) -> _Test:
    side = 1 if h.side == "greater" else -1
    threshold = math.log(1.0 / cs.alpha)
    n = int(cs.z.size)
    if n == 0:
        return _Test(False, n + 1, 0.0)
    m = min(max(cs.to_unit(h.null), 0.0), 1.0)
    wealth = log_wealth(cs.z, cs.lam, m, side)
    peak = float(max(0.0, wealth.max()))
    if peak >= threshold:
        return _Test(True, int(np.argmax(wealth >= threshold)) + 1, peak)
    if final and u is not None:
        randomized = float(wealth[-1]) - math.log(u)
        return _Test(randomized >= threshold, n + 1, max(peak, randomized))
    return _Test(False, n + 1, peak)


def sequential_compare(
    d: NDArray[np.float64] | list[float],
    *,
    low: float,
    high: float,
    decision: str = "non_inferiority",
    margin: float = 0.0,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    final: bool = False,
    u: float | None = None,
) -> SequentialResult:
    """Decide from the paired differences seen so far (in evaluation order), looking at every item.

    PASS when every PASS hypothesis of ``decision`` has been rejected at some item so far, FAIL when
    any FAIL hypothesis has, else INCONCLUSIVE (evaluate more items). ``final=True`` marks the last
    item: with ``u`` (a Uniform(0, 1) draw) the randomized Ville look applies there.
    """
    margin = check_margin(margin, decision)
    if u is not None and not 0.0 < u <= 1.0:
        raise ConfigError(f"u={u!r} must be a Uniform(0, 1] draw")
    cs = ConfidenceSequence(np.asarray(d, dtype=float), low=low, high=high, alpha=alpha)
    verdict, p_value = _verdict(cs, decision, margin, higher_is_better, final, u)
    deterministic = _verdict(cs, decision, margin, higher_is_better, False, None)[0]
    randomized = verdict != "INCONCLUSIVE" and deterministic != verdict
    n = int(cs.z.size)
    ci_low, ci_high = cs.bound(+1), cs.bound(-1)
    if ci_low > ci_high:  # the running intersection is empty (rare): report the point where the two ends met
        ci_low = ci_high = (ci_low + ci_high) / 2.0
    return SequentialResult(
        verdict=verdict,
        n=n,
        estimate=float(np.mean(np.asarray(d, dtype=float))) if n else 0.0,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        alpha=cs.alpha,
        final=final,
        u=u,
        randomized=randomized,
    )


def _verdict(
    cs: ConfidenceSequence, decision: str, margin: float, higher_is_better: bool, final: bool, u: float | None
) -> tuple[Verdict, float]:
    passes = [_test(cs, h, final, u) for h in pass_hypotheses(decision, margin, higher_is_better)]
    fails = [_test(cs, h, final, u) for h in fail_hypotheses(decision, margin, higher_is_better)]
    p_value = min(1.0, math.exp(-min(t.evidence for t in passes)))
    passed, failed = all(t.rejected for t in passes), any(t.rejected for t in fails)
    if passed and failed:
        # Both claims' tests rejected (crossings at different items, or a small U at the last look). Each claim is
        # made only when its own test rejects, so either choice keeps both at level alpha; the earlier rejection
        # wins (a gate looking at every item would have stopped there), then the larger evidence.
        pass_key = (-max(t.when for t in passes), min(t.evidence for t in passes))
        fail_key = (-min(t.when for t in fails if t.rejected), max(t.evidence for t in fails if t.rejected))
        passed, failed = pass_key > fail_key, fail_key > pass_key
    if passed:
        return "PASS", p_value
    if failed:
        return "FAIL", p_value
    return "INCONCLUSIVE", p_value
