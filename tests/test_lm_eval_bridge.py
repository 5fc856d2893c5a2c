"""lm-eval bridge: per-sample ScoreTables from simple_evaluate on an already-loaded model, aligned by doc id."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.cases import Case
from harness.errors import ConfigError, DataError
from harness.lm_eval_bridge import WORLD_TASKS_DIR, TaskResult, _by_doc_id, run_tasks
from harness.models import LoadedModel, ModelSpec, load
from harness.run import loglikelihood, render
from harness.world import default_world_dir, load_manifest

WORLD_TASKS = ("world_capitals_mc", "world_arithmetic_gen")
CATEGORY = {"world_capitals_mc": "fact", "world_arithmetic_gen": "arithmetic"}
LIMIT = 6


def _cases(category: str, n: int = LIMIT) -> list[Case]:
    return load_manifest(default_world_dir()).cases(category)[:n]


def _answers_right(case: Case) -> bool:
    """Which items the scripted model gets right: a rule on the prompt alone, so both sides can apply it."""
    return len(case.prompt) % 2 == 0


def _world_tasks_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("world_tasks_under_test", WORLD_TASKS_DIR / "world_tasks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_world_result(result: TaskResult, task: str) -> None:
    cases = _cases(CATEGORY[task])
    assert result.table.ids == [case.id for case in cases]  # held-out order, one row per doc
    assert [row.cluster for row in result.table.rows] == [case.cluster for case in cases]
    assert result.n == LIMIT and result.higher_is_better
    assert abs(result.table.mean() - result.aggregate) <= 1e-9
    assert set(result.table.scores) <= {0.0, 1.0}
    assert result.table.provenance["lm_eval_version"] == "0.4.13"
    assert len(result.table.provenance["task_config_hash"]) == 64


@pytest.mark.parametrize("model_fixture", ["tiny_model_dir", "tiny_adapter_dir"])
def test_world_tasks_give_one_row_per_heldout_doc_from_any_cwd(
    model_fixture: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from peft import PeftModel

    loaded = load(ModelSpec(str(request.getfixturevalue(model_fixture))))
    assert isinstance(loaded.model, PeftModel) == (model_fixture == "tiny_adapter_dir")
    monkeypatch.chdir(tmp_path)  # the tasks' data must not depend on where pytest runs
    results = run_tasks(loaded, WORLD_TASKS, limit=LIMIT)
    assert set(results) == set(WORLD_TASKS)
    assert results["world_capitals_mc"].metric == "acc"
    assert results["world_arithmetic_gen"].metric == "exact_match"
    for task in WORLD_TASKS:
        _check_world_result(results[task], task)
    capitals = {case.answer for case in load_manifest(default_world_dir()).cases("fact")}
    assert all(row.output in capitals for row in results["world_capitals_mc"].table.rows)


def test_runs_are_deterministic(tiny_adapter_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_adapter_dir)))
    first = run_tasks(loaded, WORLD_TASKS, limit=4, seed=3)
    second = run_tasks(loaded, WORLD_TASKS, limit=4, seed=3)
    for task in WORLD_TASKS:
        assert first[task].table.to_dict() == second[task].table.to_dict()


def _scripted(monkeypatch: pytest.MonkeyPatch, loaded: LoadedModel) -> dict[str, list[Any]]:
    """Replace HFLM's model calls with answers we control; returns the requests lm-eval made."""
    from lm_eval.models.huggingface import HFLM

    def by_prompt(category: str) -> dict[str, Case]:  # chat-rendered and plain prompts both find the item
        cases = _cases(category, 10_000)
        return {p: c for c in cases for p in (c.prompt, render(loaded.tokenizer, c.messages))}

    facts, sums = by_prompt("fact"), by_prompt("arithmetic")
    seen: dict[str, list[Any]] = {"loglikelihood": [], "generate_until": []}

    def question(context: str, cases: dict[str, Case]) -> Case:
        assert context in cases, f"lm-eval sent a prompt that is no world item's: {context!r}"
        return cases[context]

    def fake_loglikelihood(self: Any, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        out = []
        for context, continuation in (r.args for r in requests):
            seen["loglikelihood"].append((context, continuation))
            case = question(context, facts)
            # Right items: the answer is the likeliest option. Wrong ones: it is the least likely.
            out.append((0.0 if (continuation.strip() == case.answer) == _answers_right(case) else -1.0, False))
        return out

    def fake_generate(self: Any, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        replies = []
        for context, gen_kwargs in (r.args for r in requests):
            seen["generate_until"].append((context, gen_kwargs))
            case = question(context, sums)
            assert case.answer is not None
            # Padding and a full stop must not matter; a wrong number must.
            replies.append(f"  {case.answer}.\n" if _answers_right(case) else f"{int(case.answer) + 1}")
        return replies

    monkeypatch.setattr(HFLM, "loglikelihood", fake_loglikelihood)
    monkeypatch.setattr(HFLM, "generate_until", fake_generate)
    return seen


def test_per_sample_scores_follow_a_scripted_model(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    seen = _scripted(monkeypatch, loaded)
    results = run_tasks(loaded, WORLD_TASKS, limit=LIMIT)
    for task in WORLD_TASKS:
        cases = _cases(CATEGORY[task])
        expected = {case.id: float(_answers_right(case)) for case in cases}
        assert 0.0 < sum(expected.values()) < LIMIT, "the rule must split the docs, or the test proves little"
        rows = results[task].table.by_id()
        assert {i: row.score for i, row in rows.items()} == expected
        assert results[task].aggregate == pytest.approx(sum(expected.values()) / LIMIT)
        for case in cases:  # the option chosen / the reply with surrounding whitespace stripped
            right = f"{case.answer}." if task == "world_arithmetic_gen" else case.answer
            assert (rows[case.id].output == right) == _answers_right(case)
    # The prompts are the chat template's, and options / replies start right after the assistant tag.
    facts = {render(loaded.tokenizer, case.messages): case for case in _cases("fact")}
    assert {context for context, _ in seen["loglikelihood"]} == set(facts)
    assert all(not option[0].isspace() for _, option in seen["loglikelihood"])
    assert len(seen["loglikelihood"]) == 4 * LIMIT
    context, gen_kwargs = seen["generate_until"][0]
    assert context == render(loaded.tokenizer, _cases("arithmetic")[0].messages)
    assert gen_kwargs["until"] == ["\n"] and gen_kwargs["max_gen_toks"] == 16 and not gen_kwargs["do_sample"]


def test_plain_prompts_without_chat_template(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    seen = _scripted(monkeypatch, loaded)
    result = run_tasks(loaded, ["world_capitals_mc"], limit=2, apply_chat_template=False)["world_capitals_mc"]
    assert result.table.provenance["chat"] is False
    prompts = {case.prompt for case in _cases("fact", 2)}
    assert {context for context, _ in seen["loglikelihood"]} == prompts
    assert all(option.startswith(" ") and not option[1].isspace() for _, option in seen["loglikelihood"])


def test_multiple_choice_agrees_with_direct_loglikelihood(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    result = run_tasks(loaded, ["world_capitals_mc"], limit=4)["world_capitals_mc"]
    module = _world_tasks_module()
    docs = {doc["id"]: doc for doc in module.with_capital_choices(module.fact_dataset()["test"])}
    for case, row in zip(_cases("fact", 4), result.table.rows, strict=True):
        choices = docs[case.id]["choices"]
        lls = dict(zip(choices, loglikelihood(loaded, [(case.messages, c) for c in choices]), strict=True))
        # lm-eval pads on the right, harness.run on the left: the same numbers up to float noise.
        assert lls[row.output] >= max(lls.values()) - 1e-3
        assert row.score == float(row.output == case.answer)


def test_metric_choice_and_unknown_metric(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    norm = run_tasks(loaded, ["world_capitals_mc"], limit=3, metrics={"world_capitals_mc": "acc_norm"})
    assert norm["world_capitals_mc"].metric == "acc_norm"
    assert norm["world_capitals_mc"].table.provenance["filter"] == "none"
    with pytest.raises(ConfigError, match=r"world_capitals_mc.*reports no metric 'f1'.*acc,none"):
        run_tasks(loaded, ["world_capitals_mc"], limit=2, metrics={"world_capitals_mc": "f1"})
    with pytest.raises(ConfigError, match=r"metrics= names \['world_capitals'\].*world_capitals_mc"):
        run_tasks(loaded, ["world_capitals_mc"], limit=2, metrics={"world_capitals": "acc_norm"})


def test_unknown_task_names_the_task_and_the_fix(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    with pytest.raises(ConfigError, match=r"world_capitals_mcq.*world_capitals_mc.*include_paths"):
        run_tasks(loaded, ["world_capitals_mcq"])


def test_a_task_that_cannot_be_built_names_the_task(tiny_model_dir: Path, tmp_path: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    with pytest.raises(ConfigError, match=r"'world_arithmetic_gen' could not be built.*no world manifest"):
        run_tasks(loaded, ["world_arithmetic_gen"], world_dir=tmp_path)


def test_misaligned_samples_are_errors() -> None:
    samples = [{"doc_id": 0}, {"doc_id": 2}]
    with pytest.raises(DataError, match=r"'t' evaluated 3 docs.*missing doc ids \[1\]"):
        _by_doc_id("t", samples, 3)
    with pytest.raises(DataError, match=r"'t' logged doc 0 twice"):
        _by_doc_id("t", [{"doc_id": 0}, {"doc_id": 0}], 1)


def test_four_bit_model_runs(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir), load_in_4bit=True))
    assert any(type(module).__name__ == "Linear4bit" for module in loaded.model.modules())
    result = run_tasks(loaded, ["world_capitals_mc"], limit=4)["world_capitals_mc"]
    assert result.table.ids == [case.id for case in _cases("fact", 4)]
    assert abs(result.table.mean() - result.aggregate) <= 1e-9
