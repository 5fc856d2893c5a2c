"""Synthetic gating runs on disk (results.json, summary.md and the per-example tables a run stores), shaped
like the ones the plugin writes, for the report's tests and scripts/bench_report.py."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from harness.report import summary_markdown

GATES = ("task_baseline", "forgetting_facts", "ab_task", "retention[world_capitals_mc]")
KINDS = {"task_baseline": "baseline", "forgetting_facts": "forgetting", "ab_task": "ab"}


def gate(name: str, estimate: float, verdict: str, *, examples: list[dict[str, Any]] | None = None,
         slices: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    doc: dict[str, Any] = {
        "name": name,
        "suite": "reference",
        "kind": KINDS.get(name, "retention"),
        "metric": "exact_match",
        "n": 60,
        "candidate_value": 0.8 + estimate,
        "reference_value": 0.8,
        "estimate": estimate,
        "ci_low": estimate - 0.06,
        "ci_high": estimate + 0.05,
        "p_value": 0.01,
        "p_adjusted": 0.02,
        "verdict": verdict,
        "reasons": [f"[{verdict}] non-inferiority: estimate {estimate:+.3f}, margin 0.05"],
        "flipped": [e["id"] for e in examples or []],
        "improved": [],
        "checks": [{"alpha": 0.05, "verdict": verdict}],
        "examples": examples or [],
        "notes": [],
        "failure": None,
        "error": None,
    }
    if slices is not None:
        doc["slices"] = slices
    return doc


def slice_record(value: str, n: int, estimate: float, verdict: str, *, gated: bool = False) -> dict[str, Any]:
    """One slice as the gates record it (see harness.gates.result.SliceResult.to_dict)."""
    check = {"name": "non_inferiority", "metric": "exact_match", "n": n, "candidate_value": 0.8 + estimate,
             "reference_value": 0.8, "estimate": estimate, "ci_low": estimate - 0.1, "ci_high": estimate + 0.08,
             "p_value": 0.04, "p_adjusted": 0.08, "alpha": 0.05, "verdict": verdict, "reasons": [],
             "details": {}}  # fmt: skip
    return {"of": "non_inferiority", "by": "category", "value": value, "gated": gated, "check": check}


def write_run(
    reports: Path,
    run_id: str,
    model: str,
    gates: list[dict[str, Any]],
    *,
    outputs: dict[str, dict[str, str]] | None = None,
) -> Path:
    """A run directory like the plugin's; ``outputs`` (role -> item -> text) become stored per-example tables."""
    verdicts = [g["verdict"] for g in gates]
    verdict = next((v for v in ("ERROR", "FAIL", "INCONCLUSIVE") if v in verdicts), "PASS")

    def role(spec: str) -> dict[str, Any]:
        return {"spec": spec, "kind": "directory", "content_hash": (spec.encode().hex() * 64)[:64], "note": None}

    doc = {
        "schema": 1,
        "run_id": run_id,
        "started": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T00:00:00+00:00",
        "verdict": verdict,
        "passed": verdict == "PASS",
        "models": {"candidate": role(model), "baseline": role("production"), "base": role("base")},
        "multiplicity": {"method": "none", "family_size": len(gates)},
        "gates": gates,
    }
    run_dir = reports / "runs" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "results.json").write_text(json.dumps(doc, indent=1))
    (run_dir / "summary.md").write_text(summary_markdown(doc))
    for role, texts in (outputs or {}).items():
        rows = [{"id": item, "score": 1.0, "output": text} for item, text in texts.items()]
        table = run_dir / "scores" / "reference" / "task_baseline" / f"{role}.json"
        table.parent.mkdir(parents=True, exist_ok=True)
        table.write_text(json.dumps({"metric": "exact_match", "rows": rows, "provenance": {}}))
    return run_dir


def synthetic_history(reports: Path, n_runs: int, models: tuple[str, ...] = ("candidate", "production"),
                      seed: int = 0) -> list[Path]:  # fmt: skip
    """``n_runs`` runs, models taking turns, every gate in each, a few flipped items and slices in the latest."""
    rng = random.Random(seed)
    out = []
    for i in range(n_runs):
        model = models[i % len(models)]
        gates = []
        for name in GATES:
            estimate = round(rng.gauss(-0.02 if model == "candidate" else 0.0, 0.03), 4)
            verdict = "FAIL" if estimate < -0.05 else "INCONCLUSIVE" if estimate < -0.03 else "PASS"
            flips = [
                {
                    "id": f"{name}-{k}",
                    "prompt": f"Question {k}?",
                    "reference": f"The answer is Lima {k}",
                    "candidate": f"The answer is Quito {k}",
                    "answer": f"Lima {k}",
                }
                for k in range(3 if verdict != "PASS" else 0)
            ]
            slices = [
                slice_record(c, 20, round(estimate + rng.gauss(0, 0.02), 4), verdict)
                for c in ("geography", "arithmetic", "people")
            ]
            gates.append(gate(name, estimate, verdict, examples=flips, slices=slices))
        run_id = f"2026{1 + i // 600:02d}{1 + (i // 24) % 25:02d}T{i % 24:02d}0000.000000Z-{i:06x}"
        out.append(write_run(reports, run_id, model, gates))
    return out
