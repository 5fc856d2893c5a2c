"""The summary printed before training: is there enough data, what trains, and will it fit in memory.

Memory estimate, in bytes, with P the model's parameters, T the trainable (adapter) parameters, b the
batch size, s the tokens per example (the mean: padding to the longest example of a batch costs more),
h the hidden size and L the number of layers:

    training state   full:  16·P            fp32 weights 4 + gradients 4 + AdamW's two fp32 states 8
                     LoRA:  d·P + 16·T      frozen base in the load dtype (d bytes, 2 for bf16/fp16,
                                            4 for fp32), fp32 adapter with its gradients and AdamW states
                     QLoRA: (0.5 + 4/64)·P + 16·T
                                            4-bit NF4 base, plus one fp32 absmax constant per 64-weight
                                            block; adapter as for LoRA
    activations      L · 34·s·b·h           per layer, 16-bit activations kept for the backward pass
                                            (Korthikanti et al. 2022, "Reducing Activation Recomputation
                                            in Large Transformer Models", without the s² attention-score
                                            term, which fused attention kernels do not store)
                     with gradient checkpointing: L · 2·s·b·h (each layer's input) + 34·s·b·h (one layer
                                            recomputed at a time)

Activations are the same for all three: the backward pass runs through every layer either way. Logits
(s·b·vocab floats), the CUDA context and allocator fragmentation are left out, so treat the figures as
lower bounds for planning, not a guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError

GIB = 2**30
ADAMW_TRAINABLE_BYTES = 4 + 4 + 8  # fp32 weight, fp32 gradient, two fp32 AdamW moments
NF4_BYTES = 0.5 + 4 / 64  # 4 bits per weight, one fp32 absmax per block of 64
ACTIVATION_FACTOR = 34  # bytes per (token x hidden unit) per layer, 16-bit activations
CHECKPOINT_FACTOR = 2  # one 16-bit hidden state per token per layer

SIZE_BANDS = (
    (100, "under 100 examples: too few to fine-tune reliably; prefer prompting with a few examples (few-shot)"),
    (1_000, "100-1,000 examples: fine-tuning is risky; keep epochs low and watch validation loss for overfitting"),
    (10_001, "1,000-10,000 examples: fine-tuning is viable"),
)
LARGE_BAND = "more than 10,000 examples: fine-tuning is effective"


def size_advice(n_train: int) -> str:
    """What a training set of ``n_train`` examples is good for (the four bands of the issue)."""
    return next((advice for limit, advice in SIZE_BANDS if n_train < limit), LARGE_BAND)


def activation_bytes(
    *, mean_tokens: float, batch_size: int, hidden_size: int, num_layers: int, gradient_checkpointing: bool
) -> float:
    per_layer = mean_tokens * batch_size * hidden_size
    if gradient_checkpointing:
        return num_layers * CHECKPOINT_FACTOR * per_layer + ACTIVATION_FACTOR * per_layer
    return num_layers * ACTIVATION_FACTOR * per_layer


def memory_bytes(
    *, total_params: int, trainable_params: int, load_dtype_bytes: float, activations: float
) -> dict[str, float]:
    """Estimated training memory of full fine-tuning, LoRA and QLoRA (see the module docstring)."""
    adapter = ADAMW_TRAINABLE_BYTES * trainable_params
    return {
        "full": ADAMW_TRAINABLE_BYTES * total_params + activations,
        "lora": load_dtype_bytes * total_params + adapter + activations,
        "qlora": NF4_BYTES * total_params + adapter + activations,
    }


@dataclass(frozen=True)
class Preflight:
    n_train: int
    n_validation: int
    size_advice: str
    trainable_params: int
    total_params: int
    memory_gib: dict[str, float]  # full / lora / qlora
    tokens_per_example: float  # mean

    def format(self) -> str:
        share = self.trainable_params / self.total_params if self.total_params else 0.0
        memory = ", ".join(f"{name} {gib:.3g} GiB" for name, gib in self.memory_gib.items())
        return "\n".join(
            [
                f"data: {self.n_train} train / {self.n_validation} validation examples, "
                f"{self.tokens_per_example:.1f} tokens per example on average",
                f"advice: {self.size_advice}",
                f"parameters: {self.trainable_params:,} trainable of {self.total_params:,} ({share:.2%})",
                f"memory estimate (weights, gradients, optimizer, activations): {memory}",
            ]
        )


def preflight(
    n_train: int,
    n_validation: int,
    *,
    total_params: int,
    trainable_params: int,
    mean_tokens: float,
    batch_size: int,
    hidden_size: int,
    num_layers: int,
    gradient_checkpointing: bool,
    load_dtype_bytes: float = 2.0,
) -> Preflight:
    """The preflight summary; ``trainable_params`` are the adapter's (LoRA / QLoRA) parameters."""
    checks = {"n_train": n_train, "n_validation": n_validation, "total_params": total_params}
    checks |= {"batch_size": batch_size, "hidden_size": hidden_size, "num_layers": num_layers}
    negative = {name: value for name, value in checks.items() if value < 0}
    if negative or min(batch_size, hidden_size, num_layers, total_params) < 1:
        raise ConfigError(f"preflight sizes {checks} must be positive (example counts may be 0)")
    if not 0 <= trainable_params <= total_params:
        raise ConfigError(
            f"trainable_params={trainable_params} must be between 0 and total_params={total_params}; "
            "count the adapter's parameters (requires_grad) and the base model's"
        )
    if mean_tokens < 0 or load_dtype_bytes <= 0:
        raise ConfigError(f"mean_tokens={mean_tokens} must be >= 0 and load_dtype_bytes={load_dtype_bytes} > 0")
    activations = activation_bytes(
        mean_tokens=mean_tokens,
        batch_size=batch_size,
        hidden_size=hidden_size,
        num_layers=num_layers,
        gradient_checkpointing=gradient_checkpointing,
    )
    memory = memory_bytes(
        total_params=total_params,
        trainable_params=trainable_params,
        load_dtype_bytes=load_dtype_bytes,
        activations=activations,
    )
    return Preflight(
        n_train=n_train,
        n_validation=n_validation,
        size_advice=size_advice(n_train),
        trainable_params=trainable_params,
        total_params=total_params,
        memory_gib={name: value / GIB for name, value in memory.items()},
        tokens_per_example=mean_tokens,
    )
