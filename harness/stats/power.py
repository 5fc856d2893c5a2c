"""Power, minimum detectable effect (MDE) and required n for paired designs.

Conventions shared by every function here:

* ``difference`` is the true candidate - reference difference; the tested null is
  ``H0: difference <= -margin`` (non-inferiority; ``margin=0`` is the plain superiority / McNemar
  design, a negative margin asks for superiority by ``|margin|``).
* ``alternative="one-sided"`` tests at level ``alpha`` in the direction of the truth (what a gate
  does); ``"two-sided"`` splits ``alpha`` over both tails (what an A/B report quotes).
* MDEs are returned as the distance beyond the null (``difference + margin``).
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import optimize, stats

from harness.errors import ConfigError

Alternative = Literal["one-sided", "two-sided"]


def _critical(alpha: float, alternative: Alternative) -> float:
    if not 0.0 < alpha < 1.0:
        raise ConfigError(f"alpha={alpha!r} is invalid: pass a number in (0, 1), e.g. 0.05")
    if alternative not in ("one-sided", "two-sided"):
        raise ConfigError(f"alternative={alternative!r} is unknown: use 'one-sided' or 'two-sided'")
    return float(stats.norm.isf(alpha if alternative == "one-sided" else alpha / 2))


def _check_power(power: float) -> float:
    if not 0.0 < power < 1.0:
        raise ConfigError(f"power={power!r} is invalid: pass a target power in (0, 1), e.g. 0.8")
    return float(stats.norm.ppf(power))


def tango_restricted_p01(b: float, c: float, n: float, null: float) -> float:
    """Restricted MLE of P(candidate 0, reference 1) given ``difference == null`` (Tango 1998).

    ``b`` counts candidate-1/reference-0 items, ``c`` the reverse, out of ``n``. The root is scale
    free, so planning uses the same formula with population proportions and ``n = 1``.
    """
    a = 2.0 * n
    bb = -b - c + (2.0 * n - b + c) * null
    cc = -c * null * (1.0 - null)
    disc = max(bb * bb - 4.0 * a * cc, 0.0)
    return (math.sqrt(disc) - bb) / (2.0 * a)


def _binary_sds(discordance: float, difference: float, null: float) -> tuple[float, float]:
    """(sd under the null, sd under the alternative) of one item's difference."""
    if not 0.0 < discordance <= 1.0:
        raise ConfigError(
            f"discordance={discordance!r} is invalid: pass the share of items whose outcome differs, in (0, 1]"
        )
    if abs(difference) > discordance + 1e-12:
        raise ConfigError(
            f"difference={difference} cannot exceed the discordance rate {discordance} in size: "
            "every changed item moves the difference by at most 1/n"
        )
    p10, p01 = (discordance + difference) / 2.0, (discordance - difference) / 2.0
    q = tango_restricted_p01(p10, p01, 1.0, null)
    sd0 = math.sqrt(max(2.0 * q + null * (1.0 - null), 0.0))
    sd1 = math.sqrt(max(discordance - difference**2, 0.0))
    return sd0, sd1


def power_paired_binary(
    n: int,
    discordance: float,
    difference: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "one-sided",
) -> float:
    """Power of the paired score test (McNemar at margin 0, Tango otherwise); Connor (1987) at margin 0."""
    z = _critical(alpha, alternative)
    null = -margin
    sd0, sd1 = _binary_sds(discordance, difference, null)
    shift = math.sqrt(n) * (difference - null)
    if sd1 == 0.0:
        return 1.0 if abs(shift) > z * sd0 else 0.0
    if alternative == "one-sided":
        return float(stats.norm.cdf((abs(shift) - z * sd0) / sd1))
    return float(stats.norm.cdf((shift - z * sd0) / sd1) + stats.norm.cdf((-shift - z * sd0) / sd1))


def required_n_paired_binary(
    discordance: float,
    difference: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "one-sided",
) -> int:
    """Items needed for ``power`` (normal approximation with the Tango null variance)."""
    z, zb = _critical(alpha, alternative), _check_power(power)
    distance = difference + margin
    if distance == 0.0:
        raise ConfigError("difference equals the null (-margin): no n detects a zero effect; pick a target")
    sd0, sd1 = _binary_sds(discordance, difference, -margin)
    return max(1, math.ceil(((z * sd0 + zb * sd1) / distance) ** 2 - 1e-9))


