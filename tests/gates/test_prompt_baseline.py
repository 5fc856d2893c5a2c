"""Prompt-baseline gate: few-shot turns before each case, drawn with a recorded seed, never overlapping the
evaluated cases; the candidate must beat the prompted base model (superiority)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from harness.cache import ResultCache
from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.gates import evaluate
from harness.gates.context import RunContext
from harness.gates.prompt_baseline import draw, prompted, read_shots
from harness.gates.registry import GateCase
from harness.pool import build_pool
from harness.run import DecodingSettings
from harness.spec import load_suite


def _files(root: Path, n_cases: int = 40, overlap: str | None = None) -> Path:
    cases = [
        {"id": f"c{i}", "category": "task", "messages": [{"role": "user", "content": f"card {i}"}], "answer": f"a{i}"}
        for i in range(n_cases)
    ]
    shots = [
        {
            "id": f"t{i}",
            "messages": [{"role": "user", "content": f"train {i}"}, {"role": "assistant", "content": f"b{i}"}],
        }
        for i in range(8)
    ]
    if overlap:
        shots.append(
            {"id": overlap, "messages": [{"role": "user", "content": "card 3"}, {"role": "assistant", "content": "x"}]}
        )
    (root / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cases))
    (root / "shots.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shots))
    (root / "test_pb.yaml").write_text(
        "suite: pb\ngates:\n  pb: {kind: prompt_baseline, cases: cases.jsonl, examples: shots.jsonl, k: 2, seed: 7,"
        " margin: 0.05, system_prompt: Fill in the card.}\n"
    )
    return root / "test_pb.yaml"


def _fake_generate(candidate_right: Sequence[bool], prompted_right: bool, seen: list[Case]):  # type: ignore[no-untyped-def]
    """The candidate answers case i right when candidate_right[i]; the prompted base when prompted_right."""

    def generate(loaded: str, cases: Sequence[Case], settings: DecodingSettings, desc: str = "") -> list[str]:
        seen.extend(cases)
        if loaded == "candidate":
            return [c.answer if candidate_right[int(c.id[1:])] else "no" for c in cases]  # type: ignore[misc]
        return [c.answer if prompted_right and len(c.messages) > 1 else "no" for c in cases]  # type: ignore[misc]

    return generate


class _Scripted:
    """A role's model whose replies ``fake(role, cases, settings, desc)`` scripts."""

    def __init__(self, role: str, fake) -> None:  # type: ignore[no-untyped-def]
        self.role, self.fake = role, fake

    def generate(self, cases: Sequence[Case], settings: DecodingSettings, desc: str = "") -> list[str]:
        return list(self.fake(self.role, cases, settings, desc))


def _run(tmp_path: Path, suite_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path, monkeypatch, fake):  # type: ignore[no-untyped-def]
    suite = load_suite(suite_path)
    pool = build_pool(str(tiny_adapter_dir), baseline=str(tiny_model_dir), base_model=str(tiny_model_dir))
    monkeypatch.setattr(pool, "load", lambda role: _Scripted(role, fake))
    ctx = RunContext(pool, ResultCache(tmp_path / "cache"), tmp_path / "run")
    return evaluate(GateCase(suite, "pb", suite.gates["pb"]), ctx)


