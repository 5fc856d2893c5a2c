"""Seeded splits: a deterministic partition at the fractions, and stratified proportions per stratum."""

from __future__ import annotations

from collections import Counter

import pytest

from harness.errors import ConfigError, DataError
from tests.training.helpers import chat
from training.data.example import Example
from training.data.split import split


def _examples(sizes: dict[str, int]) -> list[Example]:
    return [chat(f"{name}{i}", f"q {name} {i}", "a", stratum=name) for name, size in sizes.items() for i in range(size)]


def test_a_seeded_partition_at_the_fractions() -> None:
    examples = _examples({"s": 10})
    parts = split(examples, {"train": 0.7, "validation": 0.2, "test": 0.1}, seed=3)
    assert {name: len(part) for name, part in parts.items()} == {"train": 7, "validation": 2, "test": 1}
    ids = [e.id for part in parts.values() for e in part]
    assert sorted(ids) == sorted(e.id for e in examples), "every example exactly once"
    again = split(examples, {"train": 0.7, "validation": 0.2, "test": 0.1}, seed=3)
    assert again == parts
    other = split(examples, {"train": 0.7, "validation": 0.2, "test": 0.1}, seed=4)
    assert other != parts


def test_counts_follow_largest_remainders() -> None:
    parts = split(_examples({"s": 7}), {"a": 0.5, "b": 0.5}, seed=0)
    assert sorted(len(p) for p in parts.values()) == [3, 4]


def test_stratified_keeps_each_strata_proportion() -> None:
    examples = _examples({"x": 50, "y": 30, "z": 20})
    parts = split(examples, {"train": 0.8, "validation": 0.2}, seed=1, stratify=True)
    assert Counter(e.stratum for e in parts["validation"]) == {"x": 10, "y": 6, "z": 4}
    assert Counter(e.stratum for e in parts["train"]) == {"x": 40, "y": 24, "z": 16}
    assert split(examples, {"train": 0.8, "validation": 0.2}, seed=1, stratify=True) == parts


def test_small_strata_still_fill_a_small_split() -> None:
    # 0.1 of 3 rounds to 0 in every stratum; dealing across strata still gives validation its share.
    parts = split(_examples({f"s{i}": 3 for i in range(5)}), {"train": 0.9, "validation": 0.1}, seed=0, stratify=True)
    assert len(parts["validation"]) in (1, 2)
    assert len(parts["train"]) + len(parts["validation"]) == 15


def test_stratify_needs_every_stratum() -> None:
    examples = [*_examples({"x": 3}), chat("loose", "q", "a")]
    with pytest.raises(DataError, match=r"1 example\(s\) have no stratum to stratify by: 'loose'"):
        split(examples, {"train": 0.5, "validation": 0.5}, seed=0, stratify=True)


def test_bad_fractions_and_empty_splits_are_refused() -> None:
    examples = _examples({"s": 4})
    with pytest.raises(ConfigError, match=r"sum to 0\.9"):
        split(examples, {"train": 0.8, "validation": 0.1}, seed=0)
    with pytest.raises(ConfigError, match="must each be in"):
        split(examples, {"train": 1.2, "validation": -0.2}, seed=0)
    with pytest.raises(DataError, match=r"split \['validation'\] would be empty: 4 example"):
        split(examples, {"train": 0.95, "validation": 0.05}, seed=0)