def mde_paired_binary(
    n: int,
    discordance: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "one-sided",
    direction: int = 1,
) -> float | None:
    """Smallest distance beyond -margin (in ``direction``) detected with ``power``; None if none is."""
    _check_power(power)
    null = -margin

    def gap(x: float) -> float:
        diff = null + direction * x
        return power_paired_binary(n, discordance, diff, margin=margin, alpha=alpha, alternative=alternative) - power

    # The true difference must stay inside [-discordance, discordance].
    lo = max(0.0, -discordance - direction * null)
    hi = discordance - direction * null
    if hi <= lo or gap(hi) < 0.0:
        return None
    if gap(lo) >= 0.0:
        return lo
    return float(optimize.brentq(gap, lo, hi, xtol=1e-12))


def power_paired_continuous(
    n: int,
    sd_diff: float,
    difference: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    alternative: Alternative = "one-sided",
) -> float:
    """Exact power of the paired t-test for normal differences (noncentral t)."""
    _critical(alpha, alternative)
    if not (n >= 2 and sd_diff > 0.0):
        raise ConfigError(f"n={n}, sd_diff={sd_diff}: power needs n >= 2 items and a positive SD of differences")
    df = n - 1
    nc = (difference + margin) * math.sqrt(n) / sd_diff
    if alternative == "one-sided":
        return float(stats.nct.sf(stats.t.isf(alpha, df), df, abs(nc)))
    crit = stats.t.isf(alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def required_n_paired_continuous(
    sd_diff: float,
    difference: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "one-sided",
) -> int:
    """Smallest n whose paired t-test reaches ``power`` (searched around the normal approximation)."""
    z, zb = _critical(alpha, alternative), _check_power(power)
    distance = difference + margin
    if distance == 0.0 or sd_diff <= 0.0:
        raise ConfigError("required n needs a non-zero distance from the null and a positive SD of differences")
    n = max(2, math.ceil(((z + zb) * sd_diff / distance) ** 2))

    def ok(m: int) -> bool:
        p = power_paired_continuous(m, sd_diff, difference, margin=margin, alpha=alpha, alternative=alternative)
        return p >= power

    for _ in range(100_000):  # the normal start is within a few items of the answer
        if ok(n):
            break
        n += 1
    while n > 2 and ok(n - 1):
        n -= 1
    return n


def mde_paired_continuous(
    n: int,
    sd_diff: float,
    *,
    margin: float = 0.0,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "one-sided",
) -> float:
    """Distance beyond -margin that the paired t-test detects with ``power``."""
    _check_power(power)

    def gap(x: float) -> float:
        p = power_paired_continuous(n, sd_diff, x - margin, margin=margin, alpha=alpha, alternative=alternative)
        return p - power

    hi = sd_diff
    while gap(hi) < 0.0:
        hi *= 2.0
    return float(optimize.brentq(gap, 0.0, hi, xtol=1e-12 * sd_diff))


def required_n_two_proportions(
    p_reference: float,
    p_candidate: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: Alternative = "two-sided",
) -> int:
    """Items per arm for an unpaired two-proportion z-test (pooled null variance), for contrast."""
    z, zb = _critical(alpha, alternative), _check_power(power)
    diff = p_candidate - p_reference
    if diff == 0.0 or not (0.0 < p_reference < 1.0 and 0.0 < p_candidate < 1.0):
        raise ConfigError("pass two different proportions strictly between 0 and 1")
    pbar = (p_reference + p_candidate) / 2.0
    sd0 = math.sqrt(2.0 * pbar * (1.0 - pbar))
    sd1 = math.sqrt(p_reference * (1 - p_reference) + p_candidate * (1 - p_candidate))
    return math.ceil(((z * sd0 + zb * sd1) / diff) ** 2 - 1e-9)


def required_n_unpaired(
    var_treatment: float,
    var_control: float,
    distance: float,
    *,
    share_treatment: float = 0.5,
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Total rows over both arms for a one-sided level-``alpha`` z-test of two independent means (or
    proportions, with ``p * (1 - p)`` as the variances) to reject a null ``distance`` away from the truth with
    ``power``, when ``share_treatment`` of the traffic goes to the treatment:
    ``N = (z_alpha + z_beta)^2 * (var_t / w_t + var_c / w_c) / distance^2``."""
    z, zb = _critical(alpha, "one-sided"), _check_power(power)
    if not 0.0 < share_treatment < 1.0:
        raise ConfigError(f"share_treatment={share_treatment!r} must be in (0, 1)")
    if distance == 0.0 or var_treatment < 0.0 or var_control < 0.0:
        raise ConfigError("required n needs a non-zero distance from the null and non-negative variances")
    spread = var_treatment / share_treatment + var_control / (1.0 - share_treatment)
    return max(2, math.ceil((z + zb) ** 2 * spread / distance**2 - 1e-9))
