"""Preflight: the four dataset-size bands and the memory arithmetic for full, LoRA and QLoRA."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from training.data.preflight import GIB, preflight, size_advice


@pytest.mark.parametrize(
    ("n", "band"),
    [
        (0, "under 100"),
        (99, "under 100"),
        (100, "100-1,000"),
        (999, "100-1,000"),
        (1000, "1,000-10,000"),
        (10_000, "1,000-10,000"),
        (10_001, "more than 10,000"),
    ],
)
def test_size_bands(n: int, band: str) -> None:
    assert size_advice(n).startswith(band)


def test_band_advice_says_what_to_do() -> None:
    assert "few-shot" in size_advice(50)
    assert "overfitting" in size_advice(500)
    assert "viable" in size_advice(5_000)
    assert "effective" in size_advice(50_000)


SMALL = dict(
    total_params=1000,
    trainable_params=100,
    mean_tokens=10,
    batch_size=2,
    hidden_size=8,
    num_layers=2,
    gradient_checkpointing=False,
)


def _small(checkpointing: bool = False, **overrides: int):  # type: ignore[no-untyped-def]
    return preflight(120, 30, **{**SMALL, "gradient_checkpointing": checkpointing, **overrides})


def test_memory_matches_the_documented_formula_on_a_small_case() -> None:
    # activations: 2 layers x 34 x 10 tokens x 2 batch x 8 hidden = 10,880 bytes
    result = _small(False)
    assert result.memory_gib["full"] * GIB == pytest.approx(16 * 1000 + 10_880)
    assert result.memory_gib["lora"] * GIB == pytest.approx(2 * 1000 + 16 * 100 + 10_880)
    assert result.memory_gib["qlora"] * GIB == pytest.approx(0.5625 * 1000 + 16 * 100 + 10_880)
    # checkpointing: 2 layers x 2 x 160 + one layer recomputed 34 x 160 = 6,080 bytes
    assert _small(True).memory_gib["full"] * GIB == pytest.approx(16 * 1000 + 6_080)


def test_a_7b_model_orders_full_lora_qlora() -> None:
    result = preflight(
        5_000,
        500,
        total_params=7_000_000_000,
        trainable_params=40_000_000,
        mean_tokens=512,
        batch_size=4,
        hidden_size=4096,
        num_layers=32,
        gradient_checkpointing=True,
    )
    memory = result.memory_gib
    assert memory["full"] > memory["lora"] > memory["qlora"]
    assert 100 < memory["full"] < 120, "16 bytes x 7e9 is about 104 GiB plus activations"
    assert 3.5 < memory["qlora"] < 6
    text = result.format()
    assert "40,000,000 trainable of 7,000,000,000 (0.57%)" in text
    assert "fine-tuning is viable" in text and "qlora" in text


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(ConfigError, match="trainable_params=2000 must be between 0 and total_params=1000"):
        _small(trainable_params=2000)
    with pytest.raises(ConfigError, match="must be positive"):
        _small(batch_size=0)
