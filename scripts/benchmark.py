"""Speed and memory, measured side by side in one run (never by timed unit tests).

    python scripts/benchmark.py gating   [--model candidate]   cold vs warm gating run (result cache)
    python scripts/benchmark.py training [--steps 60]          LoRA vs QLoRA: wall time and peak memory
    python scripts/benchmark.py build                          the reference model from scratch
    python scripts/benchmark.py all [--write-docs]             all three; --write-docs updates docs/benchmarks.md
    python scripts/benchmark.py ratios [--device cuda]         the harness's paths against plain transformers,
                                                               lm-eval and peft, with targets (PASS / FAIL)

Each measurement runs in its own child process; peak memory is that child's maximum resident set size
(os.wait4), reported in total and above an idle child that only imports the same libraries, so the part the
model and the training add is visible under the ~0.5 GB of torch and transformers.

``ratios`` runs in one process on the reference model (`harness world build`): each pair of paths runs on the
same loaded model, same inputs and same torch threads, after one untimed warm-up each, then interleaved
(harness, other, harness, other, ...); a ratio compares the medians. Its table is printed and written as JSON
(--json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- benchmark:start -->", "<!-- benchmark:end -->"
IMPORTS = "import torch, transformers, peft, bitsandbytes, harness.models, training.train"


@dataclass(frozen=True)
class Measure:
    label: str
    seconds: float
    peak_mib: float


def run_child(label: str, argv: list[str], env: dict[str, str] | None = None, *, ok: tuple[int, ...] = (0,)) -> Measure:
    """Run ``argv`` as a child; its wall time and peak RSS. stderr goes to a file (a pipe could fill and block)."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL, stderr=stderr
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            stderr.seek(0)
            raise SystemExit(f"{label} failed with exit code {code}:\n{stderr.read()[-4000:]}")
    return Measure(label, seconds, usage.ru_maxrss / 1024)


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def bench_gating(model: str) -> list[Measure]:
    """The same gating run twice on a fresh result cache: cold computes every output, warm reuses them."""
    home = Path(os.environ.get("HARNESS_HOME", ROOT / ".harness")).resolve()
    with tempfile.TemporaryDirectory(prefix="bench-gating-") as scratch:
        fresh = Path(scratch) / "home"
        fresh.mkdir()
        shutil.copytree(home / "registry", fresh / "registry")  # same aliases, model paths are absolute
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "suites/",
            f"--model={model}",
            "--baseline=base",  # as `harness demo` gates; production may be the candidate itself
            f"--report-dir={scratch}/reports",
            "-p",
            "no:cacheprovider",
            "-q",
        ]
        env = {"HARNESS_HOME": str(fresh)}
        gated = (0, 1)  # pytest exits 1 when a gate fails: still a timing
        return [
            run_child("gating, cold cache", argv, env, ok=gated),
            run_child("gating, warm cache", argv, env, ok=gated),
        ]


def bench_training(steps: int) -> list[Measure]:
    out = [run_child("idle (imports only)", python(IMPORTS))]
    for recipe in ("lora", "qlora"):
        code = (
            f"{IMPORTS}\nfrom training.config import load_train_spec\nfrom training.train import short_run\n"
            f"short_run(load_train_spec(__import__('pathlib').Path('training/recipes/{recipe}.yaml'))"
            f".with_max_steps({steps}))"
        )
        out.append(run_child(f"{recipe}, {steps} steps", python(code)))
    return out


def weights_in_memory() -> str:
    """The model's own bytes in memory for each method (parameters and buffers, 4-bit packed for QLoRA): at
    this scale process overhead hides them in peak RSS, so they are measured directly."""
    from harness.models import ModelSpec, resolve
    from harness.registry import Registry
    from training.config import RECIPES_DIR, load_train_spec
    from training.model import load_for_training

    sizes = {}
    for recipe in ("lora", "qlora"):
        spec = load_train_spec(RECIPES_DIR / f"{recipe}.yaml")
        model = load_for_training(spec, resolve(ModelSpec(spec.base_model), Registry()).path)
        sizes[recipe] = model.get_memory_footprint() / 2**20
    return (
        f"Model weights in memory: lora {sizes['lora']:.2f} MiB, qlora {sizes['qlora']:.2f} MiB "
        f"(qlora / lora x{sizes['qlora'] / sizes['lora']:.2f})."
    )


