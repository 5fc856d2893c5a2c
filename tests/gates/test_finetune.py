"""The fine-tuning run gate on a tiny base model: a healthy run passes; a provoked overfit fails it; too little
learning fails it; a suite that leaves too few evaluations for the overfitting check is refused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from harness.cache import ResultCache
from harness.errors import ConfigError
from harness.gates import GateCase, evaluate
from harness.gates.context import RunContext
from harness.pool import build_pool
from harness.spec import load_suite


def _codes(n: int, seed: int) -> list[dict]:
    """Names paired with random codes: memorisable, not generalisable (what makes a model overfit)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        code = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz") for _ in range(8))
        rows.append(
            {
                "id": f"s{seed}-{i}",
                "messages": [
                    {"role": "user", "content": f"Code of member {seed}-{i}?"},
                    {"role": "assistant", "content": code},
                ],
            }
        )
    return rows


def _greetings(n: int, offset: int) -> list[dict]:
    """One pattern with many fillers: what a model learns and generalises (validation loss keeps falling)."""
    return [
        {
            "id": f"g{offset + i}",
            "messages": [
                {"role": "user", "content": f"Greet guest {offset + i}."},
                {"role": "assistant", "content": f"Hello guest {offset + i}, welcome!"},
            ],
        }
        for i in range(n)
    ]


def _suite(root: Path, base: Path, *, lr: float, steps: int, learnable: bool = False) -> Path:
    train, val = (_greetings(64, 0), _greetings(16, 500)) if learnable else (_codes(16, 1), _codes(16, 2))
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    (root / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in val))
    (root / "recipe.yaml").write_text(
        f"name: memorise\nbase_model: {base}\nmethod: full\n"
        "data: {train: train.jsonl, validation: val.jsonl, max_length: 64, near_duplicate_threshold: null}\n"
        f"training: {{learning_rate: {lr}, batch_size: 16, warmup: 0.0, schedule: constant_with_warmup, "
        "weight_decay: 0.0}\n"
    )
    (root / "test_ft.yaml").write_text(
        f"suite: ft\ngates:\n  run: {{kind: finetune, recipe: recipe.yaml, max_steps: {steps}, eval_every: 5, "
        "min_loss_drop: 0.3, overfit_patience: 2}\n"
    )
    return root / "test_ft.yaml"


def _run(suite_path: Path, base: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    suite = load_suite(suite_path)
    ctx = RunContext(
        build_pool(str(base), baseline=str(base), base_model=str(base)),
        ResultCache(tmp_path / "cache"),
        tmp_path / "run",
    )
    return evaluate(GateCase(suite, "run", suite.gates["run"]), ctx)


def test_memorising_noise_provokes_the_overfitting_detector(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = _run(_suite(tmp_path, tiny_model_dir, lr=3e-3, steps=60), tiny_model_dir, tmp_path)
    checks = {c.name: c for c in result.checks}
    assert checks["no overfitting"].verdict == "FAIL", checks["no overfitting"].reasons
    assert "validation loss rose from" in checks["no overfitting"].reasons[0]
    assert checks["training loss falls by >= 30%"].verdict == "PASS", "training loss did fall: it memorised"
    assert result.verdict == "FAIL" and all(c.p_value is None for c in result.checks)


def test_too_little_learning_fails_the_loss_drop(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = _run(_suite(tmp_path, tiny_model_dir, lr=1e-6, steps=15), tiny_model_dir, tmp_path)
    assert result.error is None, result.error
    checks = {c.name: c for c in result.checks}
    assert checks["training loss falls by >= 30%"].verdict == "FAIL"
    assert checks["no NaN or exploding loss"].verdict == "PASS"
    assert result.verdict == "FAIL"


def test_a_healthy_run_passes(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = _run(_suite(tmp_path, tiny_model_dir, lr=3e-3, steps=30, learnable=True), tiny_model_dir, tmp_path)
    assert result.error is None, result.error
    assert result.verdict == "PASS", [(c.name, c.verdict, c.reasons) for c in result.checks]
    assert "(6 evaluations)" in {c.name: c for c in result.checks}["no overfitting"].reasons[0]


def test_too_few_evaluations_for_the_overfitting_check_is_a_suite_error(tmp_path: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"max_steps=10 allows 2 evaluation\(s\); .* raise max_steps to 15"):
        load_suite(_suite(tmp_path, tiny_model_dir, lr=1e-3, steps=10))


def test_the_cached_run_is_keyed_by_placement(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bfloat16 run never reuses a float32 run's curves (nor a GPU run a CPU one's), and the same placement
    reuses them: the training itself is stubbed, only the cache key is under test."""
    from harness.device import Placement
    from training import api
    from training.config import TrainSpec

    runs: list[Placement] = []
    placement = Placement("cpu", "float32")

    def fake_run(recipe: TrainSpec, **_: object) -> dict:
        runs.append(recipe.placement())
        return {"curves": {"train": [[1, 2.0], [2, 0.5]], "validation": [[1, 1.0], [2, 0.9]]}, "diverged": None}

    monkeypatch.setattr(api, "short_run", fake_run)
    monkeypatch.setattr(TrainSpec, "placement", lambda self: placement)
    suite = _suite(tmp_path, tiny_model_dir, lr=1e-3, steps=15)
    for placement in (Placement("cpu", "float32"), Placement("cpu", "bfloat16"), Placement("cpu", "float32")):  # noqa: B007
        assert _run(suite, tiny_model_dir, tmp_path).verdict == "PASS"
    assert [(p.kind, p.dtype) for p in runs] == [("cpu", "float32"), ("cpu", "bfloat16")]
