"""`harness merge ALIAS --out DIR`: fold a LoRA/QLoRA adapter into its base for deployment.

The adapter is applied to the base in full precision (a QLoRA adapter too: serving a merged model in
float32/bfloat16 is how QLoRA models are usually deployed) and merged with peft's merge_and_unload; the
result is saved with save_pretrained (safetensors) and loads with plain AutoModelForCausalLM.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.errors import ConfigError
from harness.models import ModelSpec, content_hash, resolve
from harness.pool import PROVENANCE_FILE, candidate_provenance
from harness.registry import Registry


def merge(model: str, out: Path, *, registry: Registry | None = None) -> Path:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve(ModelSpec(model), registry or Registry())
    if resolved.kind != "adapter" or resolved.base is None:
        raise ConfigError(f"{model} ({resolved.path}) is not a PEFT adapter: there is nothing to merge")
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"{out} exists and is not empty: choose a new directory for the merged model")
    base = AutoModelForCausalLM.from_pretrained(str(resolved.base.path), dtype=torch.float32, use_safetensors=True)
    merged = PeftModel.from_pretrained(base, str(resolved.path)).merge_and_unload()
    merged.save_pretrained(str(out), safe_serialization=True)
    tokenizer_dir = resolved.path if any(resolved.path.glob("tokenizer*")) else resolved.base.path
    AutoTokenizer.from_pretrained(str(tokenizer_dir)).save_pretrained(str(out))
    provenance = candidate_provenance(resolved.path) or {}
    record = {
        **provenance,
        "load_in_4bit": False,
        "merged_from": {
            "spec": model,
            "path": str(resolved.path),
            "content_hash": content_hash(resolved, load_in_4bit=False),
        },
    }
    (out / PROVENANCE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return out
