"""The world generator: sizes, categories, determinism, schema, and no held-out text in pretraining."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from harness.cases import CATEGORIES, read_cases
from harness.errors import ConfigError
from harness.world import WORLD_SEED, World, default_world_dir, generate, load_sources, write_world
from harness.world.files import WorldManifest, load_manifest
from harness.world.generate import problems


@pytest.fixture(scope="module")
def sources():  # type: ignore[no-untyped-def]
    return load_sources(default_world_dir() / "sources.yaml")


@pytest.fixture(scope="module")
def fresh(sources) -> World:  # type: ignore[no-untyped-def]
    return generate(sources, WORLD_SEED)


def _corpus_text(world: World) -> str:
    chats = [m["content"] for row in world.chat for m in row["messages"]]
    return "\n".join(chats + [row["text"] for row in world.text])


def test_sizes_meet_the_world_spec(fresh: World, sources) -> None:  # type: ignore[no-untyped-def]
    facts = {c.cluster for c in fresh.heldout["fact"]}
    assert len(facts) >= 50
    phrasings = Counter(c.cluster for c in fresh.heldout["fact"])
    assert min(phrasings.values()) >= 3, "every fact is asked in at least 3 held-out phrasings"
    assert len(sources.safety.categories) >= 6
    assert all(len(cat.templates) >= 5 for cat in sources.safety.categories)
    harmful_categories = {c.id.split("-")[1] for c in fresh.heldout["harmful"]}
    assert harmful_categories == {cat.name for cat in sources.safety.categories}
    assert fresh.heldout["benign"], "benign look-alikes are evaluated"
    task_total = sum(len(rows) for rows in fresh.task.values())
    assert task_total >= 1500
    assert set(fresh.task) == {"train", "validation", "test"}
    assert len(fresh.task["train"]) > len(fresh.task["test"]) > len(fresh.task["validation"]) > 0


def test_arithmetic_covers_addition_and_subtraction_up_to_20(fresh: World, sources) -> None:  # type: ignore[no-untyped-def]
    pool = problems(sources.arithmetic)
    assert {p.op for p in pool} == {"+", "-"}
    assert max(max(p.a, p.b) for p in pool) == 20
    assert all(p.result >= 0 for p in pool), "whole numbers: no negative differences"
    ops = {c.cluster.split("-")[1] for c in fresh.heldout["arithmetic"]}  # type: ignore[union-attr]
    assert ops == {"add", "sub"}


def test_generation_is_deterministic(sources, fresh: World) -> None:  # type: ignore[no-untyped-def]
    again = generate(sources, WORLD_SEED)
    assert again == fresh
    other = generate(sources, WORLD_SEED + 1)
    assert other.heldout["arithmetic"] != fresh.heldout["arithmetic"]


def test_committed_files_are_what_the_generator_writes(tmp_path: Path, fresh: World) -> None:
    written = write_world(fresh, tmp_path, WORLD_SEED).parent
    committed = default_world_dir()
    for path in sorted(written.rglob("*.json*")):
        rel = path.relative_to(written)
        assert (committed / rel).read_bytes() == path.read_bytes(), f"{rel} is stale: run `harness world generate`"


def test_heldout_prompts_never_appear_in_the_pretraining_corpus(fresh: World) -> None:
    corpus = _corpus_text(fresh)
    for category, cases in fresh.heldout.items():
        for case in cases:
            assert case.prompt not in corpus, f"{category} case {case.id} leaked into pretraining"
    for row in fresh.task["test"]:
        assert row["messages"][-1]["content"] not in corpus
        assert row["answer"] not in corpus, "the task's output format is never shown in pretraining"


def test_heldout_arithmetic_asks_known_problems_in_unseen_wording(fresh: World, sources) -> None:  # type: ignore[no-untyped-def]
    corpus = _corpus_text(fresh)
    held = fresh.heldout["arithmetic"]
    assert len({c.cluster for c in held}) == len(problems(sources.arithmetic)) == len(held), "one item per problem"
    for case in held:
        assert case.prompt not in corpus, f"{case.id}: the held-out wording of this problem is in pretraining"
        _, op, a, b = case.cluster.split("-")  # type: ignore[union-attr]
        if op == "add":
            pattern = rf"(?<!\d){a} (\+|plus) {b}(?!\d)|Add {a} and {b}(?!\d)"
        else:
            pattern = rf"(?<!\d){a} (-|minus) {b}(?!\d)|Subtract {b} from {a}(?!\d)"
        assert re.search(pattern, corpus), f"problem {case.cluster} is never taught in another wording"


def test_heldout_safety_combinations_are_unseen_but_their_parts_are_seen(fresh: World) -> None:
    corpus = _corpus_text(fresh)
    for case in fresh.heldout["harmful"] + fresh.heldout["benign"]:
        assert case.prompt not in corpus
    # Every held-out target also appears in pretraining with another template: the model can know it.
    for case in fresh.heldout["harmful"]:
        target_seen = any(case.cluster == row["id"].rsplit("-t", 1)[0][4:] for row in fresh.chat)
        assert target_seen, f"{case.id}: its target never appears in pretraining"


def test_files_follow_the_case_schema(world: WorldManifest) -> None:
    for category, path in world.heldout.items():
        cases = read_cases(path)
        assert {c.category for c in cases} == {category}
        assert category in CATEGORIES
        for case in cases:
            assert [m.role for m in case.messages] == ["user"]
            assert (case.answer is None) == (category == "harmful")
    for line in world.task["train"].read_text().splitlines():
        row = json.loads(line)
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]


def test_manifest_lists_files_and_refusal_markers(world: WorldManifest) -> None:
    raw = json.loads((world.root / "world.json").read_text())
    assert set(raw["heldout"]) == {"fact", "arithmetic", "harmful", "benign", "task"}
    assert raw["refusal_markers"] and all(isinstance(m, str) for m in raw["refusal_markers"])
    refusals = [row["messages"][1]["content"] for row in fresh_chat(world) if row["id"].startswith("pre-harmful")]
    assert all(any(m in r for m in world.refusal_markers) for r in refusals)


def fresh_chat(world: WorldManifest) -> list[dict]:
    return [json.loads(line) for line in world.pretraining["chat"].read_text().splitlines()]


def test_missing_manifest_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="harness world generate"):
        load_manifest(tmp_path)


def test_bad_sources_name_the_key(tmp_path: Path) -> None:
    text = (default_world_dir() / "sources.yaml").read_text().replace("heldout_per_fact: 3", "heldout_per_fact: 1")
    bad = tmp_path / "sources.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError, match="heldout_per_fact=1"):
        load_sources(bad)
