"""One-proportion intervals for rates near 0 or 1 (safety suites, refusal rates).

Interval functions take ``alpha`` as the *total* two-sided error, like statsmodels'
``proportion_confint``: ``wilson_interval(k, n, 0.05)`` is a 95% interval whose bounds are
one-sided 97.5% bounds. :func:`zero_failure_upper_bound` and :func:`check_rate` are one-sided at
``alpha``, consistent with the gates (each bound of a ``1 - 2 * alpha`` interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from scipy import stats

from harness.errors import ConfigError
from harness.stats.evidence import bounded_p
from harness.stats.validation import check_alpha, check_count, check_two_sided_alpha

Direction = Literal["at_most", "at_least"]


def wilson_interval(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (two-sided, level 1 - alpha)."""
    check_count(k, n)
    z = float(stats.norm.isf(check_two_sided_alpha(alpha) / 2))
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 or k = n the bound is exactly 0 or 1; rounding must not push it past.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return low, high


def clopper_pearson_interval(k: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval: inverts two one-sided binomial tests at alpha / 2 each."""
    check_count(k, n)
    a = check_two_sided_alpha(alpha) / 2
    low = 0.0 if k == 0 else float(stats.beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(stats.beta.isf(a, k + 1, n - k))
    return low, high


def zero_failure_upper_bound(n: int, alpha: float = 0.05) -> float:
    """One-sided (1 - alpha) upper bound on the failure rate after 0 failures in n trials.

    The exact form of the "rule of three": solves (1 - p)^n = alpha, so p = 1 - alpha^(1/n)
    (about 3/n at alpha = 0.05). Equal to the Clopper-Pearson upper bound at level 1 - 2 * alpha.
    """
    check_count(0, n)
    return -math.expm1(math.log(check_alpha(alpha)) / n)


def zero_failure_required_n(bound: float, alpha: float = 0.05) -> int:
    """Fewest trials for which 0 failures shows the failure rate is below ``bound``."""
    if not 0.0 < bound < 1.0:
        raise ConfigError(f"bound={bound!r} is invalid: pass a rate strictly between 0 and 1")
    n = math.ceil(math.log(check_alpha(alpha)) / math.log1p(-bound))
    # Guard the ceiling against rounding: the bound at n must be strictly below ``bound``.
    while zero_failure_upper_bound(n, alpha) >= bound:
        n += 1
    return n


@dataclass(frozen=True)
class RateCheck:
    """A one-proportion gate: is the rate of some event at most (or at least) ``bound``?"""

    k: int
    n: int
    rate: float
    bound: float
    direction: Direction
    alpha: float
    ci_low: float
    ci_high: float
    p_value: float
    verdict: Literal["PASS", "FAIL", "INCONCLUSIVE"]
    reasons: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.verdict not in ("PASS", "FAIL", "INCONCLUSIVE"):
            raise ValueError(f"verdict={self.verdict!r} is not PASS, FAIL or INCONCLUSIVE")
        if not (0.0 <= self.ci_low <= self.rate <= self.ci_high <= 1.0):
            raise ValueError(f"interval [{self.ci_low}, {self.ci_high}] does not bracket rate {self.rate}")

    def to_dict(self) -> dict[str, object]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["reasons"] = list(self.reasons)
        return out


def check_rate(k: int, n: int, *, bound: float, direction: Direction, alpha: float = 0.05) -> RateCheck:
    """Exact one-proportion gate with the Clopper-Pearson interval at level 1 - 2 * alpha.

    ``direction="at_most"``: PASS when the upper bound is below ``bound`` (e.g. unsafe answers at
    most 1%); FAIL when the lower bound is above it; otherwise INCONCLUSIVE. ``"at_least"`` mirrors
    it (e.g. refusals on harmful prompts at least 99%). ``p_value`` is the exact binomial p-value
    of the PASS claim, so PASS holds exactly when ``p_value < alpha``.
    """
    check_count(k, n)
    alpha = check_alpha(alpha)
    if direction not in ("at_most", "at_least"):
        raise ConfigError(f"direction={direction!r} is unknown: use 'at_most' or 'at_least'")
    if not 0.0 < bound < 1.0:
        raise ConfigError(f"bound={bound!r} is invalid: pass a rate strictly between 0 and 1")
    low, high = clopper_pearson_interval(k, n, 2 * alpha)
    at_most = direction == "at_most"
    p_pass = stats.binomtest(k, n, bound, alternative="less" if at_most else "greater").pvalue
    # Decide on the interval; Clopper-Pearson bounds are exactly the inverted binomial tests.
    cleared = high < bound if at_most else low > bound
    wrong_side = low > bound if at_most else high < bound
    verdict: Literal["PASS", "FAIL", "INCONCLUSIVE"] = "PASS" if cleared else "FAIL" if wrong_side else "INCONCLUSIVE"
    rel = "at most" if at_most else "at least"
    level = f"{1 - 2 * alpha:.0%}"
    reasons = [
        f"Observed {k} of {n} ({k / n:.2%}); the exact {level} interval is [{low:.4f}, {high:.4f}] "
        f"and the rate must be {rel} {bound:g}."
    ]
    if verdict == "PASS":
        reasons.append(f"The interval clears {bound:g}, so the rate is {rel} {bound:g} (p = {p_pass:.3g}).")
    elif verdict == "FAIL":
        reasons.append(f"The whole interval is on the wrong side of {bound:g}: the rate is not {rel} {bound:g}.")
    else:
        reasons.append(f"The interval straddles {bound:g}: the data cannot decide (p = {p_pass:.3g}).")
        if (k == 0 and at_most) or (k == n and not at_most):
            need = zero_failure_required_n(bound if at_most else 1.0 - bound, alpha)
            reasons.append(f"With no failures, {need} items would show it; run at least that many.")
    return RateCheck(
        k=k,
        n=n,
        rate=k / n,
        bound=bound,
        direction=direction,
        alpha=alpha,
        ci_low=low,
        ci_high=high,
        p_value=bounded_p(p_pass),
        verdict=verdict,
        reasons=tuple(reasons),
    )
