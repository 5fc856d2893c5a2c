"""Speed and memory, measured side by side in one run (never by timed unit tests).

    python scripts/benchmark.py gating   [--model candidate]   cold vs warm gating run (result cache)
    python scripts/benchmark.py training [--steps 60]          LoRA vs QLoRA: wall time and peak memory
    python scripts/benchmark.py build                          the reference model from scratch
    python scripts/benchmark.py all [--write-docs]             all three; --write-docs updates docs/benchmarks.md

Each measurement runs in its own child process; peak memory is that child's maximum resident set size
(os.wait4), reported in total and above an idle child that only imports the same libraries, so the part the
model and the training add is visible under the ~0.5 GB of torch and transformers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

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
    parser.add_argument("what", choices=("gating", "training", "build", "all"))
    parser.add_argument("--model", default="candidate", help="model to gate (default: candidate)")
    parser.add_argument("--steps", type=int, default=60, help="training steps per method (default: 60)")
    parser.add_argument("--write-docs", action="store_true", help="write the tables into docs/benchmarks.md")
    args = parser.parse_args()
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


if __name__ == "__main__":
    sys.exit(main())
