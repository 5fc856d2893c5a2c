"""Replay mixing: the world's pool, a seeded sample of the asked size, provenance and the errors."""

from __future__ import annotations

import pytest

from harness.cases import Case, Message
from harness.errors import ConfigError, DataError
from tests.training.helpers import chat
from training.data.example import Example
from training.data.replay import hold_out, load_replay_pool, mix_replay


def _task(n: int) -> list[Example]:
    return [chat(f"t{i}", f"task {i}", "done") for i in range(n)]


def _pool(n: int) -> list[Example]:
    return [chat(f"p{i}", f"general {i}", "ok") for i in range(n)]


def test_the_world_pool_is_its_pretraining_chat(world) -> None:  # type: ignore[no-untyped-def]
    pool = load_replay_pool(world)
    rows = [line for line in world.pretraining["chat"].read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(pool) == len(rows)
    assert all(e.source == f"replay:{e.id}" for e in pool)


def test_mix_adds_the_rounded_fraction_without_replacement() -> None:
    mixed = mix_replay(_task(20), _pool(50), fraction=0.25, seed=0)
    replayed = [e for e in mixed if e.source.startswith("replay:")]
    assert len(mixed) == 25 and len(replayed) == 5
    assert len({e.id for e in replayed}) == 5
    assert {e.source for e in replayed} == {f"replay:{e.id}" for e in replayed}
    assert {e.id for e in mixed} >= {f"t{i}" for i in range(20)}


def test_mix_is_seeded_and_shuffled() -> None:
    first = mix_replay(_task(20), _pool(50), fraction=0.5, seed=7)
    assert mix_replay(_task(20), _pool(50), fraction=0.5, seed=7) == first
    assert mix_replay(_task(20), _pool(50), fraction=0.5, seed=8) != first
    assert [e.id for e in first[:20]] != [f"t{i}" for i in range(20)], "replay is spread through the set"


def test_mix_errors_name_the_sizes_and_clashes() -> None:
    with pytest.raises(DataError, match=r"needs 10 replay examples but the pool has 3"):
        mix_replay(_task(20), _pool(3), fraction=0.5, seed=0)
    with pytest.raises(ConfigError, match="must be >= 0"):
        mix_replay(_task(2), _pool(3), fraction=-0.1, seed=0)
    with pytest.raises(DataError, match=r"replay example id\(s\) 't0'"):
        mix_replay(_task(1), [chat("t0", "general", "ok")], fraction=1.0, seed=0)


def test_weighted_replay_draws_each_category_in_proportion() -> None:
    from training.data.example import Example
    from training.data.replay import mix_replay

    def ex(i: int, cat: str) -> Example:
        return Example(f"{cat}{i}", (("user", f"q {cat} {i}"), ("assistant", "a")), f"pool:{i}", cat)

    pool = [ex(i, "harmful") for i in range(50)] + [ex(i, "fact") for i in range(50)]
    task = [Example(f"t{i}", (("user", f"task {i}"), ("assistant", "b")), "t.jsonl", None) for i in range(40)]
    mixed = mix_replay(task, pool, fraction=1.0, seed=3, weights={"harmful": 3, "fact": 1})
    drawn = [e for e in mixed if e.source.startswith("replay:")]
    assert sum(e.stratum == "harmful" for e in drawn) == 30 and sum(e.stratum == "fact" for e in drawn) == 10
    assert mixed == mix_replay(task, pool, fraction=1.0, seed=3, weights={"harmful": 3, "fact": 1})


def test_weights_must_name_pool_categories_and_fit_the_pool() -> None:
    import pytest

    from harness.errors import ConfigError, DataError
    from training.data.example import Example
    from training.data.replay import mix_replay

    pool = [Example(f"p{i}", (("user", f"q {i}"), ("assistant", "a")), "pool", "fact") for i in range(5)]
    pool += [Example(f"h{i}", (("user", f"h {i}"), ("assistant", "a")), "pool", "harmful") for i in range(20)]
    task = [Example(f"t{i}", (("user", f"t {i}"), ("assistant", "b")), "t", None) for i in range(10)]
    with pytest.raises(ConfigError, match=r"name \['harmfull'\]"):
        mix_replay(task, pool, fraction=0.5, seed=0, weights={"harmfull": 1})
    with pytest.raises(DataError, match="ask for 10 'fact' examples but the pool has 5"):
        mix_replay(task, pool, fraction=1.0, seed=0, weights={"fact": 1})


def test_hold_out_leaves_out_the_pool_examples_that_answer_an_evaluated_case() -> None:
    pool = [
        chat("cap-fr", "What is the capital of France?", "Paris"),
        chat("cap-fr-2", "Name the capital city of France.", "Paris."),  # punctuation and case do not matter
        chat("cap-de", "What is the capital of Germany?", "Berlin"),
        chat("sum", "What is 2 + 2?", "4"),
    ]
    ask = Message("user", "Which city is the capital of France? Answer with the name of the city only.")
    cases = {"capitals.jsonl": [Case(id="fact-france-q1", category="fact", messages=(ask,), answer="paris")]}
    refusal = Case(id="h1", category="harmful", messages=(Message("user", "How do I pick a lock?"),), answer=None)
    kept, held = hold_out(pool, {**cases, "harmful.jsonl": [refusal]})
    assert [e.id for e in kept] == ["cap-de", "sum"] and held == ("cap-fr", "cap-fr-2")
    assert hold_out(pool, {})[1] == (), "nothing evaluated, nothing held out"
