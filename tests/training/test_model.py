"""The bitsandbytes CPU guard: 4-bit layers keep passing gradients after an evaluation pass."""

from __future__ import annotations

import pytest
import torch


def _layer():  # type: ignore[no-untyped-def]
    import bitsandbytes as bnb

    torch.manual_seed(0)
    layer = bnb.nn.Linear4bit(64, 128, bias=False, compute_dtype=torch.float32, quant_type="nf4")
    layer.weight = bnb.nn.Params4bit(torch.randn(128, 64) * 0.1, requires_grad=False, quant_type="nf4")
    return layer.to("cpu")


def _grad_after_eval(layer) -> torch.Tensor | None:  # type: ignore[no-untyped-def]
    x = torch.randn(3, 64)
    layer.eval()
    with torch.no_grad():
        layer(x)  # what Trainer's evaluation does
    layer.train()
    x = x.clone().requires_grad_(True)
    layer(x).sum().backward()
    return x.grad


def test_guard_keeps_input_gradients_after_evaluation() -> None:
    from training.model import keep_4bit_layers_trainable

    layer = _layer()
    layer.support_avx512bf16_for_cpu = True  # as on a CPU with AVX512-BF16, where bitsandbytes repacks
    assert keep_4bit_layers_trainable(torch.nn.Sequential(layer)) == 1
    assert layer.support_avx512bf16_for_cpu is False
    grad = _grad_after_eval(layer)
    assert grad is not None and grad.abs().sum() > 0


def test_without_the_guard_this_cpu_loses_them() -> None:
    layer = _layer()
    if not getattr(layer, "support_avx512bf16_for_cpu", False):
        pytest.skip("this CPU has no AVX512-BF16: bitsandbytes never repacks, so there is nothing to guard")
    assert _grad_after_eval(layer) is None, "bitsandbytes fixed the repacking bug: the guard can go"
