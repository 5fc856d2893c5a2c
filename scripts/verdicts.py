"""Verdicts of the shipped recipes across training seeds and CPU numerics: does a verdict depend on the machine?

    python scripts/verdicts.py --seeds 0 1 2                       # this machine's numerics
    python scripts/verdicts.py --seeds 0 --isa avx2                # AVX2-only numerics (ATEN/oneDNN capped)
    python scripts/verdicts.py --seeds 0 --threads 2               # two torch threads instead of one

Each (recipe, seed) is trained with `harness train --seed --register-as` and gated with
`pytest suites/ --baseline=base` in its own process, two processes at a time (one torch thread each by
default), against baselines recorded from the base model first. Prints one Markdown table: a row per
candidate, a column per gate, and the run verdict. The exit code is 1 if any sound recipe is not PASS or a
reckless one is not FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXPECTED = {"lora": "PASS", "qlora": "PASS", "reckless": "FAIL"}
ISA = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}, "native": {}}


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.update(ISA[args.isa])
    if args.threads:
        env["HARNESS_THREADS"] = str(args.threads)
    return env


def _run(command: list[str], env: dict[str, str], log: Path) -> int:
    with log.open("w") as out:
        return subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode


def _gate(model: str, report_dir: Path, env: dict[str, str], log: Path, *extra: str) -> dict | None:
    runs = report_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    command = [sys.executable, "-m", "pytest", "suites", f"--model={model}", "--baseline=base"]
    command += [f"--report-dir={report_dir}", "-p", "no:cacheprovider", "-q", *extra]
    _run(command, env, log)
    new = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    results = [r / "results.json" for r in new if (r / "results.json").is_file()]
    return json.loads(results[-1].read_text()) if results else None


def _candidate(recipe: str, seed: int, args: argparse.Namespace, env: dict[str, str]) -> tuple[str, dict | None, float]:
    alias = f"candidate-{recipe}-s{seed}-{args.isa}-t{args.threads or 'auto'}"
    log = args.logs / f"{alias}.train.log"
    started = time.perf_counter()
    spec = ROOT / "training" / "recipes" / f"{recipe}.yaml"
    code = _run(
        [
            sys.executable,
            "-m",
            "harness.cli",
            "train",
            str(spec),
            "--quiet",
            "--seed",
            str(seed),
            "--register-as",
            alias,
        ],
        env,
        log,
    )
    seconds = time.perf_counter() - started
    if code != 0:
        print(f"{alias}: training failed, see {log}", file=sys.stderr)
        return alias, None, seconds
    return alias, _gate(alias, args.report_dir, env, args.logs / f"{alias}.gate.log"), seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipes", nargs="+", default=list(EXPECTED))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--isa", choices=sorted(ISA), default="native")
    parser.add_argument("--threads", type=int, help="HARNESS_THREADS for every process (default: auto)")
    parser.add_argument("--jobs", type=int, default=2, help="processes at a time")
    parser.add_argument("--report-dir", type=Path, default=ROOT / "reports" / "verdicts")
    parser.add_argument("--logs", type=Path, default=ROOT / "reports" / "verdicts" / "logs")
    args = parser.parse_args()
    args.logs.mkdir(parents=True, exist_ok=True)
    env = _env(args)
    base = _gate("base", args.report_dir, env, args.logs / "base.gate.log", "--update-baselines")
    if base is None:
        print("recording the baselines failed", file=sys.stderr)
        return 1
    jobs = [(recipe, seed) for seed in args.seeds for recipe in args.recipes]
    with ThreadPoolExecutor(args.jobs) as pool:
        done = list(pool.map(lambda job: (job[0], *_candidate(job[0], job[1], args, env)), jobs))
    gates = [g["name"] for g in base["gates"]]
    print(f"\nnumerics: {args.isa}, threads: {args.threads or 'auto'}\n")
    print("| candidate | train+gate s | " + " | ".join(gates) + " | run |")
    print("|---" * (len(gates) + 3) + "|")
    bad = 0
    for recipe, alias, doc, seconds in done:
        verdicts = {g["name"]: g["verdict"] for g in doc["gates"]} if doc else {}
        run = doc["verdict"] if doc else "ERROR"
        bad += run != EXPECTED[recipe]
        cells = " | ".join(verdicts.get(g, "-") for g in gates)
        print(f"| {alias} | {seconds:.0f} | {cells} | {run} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
