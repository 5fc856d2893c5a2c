"""Exact and near-duplicate detection, and removal keeping the first of each group.

Exact duplicates have the same turns, whitespace aside. Near duplicates are compared on the Jaccard
similarity of their word 5-shingles (``text.words``, so case and punctuation do not count). Comparing
every pair is O(n²); instead each text gets a 128-value MinHash signature, cut into 16 bands of 8 rows,
and only texts that agree on a whole band are compared exactly (locality-sensitive hashing). A pair at
Jaccard 0.9 shares a band with probability 1 - (1 - 0.9⁸)¹⁶ > 0.999, at 0.8 about 0.95, while unrelated
texts almost never collide. Cost: O(total shingles × 128) to sign (vectorised with numpy), O(n × 16)
bucket look-ups, and an exact Jaccard only for colliding pairs. Scanning in order and comparing with
earlier *kept* texts only makes "keep the first" well defined and keeps buckets small.

What a threshold means: one changed word in an m-word text replaces 5 of its shingles, leaving a
Jaccard of (m - 5) / (m + 5). At the default 0.9 that is a near duplicate only beyond ~95 words, so on
short chat examples 0.9 catches copies that differ in case, punctuation, whitespace or an edit at the
very end; lower the threshold (0.7-0.8) to catch one-word edits of short texts. Erring towards keeping
data is deliberate: a wrongly removed example is lost, a kept near copy only weighs a little more.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from harness.errors import ConfigError
from training.data.example import Example
from training.data.text import shingles, words

SHINGLE_WORDS = 5
BANDS, ROWS = 16, 8
_PRIME = (1 << 31) - 1  # below 2**31, so a * x + b stays inside uint64
_RNG = np.random.default_rng(20261122)  # fixed: signatures must be comparable across calls
_A = _RNG.integers(1, _PRIME, size=BANDS * ROWS, dtype=np.uint64)
_B = _RNG.integers(0, _PRIME, size=BANDS * ROWS, dtype=np.uint64)

Groups = dict[str, list[str]]  # kept id -> ids of the duplicates removed in its favour


def _shingle_hash(shingle: tuple[str, ...]) -> int:
    # blake2b, not hash(): Python salts str hashes per process, and results must be reproducible.
    return int.from_bytes(hashlib.blake2b("\x1f".join(shingle).encode(), digest_size=4).digest(), "little")


def minhash(items: set[tuple[str, ...]]) -> np.ndarray:
    """The MinHash signature (BANDS * ROWS values) of a non-empty shingle set."""
    hashes = np.fromiter((_shingle_hash(s) % _PRIME for s in items), dtype=np.uint64, count=len(items))
    return ((hashes[:, None] * _A + _B) % _PRIME).min(axis=0)


def jaccard(left: set[tuple[str, ...]], right: set[tuple[str, ...]]) -> float:
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def _check_threshold(threshold: float) -> None:
    if not 0 < threshold <= 1:
        raise ConfigError(f"near_threshold={threshold} must be in (0, 1]; 0.9 flags texts that are 90% the same")


def _exact_key(example: Example) -> tuple[tuple[str, str], ...]:
    return tuple((role, " ".join(content.split())) for role, content in example.messages)


def exact_duplicates(examples: Sequence[Example]) -> Groups:
    """First id -> the ids of later examples with the same turns (whitespace aside)."""
    first: dict[tuple[tuple[str, str], ...], str] = {}
    groups: Groups = defaultdict(list)
    for example in examples:
        kept = first.setdefault(_exact_key(example), example.id)
        if kept != example.id:
            groups[kept].append(example.id)
    return dict(groups)


def near_duplicates(examples: Sequence[Example], threshold: float = 0.9) -> Groups:
    """Kept id -> ids of later examples whose 5-shingle Jaccard with it is at least ``threshold``.

    Exact duplicates are near duplicates too; run ``exact_duplicates`` first to report them apart.
    """
    _check_threshold(threshold)
    kept_shingles: list[set[tuple[str, ...]]] = []
    kept_ids: list[str] = []
    buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
    groups: Groups = defaultdict(list)
    for example in examples:
        items = shingles(words(example.text()), SHINGLE_WORDS)
        if not items:
            continue  # nothing to compare: no words at all (validate() reports empty fields)
        signature = minhash(items)
        keys = [(band, signature[band * ROWS : (band + 1) * ROWS].tobytes()) for band in range(BANDS)]
        candidates = sorted({index for key in keys for index in buckets.get(key, ())})
        match = next((i for i in candidates if jaccard(items, kept_shingles[i]) >= threshold), None)
        if match is not None:
            groups[kept_ids[match]].append(example.id)
            continue
        for key in keys:
            buckets[key].append(len(kept_ids))
        kept_ids.append(example.id)
        kept_shingles.append(items)
    return dict(groups)


def deduplicate(examples: Sequence[Example], *, near_threshold: float | None = 0.9) -> tuple[list[Example], Groups]:
    """The examples without exact (and, unless ``near_threshold`` is None, near) duplicates, keeping the first
    of each group, and the removed ids by the id that was kept."""
    removed = exact_duplicates(examples)
    dropped = {i for ids in removed.values() for i in ids}
    survivors = [e for e in examples if e.id not in dropped]
    if near_threshold is not None:
        for kept, ids in near_duplicates(survivors, near_threshold).items():
            removed.setdefault(kept, []).extend(ids)
            dropped.update(ids)
    return [e for e in examples if e.id not in dropped], removed
