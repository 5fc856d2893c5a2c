"""Multiplicity across the gates of one run: Holm (family-wise), Benjamini-Hochberg (FDR).

Adjusted p-values are returned in input order. :func:`harness.verdict.adjust` applies them to the gates
of a run: a gate that passed on its own keeps PASS only if its adjusted p-value is still below alpha.
FAIL verdicts are never relaxed (gates fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from harness.errors import ConfigError

Method = Literal["holm", "bh"]
PValues = Sequence[float] | NDArray[np.float64]


def _as_pvalues(pvalues: PValues) -> NDArray[np.float64]:
    p = np.asarray(pvalues, dtype=float)
    if p.ndim != 1:
        raise ConfigError(f"pvalues have shape {p.shape}: pass a flat sequence of p-values")
    bad = np.flatnonzero(~((p >= 0.0) & (p <= 1.0)))
    if bad.size:
        raise ConfigError(f"p-value {int(bad[0])} is {p[bad[0]]}: every p-value must be in [0, 1]")
    return p


def holm(pvalues: PValues) -> tuple[float, ...]:
    """Holm step-down adjusted p-values (controls the family-wise error rate)."""
    p = _as_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return tuple(float(x) for x in out)


def benjamini_hochberg(pvalues: PValues) -> tuple[float, ...]:
    """Benjamini-Hochberg step-up adjusted p-values (controls the false discovery rate)."""
    p = _as_pvalues(pvalues)
    m = p.size
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return tuple(float(x) for x in out)


def adjust_pvalues(pvalues: PValues, method: Method = "holm") -> tuple[float, ...]:
    if method == "holm":
        return holm(pvalues)
    if method == "bh":
        return benjamini_hochberg(pvalues)
    raise ConfigError(f"method={method!r} is unknown: use 'holm' (family-wise) or 'bh' (false discovery rate)")
