"""The validation report: lengths, empty turns, over-long and degenerate examples, duplicates."""

from __future__ import annotations

import pytest

from tests.training.helpers import chat
from training.data.encode import token_ids
from training.data.validate import LengthStats, repetition_reason, validate

LONG = " ".join(f"word{i}" for i in range(40))


def test_a_clean_set_has_no_errors_and_its_lengths_are_the_templates(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples = [chat("a", "What is 2 + 2?", "4"), chat("b", "Name a colour.", "Blue, like the sky in June.")]
    report = validate(examples, tiny_tokenizer, max_length=128)
    lengths = sorted(len(token_ids(e, tiny_tokenizer)) for e in examples)
    assert report.ok and report.warnings == ()
    assert report.n == 2
    assert (report.token_lengths.min, report.token_lengths.max) == (lengths[0], lengths[1])
    assert report.token_lengths.mean == pytest.approx(sum(lengths) / 2)
    assert "no problems found" in report.format()


def test_empty_turns_and_over_long_examples_are_errors(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples = [chat("empty", "Question?", "  "), chat("long", "Tell me everything.", LONG), chat("ok", "Hi", "Hey")]
    limit = len(token_ids(examples[1], tiny_tokenizer)) - 1
    report = validate(examples, tiny_tokenizer, max_length=limit)
    assert report.empty_fields == (("empty", "assistant turn 1 is empty"),)
    assert report.too_long == ("long",)
    assert not report.ok and len(report.errors) == 2
    text = report.format()
    assert "ERROR: 1 empty turn(s): 'empty' assistant turn 1 is empty" in text
    assert f"longer than max_length={limit} tokens: 'long'" in text


def test_degenerate_replies_are_warnings(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples = [
        chat("loop", "Tell a joke.", "Sure: " + "I am sorry. " * 4),
        chat("flat", "Count.", " ".join(["one", "two", "three", "four", "five"] * 7)),
        chat("fine", "Tell a joke.", LONG),
    ]
    report = validate(examples, tiny_tokenizer, max_length=512)
    assert report.repetition == ("loop", "flat")
    assert report.ok, "repetition warns, it does not block"
    assert any("'i am sorry' repeats 4 times" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("text", "degenerate"),
    [
        ("ha " * 8, True),
        ("ha " * 7, False),  # fewer than 8 words repeated
        ("problem: 13 - 4, answer: 9", False),
        ("country: Peru, capital: Lima", False),
        ("the the the the", False),
        ("a b c d " * 3, False),  # 3 copies of a 4-gram
        ("a b c d " * 4, True),
    ],
)
def test_repetition_rule(text: str, degenerate: bool) -> None:
    assert (repetition_reason(text) is not None) is degenerate


def test_duplicates_are_grouped_with_the_kept_id_first(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    examples = [chat("a", "Q", LONG), chat("b", "Q", LONG), chat("c", "Q", LONG.upper() + "!")]
    report = validate(examples, tiny_tokenizer, max_length=512)
    assert report.exact_duplicates == (("a", "b"),)
    assert report.near_duplicates == (("a", "c"),)
    assert report.ok and len(report.warnings) == 2


def test_length_stats_use_nearest_rank() -> None:
    stats = LengthStats.of(list(range(1, 21)))
    assert (stats.min, stats.mean, stats.p95, stats.max) == (1, 10.5, 19, 20)
    assert LengthStats.of([]).max == 0


def test_the_world_task_train_set_validates_clean(world, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    from training.data.load import load_examples

    report = validate(load_examples(world.task["train"]), tiny_tokenizer, max_length=128)
    assert report.ok and report.warnings == (), report.format()


def test_few_distinct_words_in_a_long_reply_is_degenerate() -> None:
    import random

    rng = random.Random(1)
    vocabulary = ["red", "green", "blue", "cyan", "pink", "gold"]
    text = " ".join(rng.choice(vocabulary) for _ in range(40))
    assert repetition_reason(text) == "only 6 distinct words in 40"
    assert repetition_reason(" ".join(f"w{i}" for i in range(40))) is None
