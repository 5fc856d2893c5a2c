"""Latency gate on a tiny model wrapped to sleep: a slower candidate fails, a faster one passes, a jittery
reference makes the A/A noise check (and so the gate) INCONCLUSIVE, and nothing is served from the cache."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.cache import ResultCache
from harness.errors import ConfigError
from harness.gates import evaluate
from harness.gates.context import RunContext
from harness.gates.registry import GateCase
from harness.models import LoadedModel, ModelSpec, load
from harness.pool import build_pool
from harness.spec import load_suite


class Slow:
    """A model whose generate() sleeps ``delay`` seconds (plus up to ``jitter``) first; counts its calls."""

    def __init__(self, model: Any, delay: float, jitter: float = 0.0) -> None:
        self._model, self.delay, self.jitter, self.calls = model, delay, jitter, 0
        self._rng = random.Random(0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def generate(self, **kwargs: Any) -> Any:
        self.calls += 1
        time.sleep(self.delay + self._rng.uniform(0, self.jitter))
        return self._model.generate(**kwargs)


def _suite(root: Path, margin: float, **extra: Any) -> Path:
    cases = [
        {
            "id": f"c{i}",
            "category": "task",
            "messages": [{"role": "user", "content": f"Card for {i} + 1."}],
            "answer": "x",
        }
        for i in range(10)
    ]
    (root / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in cases))
    options = ", ".join(f"{k}: {json.dumps(v)}" for k, v in extra.items())
    (root / "test_lat.yaml").write_text(
        "suite: lat\ndecoding: {max_new_tokens: 4}\ngates:\n  lat: {kind: latency, cases: cases.jsonl, items: 8, "
        f"repeats: 2, warmup: 1, margin: {margin}, n_resamples: 500{', ' + options if options else ''}}}\n"
    )
    return root / "test_lat.yaml"


def _context(tmp_path: Path, model_dir: Path, adapter_dir: Path, monkeypatch, cand: Slow, ref: Slow) -> RunContext:  # type: ignore[no-untyped-def]
    pool = build_pool(str(adapter_dir), baseline=str(model_dir), base_model=str(model_dir))
    models = {"candidate": cand, "baseline": ref}
    loaded = {role: load(ModelSpec(str(adapter_dir if role == "candidate" else model_dir))) for role in models}
    wrapped: dict[str, LoadedModel] = {role: replace(loaded[role], model=models[role]) for role in models}
    monkeypatch.setattr(pool, "load", lambda role: wrapped[role])
    return RunContext(pool, ResultCache(tmp_path / "cache"), tmp_path / "run")


def _run(suite_path: Path, ctx: RunContext):  # type: ignore[no-untyped-def]
    suite = load_suite(suite_path)
    return evaluate(GateCase(suite, "lat", suite.gates["lat"]), ctx)


@pytest.fixture
def loaded_models(tiny_model_dir: Path, tiny_adapter_dir: Path) -> tuple[Any, Any]:
    return (
        load(ModelSpec(str(tiny_adapter_dir))).model,
        load(ModelSpec(str(tiny_model_dir))).model,
    )


def test_a_much_slower_candidate_fails(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, loaded_models) -> None:  # type: ignore[no-untyped-def]
    cand, ref = Slow(loaded_models[0], 0.15), Slow(loaded_models[1], 0.03)
    ctx = _context(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, cand, ref)
    result = _run(_suite(tmp_path, 0.5), ctx)
    checks = {c.name.split(" at most")[0]: c for c in result.checks}
    assert checks["A/A noise within the margin"].verdict == "PASS", result.reasons()
    assert checks["typical latency"].verdict == "FAIL" and checks["p95 latency"].verdict == "FAIL"
    assert result.verdict == "FAIL"
    assert any("tokens/s" in note and note.startswith("candidate:") for note in result.notes)


def test_a_faster_candidate_passes_and_is_never_cached(
    tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, loaded_models
) -> None:  # type: ignore[no-untyped-def]
    cand, ref = Slow(loaded_models[0], 0.03), Slow(loaded_models[1], 0.06)
    ctx = _context(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, cand, ref)
    suite_path = _suite(tmp_path, 0.5, ttft=True)
    result = _run(suite_path, ctx)
    assert result.verdict == "PASS", result.reasons()
    assert result.checks[0].estimate < 0  # log-ratio: the candidate is faster
    # warm-up 1 + 8 items x 2 repeats x (timed call + first-token call)
    assert cand.calls == 1 + 8 * 2 * 2
    assert any("time to first token p50" in n for n in result.notes)
    again = _run(suite_path, ctx)
    assert cand.calls == 2 * (1 + 8 * 2 * 2), "a second run measures again: latency never comes from the cache"
    assert again.verdict == "PASS" and ctx.reused == {} and ctx.cache.hits == 0
    saved = json.loads((tmp_path / "run" / "scores" / "lat" / "lat" / "candidate.json").read_text())
    assert saved["metric"] == "latency_s" and len(saved["rows"]) == 8


def test_a_noisy_machine_makes_the_gate_inconclusive(
    tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, loaded_models
) -> None:  # type: ignore[no-untyped-def]
    # The candidate is 3x slower, but the reference alone varies from 0 to 200 ms: A/A spread > 10%.
    cand, ref = Slow(loaded_models[0], 0.15), Slow(loaded_models[1], 0.0, jitter=0.2)
    ctx = _context(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, cand, ref)
    result = _run(_suite(tmp_path, 0.1), ctx)
    noise = result.checks[-1]
    assert noise.name == "A/A noise within the margin" and noise.verdict == "INCONCLUSIVE"
    assert result.verdict == "INCONCLUSIVE"
    assert all(c.verdict == "INCONCLUSIVE" for c in result.checks)


def test_a_slowdown_beyond_the_noise_fails_on_a_noisy_machine(
    tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, loaded_models
) -> None:  # type: ignore[no-untyped-def]
    # The reference varies by up to 40% against itself (wider than the 10% margin), but the candidate is ~10x
    # slower: far beyond margin and noise together, so the gate fails rather than shrugging.
    cand, ref = Slow(loaded_models[0], 0.3), Slow(loaded_models[1], 0.005, jitter=0.03)
    ctx = _context(tmp_path, tiny_model_dir, tiny_adapter_dir, monkeypatch, cand, ref)
    result = _run(_suite(tmp_path, 0.1), ctx)
    assert result.checks[-1].verdict == "INCONCLUSIVE", "the machine is too noisy to resolve 10%"
    assert result.verdict == "FAIL", result.reasons()
    assert any("despite the A/A noise" in r for r in result.checks[0].reasons)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("margin: 0", r"margin=0.0 must be in \(0, 10\)"),
        ("items: 1", "items=1 must be 0"),
        ("repeats: 0", "repeats=0 must be at least 1"),
        ("reference: prod", "'prod' is not allowed"),
    ],
)
def test_bad_specs_are_named(tmp_path: Path, options: str, message: str) -> None:
    (tmp_path / "test_l.yaml").write_text(f"suite: l\ngates: {{g: {{kind: latency, cases: task, {options}}}}}\n")
    with pytest.raises(ConfigError, match=message):
        load_suite(tmp_path / "test_l.yaml")
