"""The whole pipeline: order of the steps, what each report holds, and the errors that stop it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.cases import Case, Message
from harness.errors import DataError
from tests.training.helpers import chat, openai_row, write_jsonl
from training.data import load_examples, load_replay_pool, prepare, world_eval_cases

CASES = [Case(id="case-1", category="fact", messages=(Message("user", "Capital of Peru?"),), answer="Lima")]


def _rows(n: int) -> list[dict[str, Any]]:
    return [openai_row(f"Question number {i} about topic {i * 7}?", f"Answer {i}.", id=f"r{i}") for i in range(n)]


def test_scrub_dedup_split_and_replay_in_one_call(tmp_path: Path, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    rows = [*_rows(20), openai_row("Mail me at ann@example.com", "Done.", id="pii"), {**_rows(1)[0], "id": "copy"}]
    pool = [chat(f"p{i}", f"General question {i}?", f"General answer {i}.") for i in range(40)]
    data = prepare(
        write_jsonl(tmp_path / "train.jsonl", rows),
        tiny_tokenizer,
        max_length=128,
        eval_cases=CASES,
        validation_fraction=0.25,
        replay=pool,
        replay_fraction=0.5,
        seed=1,
    )
    assert data.pii.counts["email"] == 1
    assert data.duplicates_removed == {"r0": ["copy"]}
    ids = [e.id for e in data.train + data.validation]
    assert "copy" not in ids and len(set(ids)) == len(ids)
    assert len(data.validation) == 5, "a quarter of the 21 unique task examples"
    assert data.n_replay == round(0.5 * 16) and len(data.train) == 16 + 8
    assert all(not e.source.startswith("replay:") for e in data.validation), "replay goes into train only"
    assert any("[EMAIL]" in content for e in data.train + data.validation for _, content in e.messages)
    assert "duplicates removed: 1" in data.format()


def test_a_validation_file_is_used_as_given_minus_copies_of_train(tmp_path: Path, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    train = write_jsonl(tmp_path / "train.jsonl", _rows(6))
    validation = write_jsonl(
        tmp_path / "dev.jsonl", [{**_rows(1)[0], "id": "dev-copy"}, openai_row("New?", "Yes.", id="d1")]
    )
    data = prepare(train, tiny_tokenizer, max_length=128, eval_cases=CASES, validation_path=validation)
    assert [e.id for e in data.validation] == ["d1"]
    assert len(data.train) == 6


def test_validation_errors_and_leaks_stop_the_run(tmp_path: Path, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    empty = write_jsonl(tmp_path / "empty.jsonl", [*_rows(4), openai_row("Hi", " ", id="blank")])
    with pytest.raises(DataError, match=r"'blank' assistant turn 1 is empty"):
        prepare(empty, tiny_tokenizer, max_length=128, eval_cases=CASES)
    leaky = write_jsonl(tmp_path / "leaky.jsonl", [*_rows(4), openai_row("Capital of Peru?", "Lima", id="leak")])
    with pytest.raises(DataError, match=r"leak -> case-1"):
        prepare(leaky, tiny_tokenizer, max_length=128, eval_cases=CASES)
    clash = write_jsonl(tmp_path / "clash.jsonl", _rows(2))
    with pytest.raises(DataError, match="ids used twice"):
        prepare(clash, tiny_tokenizer, max_length=128, eval_cases=CASES, validation_path=clash)


def test_the_world_task_with_replay_passes_every_check(world, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    data = prepare(
        world.task["train"],
        tiny_tokenizer,
        max_length=128,
        eval_cases=world_eval_cases(world),
        validation_path=world.task["validation"],
        replay=load_replay_pool(world),
        replay_fraction=0.1,
    )
    n_train, n_validation = (len(load_examples(world.task[name])) for name in ("train", "validation"))
    assert data.n_replay == round(0.1 * n_train) and len(data.train) == n_train + data.n_replay
    assert len(data.validation) == n_validation and data.duplicates_removed == {}


def test_replay_holdout_draws_only_pool_examples_that_do_not_answer_an_evaluated_case(
    tmp_path: Path,
    tiny_tokenizer,  # type: ignore[no-untyped-def]
) -> None:
    pool = [chat(f"p{i}", f"General question {i}?", "Lima" if i < 30 else f"Answer {i}.") for i in range(40)]
    train = write_jsonl(tmp_path / "train.jsonl", _rows(20))
    data = prepare(
        train, tiny_tokenizer, max_length=128, eval_cases=CASES, replay=pool, replay_fraction=0.5, replay_holdout=True
    )
    replayed = {e.id for e in data.train if e.source.startswith("replay:")}
    assert len(data.replay_held_out) == 30 and len(replayed) == data.n_replay == 9
    assert replayed <= {f"p{i}" for i in range(30, 40)}
    assert "30 pool examples held out" in data.format()


def test_several_training_files_are_trained_on_together_with_ids_unique_across_them(
    tmp_path: Path,
    tiny_tokenizer,  # type: ignore[no-untyped-def]
) -> None:
    task = write_jsonl(tmp_path / "task.jsonl", _rows(8))
    safety_rows = [
        openai_row(f"Harmful request {i} of kind {i * 3}?", "I can't help with that.", id=f"s{i}") for i in range(4)
    ]
    safety = write_jsonl(tmp_path / "safety.jsonl", safety_rows)
    data = prepare([task, safety], tiny_tokenizer, max_length=128, eval_cases=CASES, validation_fraction=0.25)
    ids = {e.id for e in data.train + data.validation}
    assert ids == {f"r{i}" for i in range(8)} | {f"s{i}" for i in range(4)}
    assert {e.source.split(":")[0] for e in data.train} <= {str(task), str(safety)}
    with pytest.raises(DataError, match="ids used twice"):
        prepare([task, task], tiny_tokenizer, max_length=128, eval_cases=CASES)


def test_a_category_that_loses_most_of_its_replay_to_unfinished_replies_is_named(
    tmp_path: Path,
    tiny_tokenizer,  # type: ignore[no-untyped-def]
) -> None:
    from dataclasses import replace

    data = prepare(write_jsonl(tmp_path / "train.jsonl", _rows(8)), tiny_tokenizer, max_length=128, eval_cases=CASES)
    lopsided = replace(data, replay_answered=(("arithmetic", 10, 5), ("benign", 86, 77)))
    warnings = [line for line in lopsided.format().splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "benign: 77 of 86" in warnings[0] and "replay_reply_tokens" in warnings[0]