def bench_build() -> list[Measure]:
    with tempfile.TemporaryDirectory(prefix="bench-build-") as scratch:
        argv = [sys.executable, "-m", "harness.cli", "world", "build", "--quiet"]
        return [run_child("world build from scratch", argv, {"HARNESS_HOME": scratch})]


# --- ratios: the harness's paths against plain transformers / lm-eval / peft, in one process, ABAB ---

TARGETS = {  # name -> (comparison, target): "min" means the ratio must be >= target, "max" <= target
    "generate vs batched model.generate": ("min", 0.9),
    "generate vs per-prompt loop": ("min", 4.0),
    "retention vs raw simple_evaluate": ("max", 1.05),
    "LoRA step vs plain peft + Trainer": ("min", 0.95),
}


@dataclass(frozen=True)
class Ratio:
    name: str
    ratio: float  # throughput ratio (harness / other) for "min" targets, time ratio for "max" targets
    harness_s: list[float]
    other_s: list[float]
    detail: str

    @property
    def target(self) -> tuple[str, float]:
        return TARGETS[self.name]

    @property
    def passed(self) -> bool:
        kind, target = self.target
        return self.ratio >= target if kind == "min" else self.ratio <= target


def interleaved(harness: Any, other: Any, repeats: int) -> tuple[list[float], list[float]]:
    """Wall times of ``harness()`` and ``other()``, alternated ABAB after one untimed warm-up of each."""
    harness(), other()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for side, fn in zip(times, (harness, other), strict=True):
            started = time.perf_counter()
            fn()
            side.append(time.perf_counter() - started)
    return times


def _prompts(loaded: Any, n: int) -> tuple[list[Any], list[str]]:
    """The first ``n`` held-out cases of the world, every category in turn, and their rendered prompts."""
    from harness.world import default_world_dir, load_manifest

    world = load_manifest(default_world_dir())
    pools = [world.cases(c) for c in sorted(world.heldout)]
    cases = [case for row in zip(*pools, strict=False) for case in row][:n]
    template = loaded.tokenizer.apply_chat_template
    prompts = [
        template(
            [{"role": m.role, "content": m.content} for m in c.messages], add_generation_prompt=True, tokenize=False
        )
        for c in cases
    ]
    return cases, prompts


def _plain_generate(loaded: Any, prompts: list[str], batch: int, max_new: int) -> tuple[list[str], int]:
    """Plain batched model.generate (left padding, greedy); the replies and the tokens generated up to EOS."""
    import torch

    tok, model = loaded.tokenizer, loaded.model
    tok.padding_side = "left"
    replies, generated = [], 0
    for start in range(0, len(prompts), batch):
        enc = tok(prompts[start : start + batch], return_tensors="pt", padding=True, add_special_tokens=False)
        enc = enc.to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new, do_sample=False, pad_token_id=tok.pad_token_id)
        new = out[:, enc["input_ids"].shape[1] :].cpu()
        for row in new.tolist():
            generated += row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
        replies += [t.strip() for t in tok.batch_decode(new, skip_special_tokens=True)]
    return replies, generated


