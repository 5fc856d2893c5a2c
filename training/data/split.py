"""Seeded train/validation(/test) splits, optionally stratified.

The examples are shuffled with ``random.Random(seed)``, so the same examples in the same order and the
same seed always give the same split. Counts follow the fractions by largest remainder, so they sum to n.

Stratified: the shuffled examples are grouped by stratum (strata in sorted order) and dealt out one by
one to the split that is furthest behind its fraction (f_k·(j+1) − count_k largest). Within every
stratum each split then gets its fraction to within one example, and small strata still reach the small
splits, because the dealing carries on across strata instead of restarting (rounding 0.1 × 5 down in
every stratum would leave a validation split empty).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

from harness.errors import ConfigError, DataError
from training.data.example import Example, named_ids


def _check_fractions(fractions: Mapping[str, float]) -> None:
    if not fractions:
        raise ConfigError("split fractions are empty; give e.g. {'train': 0.9, 'validation': 0.1}")
    bad = {name: f for name, f in fractions.items() if not 0 < f <= 1}
    if bad:
        raise ConfigError(f"split fractions {bad} must each be in (0, 1]")
    if not math.isclose(sum(fractions.values()), 1.0, abs_tol=1e-6):
        raise ConfigError(f"split fractions {dict(fractions)} sum to {sum(fractions.values()):g}; make them sum to 1")


def _counts(n: int, fractions: Mapping[str, float]) -> dict[str, int]:
    quotas = {name: f * n for name, f in fractions.items()}
    counts = {name: math.floor(q) for name, q in quotas.items()}
    by_remainder = sorted(fractions, key=lambda name: counts[name] - quotas[name])  # stable: ties keep key order
    for name in by_remainder[: n - sum(counts.values())]:
        counts[name] += 1
    return counts


def _deal(ordered: Sequence[Example], fractions: Mapping[str, float]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {name: [] for name in fractions}
    for j, example in enumerate(ordered):
        name = max(fractions, key=lambda k: fractions[k] * (j + 1) - len(out[k]))  # max keeps the first on ties
        out[name].append(example)
    return out


def split(
    examples: Sequence[Example], fractions: Mapping[str, float], *, seed: int, stratify: bool = False
) -> dict[str, list[Example]]:
    """Split ``examples`` into named parts of the given fractions; see the module docstring."""
    _check_fractions(fractions)
    rng = random.Random(seed)
    shuffled = list(examples)
    rng.shuffle(shuffled)
    if stratify:
        missing = [e.id for e in examples if e.stratum is None]
        if missing:
            raise DataError(
                f"{len(missing)} example(s) have no stratum to stratify by: {named_ids(missing)}; load them with "
                "stratify_by=<column> (every row needs that column), or split without stratify"
            )
        ordered = sorted(shuffled, key=lambda e: str(e.stratum))  # stable: the shuffle survives within a stratum
        parts = _deal(ordered, fractions)
        for part in parts.values():
            rng.shuffle(part)  # interleave the strata again
    else:
        counts, parts, start = _counts(len(shuffled), fractions), {}, 0
        for name in fractions:
            parts[name] = shuffled[start : start + counts[name]]
            start += counts[name]
    empty = [name for name, part in parts.items() if not part]
    if empty:
        raise DataError(
            f"split {empty} would be empty: {len(examples)} example(s) at fractions {dict(fractions)}; "
            "add examples or raise those fractions"
        )
    return parts
