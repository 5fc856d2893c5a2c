"""Shared fixtures: an offline environment, a private HARNESS_HOME per test, and tiny random models.

Tiny models (a 2-layer Llama with the world's own tokenizer, and a LoRA adapter on it) make every
model-spec kind testable in seconds; the real reference model is only built by tests marked ``slow``.
"""

from __future__ import annotations

import os

# Before transformers / huggingface_hub are imported anywhere: nothing may reach a hub.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.world import default_world_dir, load_manifest
from harness.world.files import WorldManifest


@pytest.fixture(autouse=True)
def harness_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own HARNESS_HOME, so no test sees another's registry or cache."""
    home = tmp_path / "harness-home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    yield home


@pytest.fixture(scope="session")
def reference_home() -> Path:
    """A HARNESS_HOME shared across runs for the real reference model (built once, then reused).

    $HARNESS_TEST_HOME, else the checkout's .harness, where `./dev demo` builds it too.
    """
    checkout = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("HARNESS_TEST_HOME", checkout / ".harness")).resolve()


@pytest.fixture(scope="session")
def reference_model_dir(reference_home: Path) -> Path:
    """The real reference base model (minutes to build the first time; slow tests only)."""
    from harness.world.build import build_reference_model

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_HOME", str(reference_home))
        return build_reference_model(progress=False).model_dir


@pytest.fixture(scope="session")
def world() -> WorldManifest:
    return load_manifest(default_world_dir())


@pytest.fixture(scope="session")
def tiny_tokenizer(world: WorldManifest):  # type: ignore[no-untyped-def]
    from training.pretrain import corpus
    from training.tokenizer import train_tokenizer

    chats, texts = corpus(world)
    return train_tokenizer([m["content"] for chat in chats for m in chat] + texts, vocab_size=400)


def save_tiny_llama(path: Path, tokenizer, seed: int = 0) -> Path:  # type: ignore[no-untyped-def]
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    return path


def save_tiny_adapter(path: Path, base_dir: Path, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(base_dir)
    torch.manual_seed(seed)
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    for name, param in model.named_parameters():  # LoRA B starts at zero; make the adapter matter
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_tokenizer) -> Path:  # type: ignore[no-untyped-def]
    return save_tiny_llama(tmp_path_factory.mktemp("tiny-model"), tiny_tokenizer)


@pytest.fixture(scope="session")
def tiny_adapter_dir(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Path:
    return save_tiny_adapter(tmp_path_factory.mktemp("tiny-adapter"), tiny_model_dir)
