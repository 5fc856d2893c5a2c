"""Repeated sampling: ``decoding: {temperature: 0.7, repeats: k}`` scores each case k times.

- Repeat r is generated with its own seed (:func:`repeat_seeds`): repeat 0 keeps the suite's seed, so
  ``repeats: 1`` is today's run, and the others are derived from it, distinct and reproducible. The seed is
  part of the decoding in the cache key, so each repeat is cached on its own.
- A case's score is the mean of its k samples, and its samples are kept on the row; the paired tests then
  run on per-item means, so the item (or its cluster) is the unit and n is the number of items, never of
  samples.
- Binary metrics report pass@k, the unbiased estimator of Chen et al. (2021), for a few k up to the repeats.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.run import DecodingSettings
from harness.scores import ScoreTable

PASS_AT = (1, 2, 5, 10, 20, 50, 100)  # the k reported (those up to the repeats, and the repeats themselves)


def repeat_seeds(seed: int, repeats: int) -> tuple[int, ...]:
    """One seed per repeat: ``seed`` first, then values derived from (seed, r) by SHA-256 (31 bits)."""
    derived = (
        int.from_bytes(hashlib.sha256(f"{seed}:repeat:{r}".encode()).digest()[:4], "big") & 0x7FFFFFFF
        for r in range(1, repeats)
    )
    return (seed, *derived)


def repeat_settings(settings: DecodingSettings, repeat: int) -> DecodingSettings:
    """The decoding of one repeat: the settings with that repeat's seed."""
    if not 0 <= repeat < settings.repeats:
        raise ConfigError(f"repeat {repeat} is out of range: the decoding asks for {settings.repeats} repeat(s)")
    return replace(settings, seed=repeat_seeds(settings.seed, settings.repeats)[repeat])


def cache_decoding(settings: DecodingSettings) -> dict[str, Any]:
    """What identifies one repeat's generations: the decoding with its seed, without the repeat count."""
    return {k: v for k, v in settings.to_dict().items() if k != "repeats"}


def per_item(per_repeat: Sequence[Sequence[float]]) -> tuple[list[float], list[tuple[float, ...]] | None]:
    """(per-item mean, per-item samples) from the scores of each repeat; no samples for a single repeat."""
    if len(per_repeat) == 1:
        return list(per_repeat[0]), None
    samples = [tuple(float(v) for v in column) for column in zip(*per_repeat, strict=True)]
    return [sum(s) / len(s) for s in samples], samples


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021): the chance that k of n samples, c of them correct, include a correct one,
    ``1 - C(n - c, k) / C(n, k)``, computed as a product so large n does not overflow."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ConfigError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_at_k_summary(table: ScoreTable) -> dict[str, float] | None:
    """Mean pass@k over items, for the k in PASS_AT up to the repeats (and the repeats); None unless every row
    has the same number of binary samples."""
    samples = [row.samples for row in table.rows]
    sizes = {len(s) for s in samples}
    if len(sizes) != 1 or min(sizes) < 2 or any(v not in (0.0, 1.0) for s in samples for v in s):
        return None
    n = sizes.pop()
    ks = sorted({k for k in PASS_AT if k <= n} | {n})
    return {f"pass@{k}": float(np.mean([pass_at_k(n, int(sum(s)), k) for s in samples])) for k in ks}
