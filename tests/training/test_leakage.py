"""Leakage: the world's task data passes against the held-out sets, and copied evaluation items are caught."""

from __future__ import annotations

import pytest

from harness.cases import Case, Message
from harness.errors import ConfigError, DataError
from tests.training.helpers import chat
from training.data.leakage import check_leakage, find_leaks, world_eval_cases
from training.data.load import load_examples


def _case(case_id: str, prompt: str, answer: str | None, category: str = "fact") -> Case:
    return Case(id=case_id, category=category, messages=(Message("user", prompt),), answer=answer)


def test_the_world_task_data_does_not_leak_into_the_held_out_sets(world) -> None:  # type: ignore[no-untyped-def]
    # The world was generated with task train/validation disjoint from every held-out file.
    cases = world_eval_cases(world)
    assert str(world.task["test"]) in cases and len(cases) == len(set(world.heldout.values()))
    for name in ("train", "validation"):
        assert find_leaks(load_examples(world.task[name]), cases) == [], name


def test_a_copied_held_out_fact_is_caught_and_named(world) -> None:  # type: ignore[no-untyped-def]
    cases = world_eval_cases(world)
    fact_file = str(world.heldout["fact"])
    copied = cases[fact_file][0]
    train = load_examples(world.task["train"])[:50]
    planted = chat("planted", copied.prompt, copied.answer or "")
    leaks = find_leaks([*train, planted], cases)
    assert {(leak.example_id, leak.case_id, leak.case_file) for leak in leaks} >= {("planted", copied.id, fact_file)}
    assert {leak.example_id for leak in leaks} == {"planted"}
    with pytest.raises(DataError) as info:
        check_leakage([*train, planted], cases)
    message = str(info.value)
    assert f"planted -> {copied.id} ({fact_file})" in message
    assert "remove these examples" in message


def test_a_copied_task_test_item_and_a_copied_answer_are_caught(world) -> None:  # type: ignore[no-untyped-def]
    cases = world_eval_cases(world)
    test_case = cases[str(world.task["test"])][0]
    benign = cases[str(world.heldout["benign"])][0]
    assert benign.answer is not None and len(benign.answer.split()) >= 8
    examples = [
        chat("task-copy", test_case.prompt, test_case.answer or ""),
        chat("answer-copy", "Any tips for a weekend project?", f"Sure. {benign.answer} Have fun!"),
    ]
    leaked = {(leak.example_id, leak.case_id) for leak in find_leaks(examples, cases)}
    assert ("task-copy", test_case.id) in leaked
    assert ("answer-copy", benign.id) in leaked


def test_overlap_is_the_longest_shared_run() -> None:
    answer = "one two three four five six seven eight nine ten"
    (leak,) = find_leaks(
        [chat("e", "Q?", f"Intro words, then {answer}, and more.")], [_case("c", "Unrelated?", answer)]
    )
    assert leak.overlap == answer


def test_operators_count_so_neighbouring_sums_do_not_leak() -> None:
    cases = [_case("add", "What is 14 + 3?", "17", "arithmetic")]
    assert find_leaks([chat("sub", "What is 14 - 3?", "11")], cases) == []
    assert [leak.case_id for leak in find_leaks([chat("same", "what is 14 + 3", "17")], cases)] == ["add"]


def test_short_prompts_must_appear_whole_and_tiny_ones_must_match_a_whole_turn() -> None:
    cases = [_case("cap", "Capital of Peru?", "Lima"), _case("hi", "Hello?", "Hi.")]
    assert find_leaks([chat("e1", "Which is the capital of Peru, please?", "Lima")], cases)[0].case_id == "cap"
    assert find_leaks([chat("e2", "Capital of Peruvian art?", "x")], cases) == []
    assert find_leaks([chat("e3", "Hello? Can you help me with my taxes?", "Sure")], cases) == []
    assert [leak.case_id for leak in find_leaks([chat("e4", "hello", "Hi")], cases)] == ["hi"]


def test_cases_without_a_file_are_labelled_by_meta_or_category() -> None:
    tagged = Case(
        id="t",
        category="fact",
        messages=(Message("user", "Capital of Peru?"),),
        answer="Lima",
        meta={"file": "x.jsonl"},
    )
    untagged = _case("u", "Capital of Chile?", "Santiago")
    example = chat("e", "Capital of Peru? And capital of Chile?", "Lima, Santiago")
    assert [(leak.case_id, leak.case_file) for leak in find_leaks([example], [tagged, untagged])] == [
        ("t", "x.jsonl"),
        ("u", "<fact cases>"),
    ]


def test_the_error_names_at_most_twenty_leaks() -> None:
    cases = [_case(f"c{i}", f"Tell me the capital of country number {i}", "x") for i in range(25)]
    examples = [chat(f"e{i}", f"Tell me the capital of country number {i}", "x") for i in range(25)]
    with pytest.raises(DataError, match=r"(?s)25 training example\(s\).*and 5 more") as info:
        check_leakage(examples, cases)
    assert "e19 -> c19" in str(info.value) and "e20 -> c20" not in str(info.value)


def test_n_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="leakage n=0"):
        find_leaks([], [], n=0)
