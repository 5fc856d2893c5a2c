"""Quick device figures for scripts/gpu_check.sh: batched generation through the harness against plain
``model.generate`` on the reference model, and LoRA / QLoRA train-step throughput and peak memory at the
reference shape and (time allowing) SmolLM2-135M and 1.7B shapes with random weights (batch 16 x 256, bf16).

    python scripts/gpu_bench.py --device cuda [--shapes reference,135m,1.7b] [--budget 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

SHAPES: dict[str, dict[str, Any]] = {  # SmolLM2 shapes (tied embeddings, vocab 49152)
    "135m": {"hidden_size": 576, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3,
             "intermediate_size": 1536, "vocab_size": 49152},
    "1.7b": {"hidden_size": 2048, "num_hidden_layers": 24, "num_attention_heads": 32, "num_key_value_heads": 32,
             "intermediate_size": 8192, "vocab_size": 49152},
}  # fmt: skip


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _peak_gib(device: str) -> float | None:
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**30, 2) if device.startswith("cuda") else None


def _reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def generation(placement: Any, prompts: int, new_tokens: int) -> dict[str, Any]:
    """The harness's batched generate vs plain model.generate, same prompts and settings, on ``base``."""
    import torch

    from harness.cases import Case, Message
    from harness.models import ModelSpec, load
    from harness.run import DecodingSettings, generate, render

    loaded = load(ModelSpec("base", placement=placement))
    cases = [Case(f"b{i}", "fact", (Message("user", f"What is {i} plus {i + 1}?"),), None) for i in range(prompts)]
    settings = DecodingSettings(max_new_tokens=new_tokens, batch_size=prompts)
    generate(loaded, cases[:2], DecodingSettings(max_new_tokens=4, batch_size=2))  # warm-up
    _sync(placement.device)
    started = time.perf_counter()
    generate(loaded, cases, settings)
    _sync(placement.device)
    harness_s = time.perf_counter() - started
    tok = loaded.tokenizer
    enc = tok([render(tok, c.messages) for c in cases], return_tensors="pt", padding=True, add_special_tokens=False)
    enc = enc.to(loaded.model.device)
    started = time.perf_counter()
    with torch.no_grad():
        out = loaded.model.generate(
            **enc, max_new_tokens=new_tokens, do_sample=False, pad_token_id=tok.pad_token_id, top_k=None
        )
    _sync(placement.device)
    plain_s = time.perf_counter() - started
    produced = int((out[:, enc["input_ids"].shape[1] :] != tok.pad_token_id).sum())
    return {
        "prompts": prompts,
        "max_new_tokens": new_tokens,
        "tokens": produced,
        "plain_tok_s": round(produced / plain_s, 1),
        "harness_tok_s": round(produced / harness_s, 1),
        "harness_vs_plain": round(plain_s / harness_s, 3),
    }


def _random_model(shape: str, placement: Any, workdir: Path) -> Path:
    """A random-weight Llama of ``shape`` saved as safetensors (the reference shape: the base's config)."""
    import torch
    from transformers import AutoConfig, LlamaConfig, LlamaForCausalLM

    from harness.models import ModelSpec, resolve

    if shape == "reference":
        config = AutoConfig.from_pretrained(str(resolve(ModelSpec("base")).path))
    else:
        config = LlamaConfig(**SHAPES[shape], tie_word_embeddings=True, max_position_embeddings=2048)
    torch.manual_seed(0)
    with torch.device(placement.device):
        model = LlamaForCausalLM(config).to(placement.torch_dtype())
    out = workdir / shape
    model.save_pretrained(out, safe_serialization=True)
    del model
    return out


def train_step(path: Path, method: str, placement: Any, steps: int, batch: int, seq: int) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    _reset_peak(placement.device)
    dtype = placement.torch_dtype()
    if method == "qlora":
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=dtype,
        )
        model = AutoModelForCausalLM.from_pretrained(
            str(path), quantization_config=quant, device_map=placement.device, dtype=dtype
        )
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    else:
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(placement.device)
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"]))
    optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    vocab = model.config.vocab_size
    ids = torch.randint(0, vocab, (batch, seq), device=placement.device)

    def step() -> None:
        with torch.autocast(placement.kind, dtype=dtype, enabled=placement.half):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optim.step()
        optim.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    _sync(placement.device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(placement.device)
    seconds = time.perf_counter() - started
    result = {
        "method": method,
        "tok_s": round(batch * seq * steps / seconds, 1),
        "step_s": round(seconds / steps, 4),
        "peak_gib": _peak_gib(placement.device),
    }
    return result  # the model and optimiser go with this frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--shapes", default="reference,135m,1.7b")
    parser.add_argument("--prompts", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--budget", type=float, default=240.0, help="seconds; later shapes are skipped past it")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()

    from harness.device import resolve_placement

    placement = resolve_placement(args.device, args.dtype)
    started = time.perf_counter()
    figures: dict[str, Any] = {"placement": placement.describe(), "generation": None, "training": []}
    figures["generation"] = generation(placement, args.prompts, args.new_tokens)
    gen = figures["generation"]
    print(
        f"generate on base, {gen['prompts']} prompts/batch, <= {gen['max_new_tokens']} new tokens: plain "
        f"{gen['plain_tok_s']} tok/s, harness {gen['harness_tok_s']} tok/s ({gen['harness_vs_plain']}x plain)",
        flush=True,
    )
    skipped = []
    with tempfile.TemporaryDirectory(prefix="gpu-bench-") as scratch:
        for shape in [s for s in args.shapes.split(",") if s]:
            if time.perf_counter() - started > args.budget:
                skipped.append(shape)
                continue
            path = _random_model(shape, placement, Path(scratch))
            for method in ("lora", "qlora"):
                row = {"shape": shape, **train_step(path, method, placement, args.steps, args.batch, args.seq)}
                figures["training"].append(row)
                print(
                    f"{shape:>9} {method:<5} batch {args.batch}x{args.seq}: {row['tok_s']:>10,.0f} tok/s, "
                    f"{row['step_s']} s/step, peak {row['peak_gib']} GiB",
                    flush=True,
                )
    figures["skipped_shapes"] = skipped
    if skipped:
        print(f"skipped (time budget {args.budget:.0f} s spent): {', '.join(skipped)}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
