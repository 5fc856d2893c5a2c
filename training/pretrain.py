"""Pretrain the reference base model: a small LlamaForCausalLM on the world's corpus, with HF Trainer.

A few minutes on 2 CPU cores. The tokenizer is trained on the corpus first, then the model learns the
corpus (chat conversations rendered with the chat template, and plain statements) with loss on every
token. Seeded; on one machine the same world and config give the same weights.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.device import CPU, Placement
from harness.errors import ConfigError
from harness.threads import configure as configure_threads
from harness.world.files import WorldManifest
from training.tokenizer import train_tokenizer


@dataclass(frozen=True)
class PretrainConfig:
    vocab_size: int = 1024
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    intermediate_size: int = 512
    max_length: int = 256
    steps: int = 2500
    batch_size: int = 32
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    weight_decay: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads:
            raise ConfigError(f"hidden_size={self.hidden_size} must be divisible by num_heads={self.num_heads}")
        for name in ("vocab_size", "num_layers", "steps", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"pretrain {name}={getattr(self, name)} must be a positive integer")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"pretrain learning_rate={self.learning_rate} must be in (0, 1)")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def corpus(manifest: WorldManifest) -> tuple[list[list[dict[str, str]]], list[str]]:
    """(chat conversations, plain texts) of the pretraining corpus."""
    chats = [row["messages"] for row in _read_jsonl(manifest.pretraining["chat"])]
    texts = [row["text"] for row in _read_jsonl(manifest.pretraining["text"])]
    return chats, texts


def _encode(tokenizer: Any, chats: list[list[dict[str, str]]], texts: list[str], max_length: int) -> list[dict]:
    rows = []
    for chat in chats:
        ids = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"]
        rows.append(ids)
    for text in texts:
        rows.append(tokenizer(text + tokenizer.eos_token, add_special_tokens=False)["input_ids"])
    too_long = sum(len(ids) > max_length for ids in rows)
    if too_long:
        raise ConfigError(f"{too_long} corpus documents exceed max_length={max_length} tokens: raise max_length")
    return [{"input_ids": ids, "labels": list(ids)} for ids in rows]


def _model(config: PretrainConfig, tokenizer: Any) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    llama = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_layers,
        num_attention_heads=config.num_heads,
        num_key_value_heads=config.num_heads,
        max_position_embeddings=config.max_length,
        tie_word_embeddings=True,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(llama)


def pretrain(
    manifest: WorldManifest,
    config: PretrainConfig,
    out_dir: Path,
    *,
    progress: bool = True,
    placement: Placement = CPU,
) -> dict:
    """Train tokenizer and model on the world's corpus and save both to ``out_dir``; returns training stats.
    On a CUDA placement the Trainer runs there, in mixed precision when the placement's dtype is a half one."""
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments, set_seed

    from training.config import precision_arguments

    set_seed(config.seed)
    chats, texts = corpus(manifest)
    tokenizer = train_tokenizer([m["content"] for chat in chats for m in chat] + texts, config.vocab_size)
    dataset = _encode(tokenizer, chats, texts, config.max_length)
    model = _model(config, tokenizer)
    configure_threads(model)
    with tempfile.TemporaryDirectory(prefix="pretrain-") as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            max_steps=config.steps,
            per_device_train_batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            lr_scheduler_type="cosine",
            warmup_steps=config.warmup_steps,
            weight_decay=config.weight_decay,
            adam_beta2=0.95,
            max_grad_norm=1.0,
            logging_steps=max(config.steps // 10, 1),
            save_strategy="no",
            report_to=[],
            **precision_arguments(placement),
            seed=config.seed,
            data_seed=config.seed,
            disable_tqdm=not progress,
            dataloader_num_workers=0,
        )
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collator)
        result = trainer.train()
        losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
    return {
        "train_seconds": round(result.metrics["train_runtime"], 1),
        "final_loss": losses[-1] if losses else None,
        "loss_curve": losses,
        "parameters": sum(p.numel() for p in model.parameters()),
        "documents": len(dataset),
        "tokens": sum(len(row["input_ids"]) for row in dataset),
    }