def test_a_candidate_far_better_than_prompting_passes(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen: list[Case] = []
    fake = _fake_generate([True] * 40, prompted_right=False, seen=seen)
    result = _run(tmp_path, _files(tmp_path), tiny_model_dir, tiny_adapter_dir, monkeypatch, fake)
    assert result.verdict == "PASS", result.reasons()
    check = result.checks[0]
    assert check.estimate == pytest.approx(1.0) and check.details["decision"] == "superiority"
    shots = check.details["few_shot_ids"]
    assert shots == [i for i, _ in draw(read_shots(tmp_path / "shots.jsonl"), 2, 7)] and len(shots) == 2
    assert ", ".join(shots) in result.notes[0]
    base_calls = [c for c in seen if len(c.messages) > 1]
    assert base_calls and [m.role for m in base_calls[0].messages] == [
        "system",
        "user",
        "assistant",
        "user",
        "assistant",
        "user",
    ]
    saved = json.loads((tmp_path / "run" / "scores" / "pb" / "pb" / "base-2shot.json").read_text())
    assert saved["provenance"]["few_shot"]["ids"] == shots and saved["provenance"]["few_shot"]["seed"] == 7


def test_a_candidate_no_better_than_prompting_fails(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    fake = _fake_generate([i % 4 != 0 for i in range(40)], prompted_right=True, seen=[])
    result = _run(tmp_path, _files(tmp_path), tiny_model_dir, tiny_adapter_dir, monkeypatch, fake)
    assert result.verdict == "FAIL", result.reasons()
    assert result.checks[0].estimate == pytest.approx(-0.25) and len(result.flipped) == 10


def test_examples_overlapping_the_cases_are_refused_by_id(
    tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    fake = _fake_generate([True] * 40, prompted_right=False, seen=[])
    result = _run(tmp_path, _files(tmp_path, overlap="leaky"), tiny_model_dir, tiny_adapter_dir, monkeypatch, fake)
    assert result.verdict == "ERROR"
    assert "overlap the evaluated cases: leaky (prompt of case c3)" in str(result.error)


def test_prompted_keeps_a_cases_own_system_message_after_the_gates() -> None:
    case = Case("c", "task", (Message("system", "own"), Message("user", "q")), "a")
    shot = ("t", (Message("user", "u"), Message("assistant", "v")))
    out = prompted(case, [shot], "gate")
    assert [(m.role, m.content) for m in out.messages] == [
        ("system", "gate\n\nown"),
        ("user", "u"),
        ("assistant", "v"),
        ("user", "q"),
    ]


def test_bad_specs_and_examples_are_named(tmp_path: Path) -> None:
    (tmp_path / "test_x.yaml").write_text("suite: x\ngates: {g: {kind: prompt_baseline, cases: task, k: -1}}\n")
    with pytest.raises(ConfigError, match="k=-1 must be 0 or more"):
        load_suite(tmp_path / "test_x.yaml")
    (tmp_path / "s.jsonl").write_text(json.dumps({"id": "a", "messages": [{"role": "user", "content": "q"}]}) + "\n")
    with pytest.raises(
        Exception, match=r"s.jsonl:1: example 'a' must start with a user turn and end with the assistant"
    ):
        read_shots(tmp_path / "s.jsonl")
    with pytest.raises(ConfigError, match="k=5 few-shot examples asked for, but the examples file has only 1"):
        draw([("a", ())], 5, 0)


def test_the_world_training_split_is_the_default_pool(tmp_path, tiny_model_dir, tiny_adapter_dir) -> None:  # type: ignore[no-untyped-def]
    """End to end on tiny models: the world's task training split, prompts through the real chat template."""
    (tmp_path / "cases.jsonl").write_text(
        "".join(
            json.dumps(
                {
                    "id": f"c{i}",
                    "category": "task",
                    "messages": [{"role": "user", "content": f"Card for {i} + 1."}],
                    "answer": f"problem: {i} + 1, answer: {i + 1}",
                }
            )
            + "\n"
            for i in range(6)
        )
    )
    (tmp_path / "test_pb.yaml").write_text(
        "suite: pb\ndecoding: {max_new_tokens: 4}\ngates:\n  pb: {kind: prompt_baseline, cases: cases.jsonl, k: 3}\n"
    )
    suite = load_suite(tmp_path / "test_pb.yaml")
    pool = build_pool(str(tiny_adapter_dir), baseline=str(tiny_model_dir), base_model=str(tiny_model_dir))
    ctx = RunContext(pool, ResultCache(tmp_path / "cache"), tmp_path / "run")
    result = evaluate(GateCase(suite, "pb", suite.gates["pb"]), ctx)
    assert result.error is None, result.error
    assert len(result.checks[0].details["few_shot_ids"]) == 3
    assert all(i.startswith("task-") for i in result.checks[0].details["few_shot_ids"])
    assert "from train.jsonl drawn with seed 0" in result.notes[0]
    assert ctx.computed["base"] == 6 and ctx.computed["candidate"] == 6
