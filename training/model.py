"""The model to train: the base model in full precision (full fine-tuning, LoRA) or in 4-bit (QLoRA), with
the LoRA adapter attached by peft."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.device import Placement
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


def base_dtype(spec: TrainSpec, placement: Placement) -> str:
    """The dtype the (unquantised) base loads in. LoRA freezes the base, so on a CUDA placement with a half
    dtype it loads in that dtype (half the memory; peft keeps the adapter in float32); full fine-tuning keeps
    float32 master weights and gets half-precision compute from the Trainer's mixed precision."""
    return placement.dtype if spec.method == "lora" and placement.kind == "cuda" else "float32"


def load_for_training(spec: TrainSpec, base_dir: Path, placement: Placement | None = None) -> Any:
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    placement = placement or spec.placement()
    torch.manual_seed(spec.training.seed)
    if spec.method == "qlora":
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir),
            quantization_config=bnb_config(spec, placement),
            device_map=placement.device,  # bitsandbytes quantises on the device: its CUDA kernels on a GPU
            use_safetensors=True,
        )
        if placement.kind == "cpu":  # the repacking below is bitsandbytes' CPU inference path only
            keep_4bit_layers_trainable(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=spec.training.gradient_checkpointing)
    else:
        dtype = getattr(torch, base_dtype(spec, placement))
        model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=dtype, use_safetensors=True)
        if spec.training.gradient_checkpointing:
            model.gradient_checkpointing_enable()
    configure_threads(model)
    if spec.method in ("lora", "qlora"):
        model = get_peft_model(model, lora_config(spec))
        if spec.training.gradient_checkpointing and spec.method == "lora":
            model.enable_input_require_grads()  # checkpointed blocks over a frozen base still pass gradients
    return model


def parameter_counts(model: Any) -> tuple[int, int]:
    """(trainable, total); 4-bit weights count by their logical size, not their packed storage."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = 0
    for p in model.parameters():
        shape = getattr(getattr(p, "quant_state", None), "shape", None)
        total += int(shape.numel()) if shape is not None else p.numel()
    return trainable, total
