"""Exact and near duplicates: grouping, keep-first removal, MinHash accuracy and recall at scale."""

from __future__ import annotations

import random

import pytest

from harness.errors import ConfigError
from tests.training.helpers import chat
from training.data.dedup import deduplicate, exact_duplicates, jaccard, minhash, near_duplicates
from training.data.load import load_examples
from training.data.text import shingles, words

LONG = (
    "The committee met on Tuesday to review the annual budget, and after a long discussion about "
    "maintenance costs it agreed to postpone the new library wing until the spring of next year"
)


def test_exact_duplicates_ignore_whitespace_and_keep_the_first() -> None:
    examples = [chat("a", "Hi", "Hello there"), chat("b", "x", "y"), chat("c", " Hi ", "Hello  there")]
    assert exact_duplicates(examples) == {"a": ["c"]}


def test_case_and_punctuation_changes_are_near_duplicates_at_the_default() -> None:
    recased = LONG.upper().replace(",", ";")
    examples = [chat("a", "Summarise.", LONG), chat("b", "Summarise.", recased), chat("c", "Summarise.", "Other.")]
    assert near_duplicates(examples) == {"a": ["b"]}


def test_a_one_word_edit_is_a_near_duplicate_and_a_rewrite_is_not() -> None:
    edited = LONG.replace("Tuesday", "Wednesday")
    rewrite = "Budget talks ran long on Tuesday; the library wing waits for spring, the committee decided"
    examples = [chat("a", "Summarise.", LONG), chat("b", "Summarise.", edited), chat("c", "Summarise.", rewrite)]
    shared = jaccard(shingles(words(examples[0].text()), 5), shingles(words(examples[1].text()), 5))
    assert 0.7 < shared < 0.8, "one edit in m words leaves (m - 5) / (m + 5) of the 5-shingles shared"
    assert near_duplicates(examples, 0.7) == {"a": ["b"]}
    assert near_duplicates(examples, shared + 0.01) == {}, "the threshold is a Jaccard bound"


def test_deduplicate_removes_later_copies_and_reports_them_by_kept_id() -> None:
    examples = [
        chat("a", "Summarise.", LONG),
        chat("b", "Q", "A"),
        chat("c", "Summarise.", LONG.lower()),
        chat("d", "Q", "A"),
    ]
    kept, removed = deduplicate(examples)
    assert [e.id for e in kept] == ["a", "b"]
    assert removed == {"b": ["d"], "a": ["c"]}
    kept_exact, removed_exact = deduplicate(examples, near_threshold=None)
    assert [e.id for e in kept_exact] == ["a", "b", "c"] and removed_exact == {"b": ["d"]}


def test_minhash_agreement_estimates_jaccard() -> None:
    left: set[tuple[str, ...]] = {(str(i),) for i in range(100)}
    right: set[tuple[str, ...]] = {(str(i),) for i in range(50, 150)}  # Jaccard 50 / 150
    agreement = float((minhash(left) == minhash(right)).mean())
    assert abs(agreement - 1 / 3) < 0.12


def test_near_duplicates_are_found_among_thousands() -> None:
    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(2000)]
    texts = [" ".join(rng.choices(vocabulary, k=40)) for _ in range(1500)]
    examples = [chat(f"e{i}", "Q", text) for i, text in enumerate(texts)]
    planted = []
    for i in range(0, 1500, 100):  # change the last word of every 100th text
        copy = texts[i].rsplit(" ", 1)[0] + " changed"
        planted.append(chat(f"copy{i}", "Q", copy))
    found = near_duplicates([*examples, *planted], 0.9)
    assert found == {f"e{i}": [f"copy{i}"] for i in range(0, 1500, 100)}


def test_the_world_task_train_set_has_no_duplicates(world) -> None:  # type: ignore[no-untyped-def]
    # Templated cards ("problem: 3 + 4, answer: 7") differ in a few words: they must not count as near copies.
    examples = load_examples(world.task["train"])
    assert deduplicate(examples)[1] == {}


def test_threshold_must_be_a_fraction() -> None:
    with pytest.raises(ConfigError, match=r"near_threshold=1\.5"):
        near_duplicates([chat("a", "q", "r")], 1.5)
