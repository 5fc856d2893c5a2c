"""`harness world build` on a tiny config: reuse by content hash, registration, plain-transformers loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.models import ModelSpec, load
from harness.registry import Registry
from harness.world.build import build_reference_model
from training.pretrain import PretrainConfig

TINY = PretrainConfig(vocab_size=400, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64, steps=3)


def test_build_saves_a_plain_llama_with_chat_template_and_world(harness_home: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    result = build_reference_model(config=TINY, progress=False)
    assert not result.reused
    assert result.model_dir.parent == harness_home / "models"
    assert (result.model_dir / "model.safetensors").is_file()
    model = AutoModelForCausalLM.from_pretrained(result.model_dir)
    tokenizer = AutoTokenizer.from_pretrained(result.model_dir)
    assert isinstance(model, LlamaForCausalLM)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|user|>Hi<|end|><|assistant|>"
    assert tokenizer.eos_token == "<|end|>" and model.generation_config.eos_token_id == tokenizer.eos_token_id
    manifest = json.loads((result.model_dir / "world" / "world.json").read_text())
    for rel in manifest["heldout"].values():
        assert (result.model_dir / "world" / rel).is_file()
    record = json.loads((result.model_dir / "build.json").read_text())
    assert record["config"] == TINY.to_dict() and record["parameters"] > 0


def test_build_registers_base_and_reuses_an_unchanged_build(monkeypatch: pytest.MonkeyPatch) -> None:
    first = build_reference_model(config=TINY, progress=False)
    assert Registry().require("base").path == str(first.model_dir)

    def must_not_train(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an unchanged world + config must not be retrained")

    monkeypatch.setattr("training.api.pretrain", must_not_train)
    again = build_reference_model(config=TINY, progress=False)
    assert again.reused and again.model_dir == first.model_dir
    assert len(Registry().history("base")) == 1, "re-registering the same directory is a no-op"


def test_a_different_config_is_a_different_build() -> None:
    a = build_reference_model(config=TINY, progress=False)
    b = build_reference_model(config=PretrainConfig(**{**TINY.to_dict(), "steps": 4}), progress=False)
    assert a.model_dir != b.model_dir
    assert Registry().require("base").path == str(b.model_dir)


def test_build_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = []
    for name in ("one", "two"):
        monkeypatch.setenv("HARNESS_HOME", str(tmp_path / name))
        result = build_reference_model(config=TINY, progress=False)
        hashes.append(load(ModelSpec(str(result.model_dir))).content_hash)
    assert hashes[0] == hashes[1]


def test_cli_build_prints_the_model_directory_last(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "build", "--steps", "2", "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert Path(lines[-1]).is_dir() and (Path(lines[-1]) / "config.json").is_file()
    assert Registry().require("base").path == lines[-1]


def test_pretrain_config_rejects_bad_values() -> None:
    from harness.errors import ConfigError

    with pytest.raises(ConfigError, match="divisible"):
        PretrainConfig(hidden_size=30, num_heads=4)
    with pytest.raises(ConfigError, match="steps"):
        PretrainConfig(steps=0)


def test_the_shipped_weights_are_installed_without_pretraining(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default world and config match the shipped build: it is copied in and registered, never trained."""
    from harness.world.build import BUILD_RECORD, shipped_model_dir

    def must_not_train(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the shipped reference weights match: nothing to pretrain")

    monkeypatch.setattr("training.api.pretrain", must_not_train)
    result = build_reference_model(progress=False)
    assert not result.model_dir.name.endswith("-scratch")
    shipped = shipped_model_dir()
    for name in ("model.safetensors", "config.json", "tokenizer.json", BUILD_RECORD):
        assert (result.model_dir / name).read_bytes() == (shipped / name).read_bytes(), name
    assert (result.model_dir / "world" / "world.json").is_file()
    assert Registry().require("base").path == str(result.model_dir)


def test_from_scratch_and_another_config_pretrain_into_their_own_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[PretrainConfig] = []

    def fake_pretrain(manifest, config, out, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(config)
        (out / "model.safetensors").write_bytes(b"weights")
        (out / "config.json").write_text("{}")
        return {"parameters": 1, "train_seconds": 0.0, "final_loss": 0.0}

    monkeypatch.setattr("training.api.pretrain", fake_pretrain)
    scratch = build_reference_model(progress=False, from_scratch=True)
    assert scratch.model_dir.name.endswith("-scratch") and len(calls) == 1
    other = build_reference_model(config=TINY, progress=False)  # nothing shipped for this config
    assert other.model_dir.name.endswith("-scratch") and other.model_dir != scratch.model_dir and len(calls) == 2
