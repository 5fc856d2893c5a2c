"""Exact unconditional test for the paired difference in proportions (few discordant pairs).

Notation as in :mod:`harness.stats.binary`: ``b`` items went 0 -> 1, ``c`` went 1 -> 0, out of ``n``;
the difference is ``p10 - p01`` and the nuisance parameter is the discordance ``psi = p10 + p01``.

For ``H0: difference <= d0`` the test orders the outcomes by Tango's score statistic at ``d0`` (a
larger ``b`` or a smaller ``c`` is more extreme) and computes the exact tail probability of the
observed statistic under the trinomial model on the boundary ``difference == d0``:

    P_psi(T >= t_obs) = sum_m Binom(m; n, psi) * P(Binom(m, pi) >= k_m),  pi = (psi + d0) / (2 psi)

where ``k_m`` is the smallest ``b`` with ``T(b, m - b) >= t_obs``. The nuisance ``psi`` is handled
as Berger & Boos (1994) do: the supremum is taken over a ``1 - gamma`` Clopper-Pearson interval for
``psi`` (from the observed ``m = b + c``) and ``gamma`` is added to the p-value, so the test is exact
(never above alpha) at every ``psi``. The supremum over the whole composite null is attained on the
boundary because the rejection region is monotone (more improvements, fewer regressions are more
extreme; checked in the tests), so the tail can only grow towards the boundary.

At small discordance Tango's normal approximation is anti-conservative: with no discordant pair
at all its p-value at margin 0.03 and n = 105 is 0.036, while the exact test gives the probability
of the data under the worst boundary point.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import NDArray
from scipy import stats

from harness.stats.evidence import bounded_p

GAMMA = 0.001  # Berger-Boos: the nuisance interval's error, added to the p-value
_GRID = 200  # nuisance points scanned before the local refinement
_NEGLIGIBLE = 1e-12  # discordant counts less likely than this (at the largest psi) are not enumerated
EXACT_BELOW = 50  # discordant pairs below which the binary engine uses this test (see binary.py)


def tango_statistics(b: NDArray[np.float64], c: NDArray[np.float64], n: int, null: float) -> NDArray[np.float64]:
    """Tango's score z for every (b, c) pair at once (vectorised :func:`tango_score_statistic`)."""
    a = 2.0 * n
    bb = -b - c + (2.0 * n - b + c) * null
    cc = -c * null * (1.0 - null)
    q = (np.sqrt(np.maximum(bb * bb - 4.0 * a * cc, 0.0)) - bb) / (2.0 * a)
    variance = n * (2.0 * q + null * (1.0 - null))
    numerator = b - c - n * null
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.sqrt(variance)
        degenerate = np.where(numerator == 0, 0.0, np.copysign(np.inf, numerator))
    return np.where(variance > 0.0, z, degenerate)


def critical_counts(b: int, c: int, n: int, null: float, m_max: int) -> NDArray[np.int64]:
    """For each number of discordant pairs m = 0..m_max, the smallest b at least as extreme as (b, c).

    ``m + 1`` (no b) when no split of m is as extreme. The rejection region of each m is an upper set
    in b because the statistic increases with b at fixed m (checked in the tests).
    """
    t_obs = float(tango_statistics(np.array([float(b)]), np.array([float(c)]), n, null)[0])
    tol = 1e-9 * (1.0 + abs(t_obs)) if math.isfinite(t_obs) else 0.0
    m_idx, b_idx = np.tril_indices(m_max + 1)
    extreme = tango_statistics(b_idx.astype(float), (m_idx - b_idx).astype(float), n, null) >= t_obs - tol
    # An upper set in b: the first extreme b of row m is m + 1 minus the number of extreme ones.
    counts = np.bincount(m_idx, weights=extreme, minlength=m_max + 1).astype(np.int64)
    return np.arange(m_max + 1) + 1 - counts


def tail_probability(k: NDArray[np.int64], n: int, null: float, psi: NDArray[np.float64]) -> NDArray[np.float64]:
    """P(T >= t_obs, M <= m_max) at each discordance in ``psi``, on the boundary ``difference == null``.

    ``k`` holds the critical b of m = 0..m_max (:func:`critical_counts`).
    """
    psi = np.asarray(psi, dtype=float)[:, None]
    m = np.arange(k.size)[None, :]
    pi = np.clip((psi + null) / (2.0 * psi), 0.0, 1.0)
    weights = stats.binom.pmf(m, n, psi)
    inner = stats.binom.sf(k[None, :] - 1, m, pi)
    return np.asarray((weights * inner).sum(axis=1))


def _psi_range(m_obs: int, n: int, null: float, gamma: float) -> tuple[float, float] | None:
    """The Berger-Boos nuisance set: the 1 - gamma Clopper-Pearson interval of psi, on the boundary."""
    low = 0.0 if m_obs == 0 else float(stats.beta.ppf(gamma / 2, m_obs, n - m_obs + 1))
    high = 1.0 if m_obs == n else float(stats.beta.isf(gamma / 2, m_obs + 1, n - m_obs))
    low = max(low, abs(null))
    if low > high:
        return None
    return max(low, 1e-12), high


@functools.lru_cache(maxsize=4096)  # a pure function of its arguments; interval searches and gates repeat nulls
def exact_p_greater(b: int, c: int, n: int, null: float, *, gamma: float = GAMMA) -> float:
    """Exact unconditional (Berger-Boos) p-value of ``H0: difference <= null`` (evidence: b large, c small)."""
    if not (b >= 0 and c >= 0 and b + c <= n):
        raise ValueError(f"counts b={b}, c={c} do not fit n={n}: need 0 <= b, c and b + c <= n")
    if not -1.0 < null < 1.0:
        raise ValueError(f"null={null} must lie strictly between -1 and 1")
    span = _psi_range(b + c, n, null, gamma)
    if span is None:
        return bounded_p(gamma)
    # Discordant counts above m_max have probability below _NEGLIGIBLE at every psi in the set; their
    # mass is added whole, so the truncation can only make the p-value larger.
    m_max = min(n, int(stats.binom.isf(_NEGLIGIBLE, n, span[1])) + 1)
    beyond = float(stats.binom.sf(m_max, n, span[1]))
    k = critical_counts(b, c, n, null, m_max)
    grid = np.linspace(span[0], span[1], _GRID)
    values = tail_probability(k, n, null, grid)
    best = int(np.argmax(values))
    # Refine around the best grid point on a finer grid (the tail is smooth in psi between grid points).
    fine = np.linspace(grid[max(best - 1, 0)], grid[min(best + 1, _GRID - 1)], _GRID)
    top = max(float(values[best]), float(tail_probability(k, n, null, fine).max()))
    return bounded_p(top + beyond + gamma)


def exact_p_less(b: int, c: int, n: int, null: float, *, gamma: float = GAMMA) -> float:
    """Exact unconditional p-value of ``H0: difference >= null`` (the mirror image: swap b and c)."""
    return exact_p_greater(c, b, n, -null, gamma=gamma)
