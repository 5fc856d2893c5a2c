"""Input checks shared by the statistics modules.

Every check raises a ``ValueError`` subclass whose message names the offending input and the fix,
so a gate fails with an actionable sentence instead of a NaN deep inside scipy.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from harness.errors import ConfigError, DataError

# Per-item inputs: any sequence, or a NumPy array (one row per item).
Items = Sequence[Any] | NDArray[Any]
ClusterIds = Sequence[Hashable] | NDArray[Any]

KINDS = ("binary", "continuous", "corpus")
DECISIONS = ("non_inferiority", "superiority", "equivalence")
MIN_RESAMPLES = 200


def check_lengths(candidate: Items, reference: Items) -> int:
    """Return the common length of the two sides, or raise naming both lengths."""
    n_cand, n_ref = len(candidate), len(reference)
    if n_cand != n_ref:
        raise DataError(
            f"candidate has {n_cand} items but reference has {n_ref}: align both by item id before comparing"
        )
    if n_cand == 0:
        raise DataError("candidate and reference are empty: a paired comparison needs at least one item")
    return n_cand


def as_float_array(values: Items, *, side: str) -> NDArray[np.float64]:
    """Per-item scores as a finite 1-D float array."""
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{side} scores are not numbers ({exc}): pass one float per item") from exc
    if arr.ndim != 1:
        raise DataError(f"{side} scores have shape {arr.shape}: pass a flat sequence with one score per item")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f"{side} score of item {i} is {float(arr[i])} ({bad.size} non-finite in total): "
            "drop or re-score those items on both sides before comparing"
        )
    return arr


def as_binary_array(values: Items, *, side: str) -> NDArray[np.int64]:
    """Per-item 0/1 outcomes (bools accepted) as an int array."""
    arr = as_float_array(values, side=side)
    bad = np.flatnonzero((arr != 0.0) & (arr != 1.0))
    if bad.size:
        i = int(bad[0])
        raise DataError(
            f'{side} value of item {i} is {float(arr[i])!r} but kind="binary" needs 0/1 per item: '
            'threshold the scores first, or use kind="continuous"'
        )
    return arr.astype(np.int64)


def check_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 0.5):
        raise ConfigError(f"alpha={alpha!r} is invalid: pass a one-sided error rate in (0, 0.5), e.g. 0.05")
    return float(alpha)


def check_two_sided_alpha(alpha: float) -> float:
    if not (isinstance(alpha, int | float) and 0.0 < float(alpha) < 1.0):
        raise ConfigError(f"alpha={alpha!r} is invalid: pass the total error rate in (0, 1), e.g. 0.05")
    return float(alpha)


def check_margin(margin: float, decision: str) -> float:
    if decision not in DECISIONS:
        raise ConfigError(f"decision={decision!r} is unknown: use one of {', '.join(DECISIONS)}")
    if not (isinstance(margin, int | float) and math.isfinite(margin) and margin >= 0.0):
        raise ConfigError(
            f"margin={margin!r} is invalid: pass a finite non-negative number in the metric's units "
            "(the largest change you accept)"
        )
    if decision == "equivalence" and margin == 0.0:
        raise ConfigError(
            "decision='equivalence' needs margin > 0: pass the symmetric equivalence bound, e.g. margin=0.02"
        )
    return float(margin)


def check_count(k: int, n: int) -> None:
    """k successes out of n trials, both integers with 0 <= k <= n and n >= 1."""
    if not (isinstance(n, int | np.integer) and n >= 1):
        raise DataError(f"n={n!r} is invalid: pass the number of trials as a positive integer")
    if not (isinstance(k, int | np.integer) and 0 <= k <= n):
        raise DataError(f"k={k!r} is invalid for n={n}: pass a count between 0 and n")


def check_resamples(n_resamples: int) -> int:
    if not (isinstance(n_resamples, int) and n_resamples >= MIN_RESAMPLES):
        raise ConfigError(
            f"n_resamples={n_resamples!r} is too small: pass an integer >= {MIN_RESAMPLES} "
            "(2000 or more for a gate decision)"
        )
    return n_resamples


def encode_clusters(clusters: ClusterIds, n: int) -> NDArray[np.int64]:
    """Map cluster ids to 0..G-1 codes in order of first appearance."""
    if len(clusters) != n:
        raise DataError(
            f"clusters has {len(clusters)} ids but there are {n} items: pass one cluster id per item, "
            "aligned with candidate and reference"
        )
    codes: dict[Hashable, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, cid in enumerate(clusters):
        if cid is None or (isinstance(cid, float) and math.isnan(cid)):
            raise DataError(
                f"cluster id of item {i} is {cid!r}: give every item a cluster id "
                "(its own id if it shares none), or pass clusters=None"
            )
        try:
            out[i] = codes.setdefault(cid, len(codes))
        except TypeError as exc:
            raise DataError(f"cluster id of item {i} ({cid!r}) is not hashable: use strings or integers") from exc
    return out