def ratio_generation(loaded: Any, n_prompts: int, batch: int, max_new: int, repeats: int) -> list[Ratio]:
    from harness.run import DecodingSettings, generate

    cases, prompts = _prompts(loaded, n_prompts)
    settings = DecodingSettings(max_new_tokens=max_new, batch_size=batch)
    ours = generate(loaded, cases, settings)
    plain, tokens = _plain_generate(loaded, prompts, batch, max_new)
    if ours != plain:  # the same tokens on both sides, or the timings compare different work
        raise SystemExit("harness.run.generate and plain model.generate disagree on the replies: not comparable")
    a, b = interleaved(
        lambda: generate(loaded, cases, settings), lambda: _plain_generate(loaded, prompts, batch, max_new), repeats
    )
    loop_prompts = prompts[: max(batch, n_prompts // 4)]  # the loop is slow: a quarter of the prompts, per prompt
    loop_tokens = _plain_generate(loaded, loop_prompts, 1, max_new)[1]
    c, d = interleaved(
        lambda: generate(loaded, cases, settings), lambda: _plain_generate(loaded, loop_prompts, 1, max_new), repeats
    )
    ours_tps, plain_tps = tokens / statistics.median(a), tokens / statistics.median(b)
    loop_tps = loop_tokens / statistics.median(d)
    detail = f"{len(prompts)} prompts, batch {batch}, max_new_tokens {max_new}, {tokens} tokens generated (to EOS)"
    return [
        Ratio(
            "generate vs batched model.generate",
            ours_tps / plain_tps,
            a,
            b,
            f"{detail}; harness {ours_tps:.0f} tok/s, plain {plain_tps:.0f} tok/s",
        ),
        Ratio(
            "generate vs per-prompt loop",
            tokens / statistics.median(c) / loop_tps,
            c,
            d,
            f"loop over {len(loop_prompts)} prompts ({loop_tokens} tokens) one at a time: {loop_tps:.0f} tok/s",
        ),
    ]


def ratio_retention(loaded: Any, tasks: list[str], limit: int | None, repeats: int) -> Ratio:
    """The retention gate's lm-eval bridge against a raw simple_evaluate with the same model, tasks, batch size,
    seed and chat template (and lm-eval's samples kept, bootstrap off, as the bridge asks)."""
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from harness.lm_eval_bridge import WORLD_TASKS_DIR, run_tasks

    manager = TaskManager(include_path=str(WORLD_TASKS_DIR))

    def raw() -> Any:
        model = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=16)
        return simple_evaluate(
            model=model,
            tasks=tasks,
            task_manager=manager,
            limit=limit,
            log_samples=True,
            bootstrap_iters=0,
            apply_chat_template=True,
            fewshot_as_multiturn=True,
        )

    a, b = interleaved(lambda: run_tasks(loaded, tasks, limit=limit), raw, repeats)
    return Ratio(
        "retention vs raw simple_evaluate",
        statistics.median(a) / statistics.median(b),
        a,
        b,
        f"tasks {', '.join(tasks)}, limit {limit}, batch 16 (time ratio, lower is better)",
    )


def _train_timer(times: list[float]) -> Any:
    """Wrap Trainer.train to record the time of its optimizer steps (on_step_begin to on_step_end, summed):
    both sides are timed on the same work; the harness's end-of-run evaluation and checkpoint (the validation
    curve its provenance records) and the setup are not steps."""
    from transformers import Trainer, TrainerCallback

    original = Trainer.train

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.total, self.began = 0.0, 0.0

        def on_step_begin(self, *args: Any, **kwargs: Any) -> None:
            self.began = time.perf_counter()

        def on_step_end(self, *args: Any, **kwargs: Any) -> None:
            self.total += time.perf_counter() - self.began

    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        timer = StepTimer()
        self.add_callback(timer)
        try:
            return original(self, *args, **kwargs)
        finally:
            times.append(timer.total)

    Trainer.train = timed  # type: ignore[method-assign]
    return original


def ratio_lora(placement: Any, steps: int, repeats: int) -> Ratio:
    """``harness train``'s training run (training.train.run_training on the lora recipe, capped at ``steps``,
    no evaluation inside) against a plain peft + Trainer script on the same base, encoded data, LoRA config
    and optimiser settings. Timed: the Trainer's optimizer steps on both sides, per step."""
    from dataclasses import replace

    from transformers import AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer, TrainingArguments

    from harness.models import ModelSpec, resolve
    from harness.registry import Registry
    from training.config import RECIPES_DIR, load_train_spec, lora_config, precision_arguments
    from training.data import encode
    from training.train import prepare_data, run_training

    spec = load_train_spec(RECIPES_DIR / "lora.yaml").with_max_steps(steps)
    spec = replace(
        spec,
        device=placement.device,
        dtype=placement.dtype,
        training=replace(spec.training, eval_every=max(spec.training.eval_every, steps + 1)),  # no evaluation inside
    )
    base = resolve(ModelSpec(spec.base_model), Registry())
    tokenizer = AutoTokenizer.from_pretrained(str(base.path))
    data = prepare_data(spec, tokenizer)
    tokenizer.padding_side = "right"
    encoded = [e.__dict__ for e in encode(data.train, tokenizer, max_length=spec.data.max_length)]
    opt = spec.training

    def plain(scratch: str) -> None:
        import torch
        from peft import get_peft_model

        dtype = placement.torch_dtype() if placement.kind == "cuda" else torch.float32  # LoRA: frozen half base
        model = AutoModelForCausalLM.from_pretrained(str(base.path), dtype=dtype)
        model = get_peft_model(model, lora_config(spec))
        args = TrainingArguments(
            output_dir=scratch,
            max_steps=steps,
            per_device_train_batch_size=opt.batch_size,
            learning_rate=opt.learning_rate,
            lr_scheduler_type=opt.schedule,
            warmup_steps=opt.warmup,
            max_grad_norm=opt.max_grad_norm,
            logging_steps=max(1, opt.eval_every // 5),
            save_strategy="no",
            eval_strategy="no",
            report_to=[],
            seed=opt.seed,
            data_seed=opt.seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
            remove_unused_columns=False,
            **precision_arguments(placement),
        )
        collator = DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100)
        Trainer(model=model, args=args, train_dataset=encoded, data_collator=collator).train()

    def ours(scratch: str) -> None:
        run_training(spec, Path(scratch), data, tokenizer, base, progress=False, log=lambda _: None)

    times: list[float] = []
    original = _train_timer(times)
    try:
        walls = interleaved(lambda: _in_scratch(ours), lambda: _in_scratch(plain), repeats)
    finally:
        Trainer.train = original  # type: ignore[method-assign]
    trains = times[2:]  # past the two warm-ups: harness, plain, harness, plain, ...
    a, b = trains[0::2], trains[1::2]
    per_step = (statistics.median(a) / steps, statistics.median(b) / steps)
    return Ratio(
        "LoRA step vs plain peft + Trainer",
        per_step[1] / per_step[0],
        a,
        b,
        f"{steps} steps, batch {opt.batch_size}, LoRA r={spec.lora.r} on {len(spec.lora.target_modules)} "
        f"modules; per step harness {per_step[0] * 1000:.0f} ms, plain {per_step[1] * 1000:.0f} ms; whole "
        f"run incl. model load: harness {statistics.median(walls[0]):.1f} s, plain "
        f"{statistics.median(walls[1]):.1f} s",
    )


def _in_scratch(fn: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-ratio-") as scratch:
        fn(scratch)


def bench_ratios(args: argparse.Namespace) -> tuple[list[Ratio], str]:
    from harness.device import resolve_placement
    from harness.models import ModelSpec, load
    from harness.threads import configure

    placement = resolve_placement(args.device)
    loaded = load(ModelSpec("base", placement=placement))
    threads = configure(loaded.model)  # both sides of every pair run on the same torch threads
    rows = [
        *ratio_generation(loaded, args.prompts, args.batch, args.max_new_tokens, args.repeats),
        ratio_retention(loaded, ["world_capitals_mc", "world_arithmetic_gen"], args.limit, args.repeats),
        ratio_lora(placement, args.train_steps, args.repeats),
    ]
    where = f"{placement.device} ({placement.dtype}), {threads} torch thread(s), {args.repeats} interleaved repeats"
    return rows, where


def ratio_table(rows: list[Ratio]) -> str:
    lines = [
        "| comparison | ratio | target | result | harness (s, median) | other (s, median) |",
        "|---|---:|---:|---|---:|---:|",
    ]
    for r in rows:
        kind, target = r.target
        lines.append(
            f"| {r.name} | {r.ratio:.2f}x | {'>=' if kind == 'min' else '<='} {target}x | "
            f"{'PASS' if r.passed else 'FAIL'} | {statistics.median(r.harness_s):.2f} | "
            f"{statistics.median(r.other_s):.2f} |"
        )
    return "\n".join([*lines, "", *(f"- {r.name}: {r.detail}" for r in rows)])


def table(rows: list[Measure], idle: Measure | None = None) -> str:
    lines = ["| measurement | wall time (s) | peak RSS (MiB) | above idle (MiB) |", "|---|---:|---:|---:|"]
    for m in rows:
        above = f"{m.peak_mib - idle.peak_mib:.0f}" if idle and m is not idle else "—"
        lines.append(f"| {m.label} | {m.seconds:.1f} | {m.peak_mib:.0f} | {above} |")
    return "\n".join(lines)


def ratios(rows: list[Measure], first: str, second: str, idle: Measure | None) -> str:
    a = next(m for m in rows if m.label.startswith(first))
    b = next(m for m in rows if m.label.startswith(second))
    base = idle.peak_mib if idle else 0.0
    mem = (b.peak_mib - base) / (a.peak_mib - base) if a.peak_mib > base else float("nan")
    return f"{second} / {first}: time x{b.seconds / a.seconds:.2f}, memory above idle x{mem:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("gating", "training", "build", "all", "ratios"))
    parser.add_argument("--model", default="candidate", help="model to gate (default: candidate)")
    parser.add_argument("--steps", type=int, default=60, help="training steps per method (default: 60)")
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    ratio = parser.add_argument_group("ratios")
    ratio.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    ratio.add_argument("--repeats", type=int, default=3, help="interleaved repeats per side (default: 3)")
    ratio.add_argument("--prompts", type=int, default=128, help="held-out cases to generate for (default: 128)")
    ratio.add_argument("--batch", type=int, default=32, help="generation batch size (default: 32)")
    ratio.add_argument("--max-new-tokens", type=int, default=32, help="generation length cap (default: 32)")
    ratio.add_argument("--train-steps", type=int, default=20, help="LoRA steps per training run (default: 20)")
    ratio.add_argument("--limit", type=int, default=100, help="documents per lm-eval task (default: 100)")
    ratio.add_argument("--json", default="reports/benchmark-ratios.json", help="where the ratios are written")
    args = parser.parse_args()
    if args.what == "ratios":
        return ratios_main(args)
    sections = [f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}."]
    if args.what in ("gating", "all"):
        rows = bench_gating(args.model)
        sections += [
            f"### Gating `{args.model}`: cold vs warm result cache",
            table(rows),
            ratios(rows, "gating, cold", "gating, warm", None),
        ]
    if args.what in ("training", "all"):
        rows = bench_training(args.steps)
        idle = rows[0]
        sections += [
            "### Training: LoRA vs QLoRA",
            table(rows, idle),
            ratios(rows, "lora", "qlora", idle),
            weights_in_memory(),
        ]
    if args.what in ("build", "all"):
        sections += ["### Reference model build", table(bench_build())]
    report = "\n\n".join(sections)
    print(report)
    if args.write_docs:
        text = DOCS.read_text(encoding="utf-8")
        start, end = text.index(START) + len(START), text.index(END)
        DOCS.write_text(text[:start] + "\n" + report + "\n" + text[end:], encoding="utf-8")
    return 0


def ratios_main(args: argparse.Namespace) -> int:
    rows, where = bench_ratios(args)
    header = f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; {where}."
    print(header + "\n\n" + ratio_table(rows))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "machine": header,
        "ratios": [
            {
                "name": r.name,
                "ratio": r.ratio,
                "target": list(r.target),
                "passed": r.passed,
                "harness_s": r.harness_s,
                "other_s": r.other_s,
                "detail": r.detail,
            }
            for r in rows
        ],
    }
    out.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"written to {out}")
    return 0 if all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
