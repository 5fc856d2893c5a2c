"""`harness demo`: the main job on the embedded default, end to end.

1. build (or reuse) the reference base model and check it against its quality bars;
2. record the baselines of the reference model: gate it against itself with --update-baselines.

Each step prints what it did; the command fails if a step fails.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.models import ModelSpec, load
from harness.world import load_manifest
from harness.world.build import build_reference_model
from harness.world.evaluate import evaluate_world, format_table
from harness.world.files import repo_root


def gate(model: str, report_dir: Path, *extra: str) -> tuple[int, dict | None]:
    """Run the gating suites on ``model`` in a fresh pytest process; (exit code, results.json or None)."""
    runs = report_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    command = [
        sys.executable,
        "-m",
        "pytest",
        str(repo_root() / "suites"),
        f"--model={model}",
        f"--report-dir={report_dir}",
        "-p",
        "no:cacheprovider",
        "-q",
        *extra,
    ]
    code = subprocess.run(command, cwd=repo_root(), check=False).returncode
    new = sorted(set(runs.iterdir()) - before) if runs.is_dir() else []
    results = new[-1] / "results.json" if new else None
    return code, json.loads(results.read_text()) if results and results.is_file() else None


def run_demo(report_dir: Path) -> int:
    report_dir = report_dir.resolve()
    build = build_reference_model()
    print(f"[1/2] reference model {'reused' if build.reused else 'built'}: {build.model_dir}")
    loaded = load(ModelSpec("base"))
    report = evaluate_world(loaded, load_manifest(build.model_dir / "world"))
    out = report_dir / "world" / f"{loaded.content_hash[:12]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"      on the held-out sets ({out}):")
    print(format_table(report))
    if not report["all_met"]:
        return 1
    print("[2/2] recording the baselines of the reference model (pytest suites/ --model=base --update-baselines)")
    code, results = gate("base", report_dir, "--update-baselines")
    if code != 0 or results is None:
        print(f"recording the baselines failed (pytest exit code {code})", file=sys.stderr)
        return 1
    print(f"      baselines recorded; run verdict {results['verdict']} ({report_dir / 'runs' / results['run_id']})")
    return 0
