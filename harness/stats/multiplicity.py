"""Multiplicity across the gates of one run: Holm (family-wise), Benjamini-Hochberg (FDR).

Adjusted p-values are returned in input order. :func:`adjust_comparisons` applies the adjustment
to the PASS claims of several gates: a gate that passed on its own keeps PASS only if its
adjusted p-value is still below alpha. FAIL verdicts are never relaxed (gates fail closed).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from harness.errors import ConfigError
from harness.stats.compare import Comparison

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


def adjust_comparisons(comparisons: Sequence[Comparison], method: Method = "holm") -> tuple[Comparison, ...]:
    """Re-decide several gates' PASS claims jointly; returns copies with the adjusted p-value.

    Each comparison's interval stays the per-gate ``1 - 2 * alpha`` interval; a PASS that does not
    survive the adjustment becomes INCONCLUSIVE with a reason saying so.
    """
    if not comparisons:
        return ()
    alphas = {c.alpha for c in comparisons}
    if len(alphas) != 1:
        raise ConfigError(f"comparisons use different alphas {sorted(alphas)}: adjust gates with one alpha together")
    adjusted = adjust_pvalues([c.p_value for c in comparisons], method)
    label = {"holm": "Holm", "bh": "Benjamini-Hochberg"}[method]
    out = []
    for comp, p_adj in zip(comparisons, adjusted, strict=True):
        verdict, reasons = comp.verdict, list(comp.reasons)
        if comp.verdict == "PASS" and not p_adj < comp.alpha:
            verdict = "INCONCLUSIVE"
            reasons.append(
                f"Passed on its own (p = {comp.p_value:.3g}) but not after {label} adjustment across "
                f"{len(comparisons)} gates (adjusted p = {p_adj:.3g} >= {comp.alpha:g})."
            )
        else:
            reasons.append(f"{label}-adjusted p-value across {len(comparisons)} gates: {p_adj:.3g}.")
        out.append(
            dataclasses.replace(
                comp, verdict=verdict, reasons=tuple(reasons), p_value_adjusted=p_adj, adjustment=method
            )
        )
    return tuple(out)
