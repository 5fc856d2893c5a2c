"""Training on the spec's device: TrainingArguments, QLoRA compute dtype and the base's load dtype per
placement, built without a GPU (the functions that make them take the placement)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from harness import device
from harness.device import CPU, Placement
from harness.errors import ConfigError
from training.config import RECIPES_DIR, bnb_config, compute_dtype, load_train_spec, training_kwargs
from training.model import base_dtype

GPU = Placement("cuda", "bfloat16")


def test_cpu_trains_as_before(tmp_path: Path) -> None:
    kwargs = training_kwargs(load_train_spec(RECIPES_DIR / "lora.yaml"), tmp_path, placement=CPU)
    assert (kwargs["use_cpu"], kwargs["bf16"], kwargs["fp16"]) == (True, False, False)


def test_cuda_trains_in_mixed_precision_without_use_cpu(tmp_path: Path) -> None:
    spec = load_train_spec(RECIPES_DIR / "lora.yaml")
    kwargs = training_kwargs(spec, tmp_path, placement=GPU)
    assert (kwargs["use_cpu"], kwargs["bf16"], kwargs["fp16"]) == (False, True, False)
    half = training_kwargs(spec, tmp_path, placement=Placement("cuda", "float16"))
    assert (half["bf16"], half["fp16"]) == (False, True)
    full = training_kwargs(spec, tmp_path, placement=Placement("cuda", "float32"))
    assert (full["use_cpu"], full["bf16"], full["fp16"]) == (False, False, False)


def test_gradient_checkpointing_is_passed_when_asked(tmp_path: Path) -> None:
    spec = load_train_spec(RECIPES_DIR / "lora.yaml")
    asked = replace(spec, training=replace(spec.training, gradient_checkpointing=True))
    on = training_kwargs(asked, tmp_path, placement=GPU)
    off = training_kwargs(spec, tmp_path, placement=GPU)
    key = "activation_checkpointing" if "activation_checkpointing" in on else "gradient_checkpointing"
    assert on[key] is True and off[key] is False


def test_qlora_computes_in_bfloat16_on_cuda_and_float32_on_cpu() -> None:
    pytest.importorskip("bitsandbytes")
    import torch

    spec = load_train_spec(RECIPES_DIR / "qlora.yaml")
    assert spec.quantization.compute_dtype == "auto"
    assert compute_dtype(spec, GPU) == "bfloat16" and compute_dtype(spec, CPU) == "float32"
    assert bnb_config(spec, GPU).bnb_4bit_compute_dtype is torch.bfloat16
    assert bnb_config(spec, CPU).bnb_4bit_compute_dtype is torch.float32
    pinned = replace(spec, quantization=replace(spec.quantization, compute_dtype="float16"))
    assert compute_dtype(pinned, GPU) == "float16", "an explicit compute_dtype wins"


def test_lora_loads_the_frozen_base_in_half_precision_on_cuda_only() -> None:
    lora = load_train_spec(RECIPES_DIR / "lora.yaml")
    full = load_train_spec(RECIPES_DIR / "reckless.yaml")
    assert base_dtype(lora, GPU) == "bfloat16" and base_dtype(lora, CPU) == "float32"
    assert base_dtype(full, GPU) == "float32", "full fine-tuning keeps float32 master weights"


def _spec(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text("data: {train: t.jsonl}\n" + extra)
    return path


@pytest.mark.parametrize(
    "extra, message",
    [
        ("device: gpu\n", r"device='gpu': use one of auto, cpu, cuda, cuda:N"),
        ("dtype: half\n", r"dtype='half': use one of auto, float32, bfloat16, float16"),
        ("quantization: {compute_dtype: fp8}\n", r"'fp8' is not allowed; use one of 'auto', 'float32'"),
    ],
)
def test_device_and_dtype_keys_are_validated(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_train_spec(_spec(tmp_path, extra))


def test_spec_placement_resolves_on_this_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cuda_available", lambda: False)
    assert load_train_spec(_spec(tmp_path, "")).placement() == CPU
    with pytest.raises(ConfigError, match="CUDA is not available"):
        load_train_spec(_spec(tmp_path, "device: cuda\n")).placement()
    with pytest.raises(ConfigError, match="float16 mixed precision needs a CUDA GPU"):
        load_train_spec(_spec(tmp_path, "device: cpu\ndtype: float16\n")).placement()
    monkeypatch.setattr(device, "cuda_available", lambda: True)
    monkeypatch.setattr(device, "_cuda_count", lambda: 2)
    monkeypatch.setattr(device, "_bf16_supported", lambda _device: True)
    assert load_train_spec(_spec(tmp_path, "")).placement() == GPU
    with pytest.raises(ConfigError, match="CUDA_VISIBLE_DEVICES=1 and device: cuda"):
        load_train_spec(_spec(tmp_path, "device: cuda:1\n")).placement()
