"""The model to train: the base model in full precision (full fine-tuning, LoRA) or in 4-bit (QLoRA), with
the LoRA adapter attached by peft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.threads import configure as configure_threads
from training.config import TrainSpec, bnb_config, lora_config


def keep_4bit_layers_trainable(model: Any) -> int:
    """Stop bitsandbytes from repacking 4-bit weights for CPU inference; returns the layers changed.

    On CPUs with AVX512-BF16, bitsandbytes 0.50 repacks a Linear4bit weight in place the first time it runs
    in eval mode without gradients (as Trainer's evaluation does). After that, backward passes through the
    layer return no gradient for its input (its packed kernel, gemv_4bit, has no autograd kernel: torch warns
    "silently incorrect behavior"), so every adapter below it stops learning: QLoRA validation loss stalls
    after the first evaluation. Training therefore keeps the unpacked layout throughout
    (tests/training/test_model.py reproduces the failure and checks this guard).
    """
    import bitsandbytes as bnb

    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
    return len(layers)


def load_for_training(spec: TrainSpec, base_dir: Path) -> Any:
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    torch.manual_seed(spec.training.seed)
    if spec.method == "qlora":
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir), quantization_config=bnb_config(spec), device_map="cpu", use_safetensors=True
        )
        keep_4bit_layers_trainable(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.training.gradient_checkpointing)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32, use_safetensors=True)
        if spec.training.gradient_checkpointing:
            model.gradient_checkpointing_enable()
    configure_threads(model)
    if spec.method in ("lora", "qlora"):
        model = get_peft_model(model, lora_config(spec))
    return model


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total); 4-bit weights count by their logical size, not their packed storage."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = 0
    for p in model.parameters():
        shape = getattr(getattr(p, "quant_state", None), "shape", None)
        total += int(shape.numel()) if shape is not None else p.numel()
    return trainable, total
