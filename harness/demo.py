"""`harness demo`: the main job on the embedded default, end to end.

1. install (or reuse) the shipped reference base model and check it against its quality bars;
2. record the baselines of the reference model (gate it against itself with --update-baselines);
3. train the sound LoRA and QLoRA recipes and the reckless one, two processes at a time;
4. gate each candidate (pytest suites/ --model=...), two processes at a time;
5. promote the LoRA candidate to production, and show promotion refusing the reckless one;
6. write the cross-run report (reports/index.html).

The command fails if a step that must succeed does not: the base model missing a bar, a sound candidate
failing its gates or being refused, or the reckless candidate being let through.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, RegistryError
from harness.jobs import Job, run_jobs
from harness.models import ModelSpec, load
from harness.promotion import promote
from harness.world import load_manifest
from harness.world.build import build_reference_model
from harness.world.evaluate import evaluate_world, format_table

RECIPES = {"lora": "candidate", "qlora": "candidate-qlora", "reckless": "candidate-reckless"}
EXPECTED = {"lora": "PASS", "qlora": "PASS", "reckless": "FAIL"}  # the run verdict each recipe must get
SUITES = Path("suites")  # of the current directory: the checkout (./dev demo) or a `harness init` repository
PARALLEL = 2  # processes at a time: one torch thread each (harness.threads) keeps two cores busy


def gate_command(model: str, report_dir: Path, *extra: str) -> list[str]:
    """The gating run of ``model``. The baseline is pinned to the base model: once an earlier demo has promoted
    a candidate, the default (production) would make a rerun compare against that candidate instead."""
    return [
        sys.executable,
        "-m",
        "pytest",
        str(SUITES),
        f"--model={model}",
        f"--report-dir={report_dir}",
        "--baseline=base",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        *extra,
    ]


def gate(model: str, report_dir: Path, *extra: str) -> tuple[int, dict[str, Any] | None]:
    """Run the gating suites on ``model`` in a fresh pytest process; (exit code, results.json or None)."""
    runs = report_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    code = subprocess.run(gate_command(model, report_dir, *extra), check=False).returncode
    return code, _new_results(runs, before).get(model)


def _job_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _train_all(report_dir: Path) -> list[str]:
    """Train every recipe, two processes at a time (one torch thread each): both cores busy, no contention."""
    from training import api

    jobs = [
        Job(
            recipe,
            [sys.executable, "-m", "harness.cli", "train", str(api.RECIPES_DIR / f"{recipe}.yaml")],
            report_dir / "demo-logs" / f"train-{recipe}.log",
        )
        for recipe in RECIPES
    ]
    outcomes = run_jobs(jobs, parallel=PARALLEL, env=_job_env(), desc="      training")
    return [f"{o.job.name}: training failed (see {o.job.log})" for o in outcomes if o.returncode != 0]


def _gate_all(report_dir: Path) -> list[str]:
    """Gate every candidate, two pytest processes at a time; each must get its expected verdict."""
    jobs = [
        Job(alias, gate_command(alias, report_dir), report_dir / "demo-logs" / f"gate-{alias}.log")
        for alias in RECIPES.values()
    ]
    runs = report_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    outcomes = run_jobs(jobs, parallel=PARALLEL, env=_job_env(), desc="      gating")
    by_model = _new_results(runs, before)
    failures = []
    for (recipe, alias), outcome in zip(RECIPES.items(), outcomes, strict=True):
        results = by_model.get(alias)
        verdict = results["verdict"] if results else "none"
        print(f"      {alias}: exit code {outcome.returncode}, verdict {verdict}: {_verdicts(results)}")
        if verdict != EXPECTED[recipe]:
            failures.append(f"{recipe}: gating verdict {verdict}, expected {EXPECTED[recipe]} (see {outcome.job.log})")
    return failures


def _new_results(runs: Path, before: set[Path]) -> dict[str, dict[str, Any]]:
    """results.json of the runs made since ``before``, by the --model they gated."""
    out: dict[str, dict[str, Any]] = {}
    for run in sorted(set(runs.iterdir()) - before) if runs.is_dir() else []:
        path = run / "results.json"
        if path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            out[doc["models"]["candidate"]["spec"]] = doc
    return out


def _verdicts(results: dict[str, Any] | None) -> str:
    if results is None:
        return "no results"
    return ", ".join(f"{g['name']} {g['verdict']}" for g in results["gates"])


def run_demo(report_dir: Path) -> int:
    report_dir = report_dir.resolve()
    if not (SUITES / "test_reference.yaml").is_file():
        print(
            f"no {SUITES / 'test_reference.yaml'} under {Path.cwd()}: run the demo from the checkout (./dev demo) "
            "or from a directory set up with `harness init`",
            file=sys.stderr,
        )
        return 2
    build = build_reference_model()
    print(f"[1/6] reference model {'reused' if build.reused else 'built'}: {build.model_dir}")
    loaded = load(ModelSpec("base"))
    report = evaluate_world(loaded, load_manifest(build.model_dir / "world"))
    print(format_table(report))
    if not report["all_met"]:
        return 1
    print("[2/6] recording the baselines of the reference model")
    code, _ = gate("base", report_dir, "--update-baselines")
    if code != 0:
        print(f"recording the baselines failed (pytest exit code {code})", file=sys.stderr)
        return 1
    print(f"[3/6] training the candidates (harness train training/recipes/<recipe>.yaml, {PARALLEL} at a time)")
    failures = _train_all(report_dir)
    if failures:
        print("\n".join(f"demo failed: {f}" for f in failures), file=sys.stderr)
        return 1
    print(f"[4/6] gating each candidate (pytest suites/ --model=<alias> --baseline=base, {PARALLEL} at a time)")
    failures = _gate_all(report_dir)
    print("[5/6] promotion")
    failures += _promotions(report_dir)
    print("[6/6] report")
    from harness.dashboard import write_dashboard

    print(f"      {write_dashboard(report_dir)}")
    for failure in failures:
        print(f"demo failed: {failure}", file=sys.stderr)
    return 1 if failures else 0


def _promotions(report_dir: Path) -> list[str]:
    failures = []
    try:
        _, check = promote(
            "candidate", "production", report_dir, suites_dir=SUITES, reason="harness demo: the sound LoRA recipe"
        )
        print(f"      PROMOTED candidate (lora, {check.content_hash[:12]}) to production after run {check.run_id}")
    except HarnessError as exc:
        print(f"      the LoRA candidate was refused, which it must not be:\n{exc}", file=sys.stderr)
        failures.append("lora refused")
    try:
        promote(
            "candidate-reckless",
            "production",
            report_dir,
            suites_dir=SUITES,
            reason="harness demo: the reckless recipe",
        )
        print("      the reckless candidate was promoted, which the gates must prevent", file=sys.stderr)
        failures.append("reckless promoted")
    except RegistryError as exc:
        print("      REFUSED candidate-reckless, as it should be:")
        print("      " + str(exc).replace("\n", "\n      "))
    return failures
