"""`harness demo`: the main job on the embedded default, end to end.

Build (or reuse) the reference base model, then evaluate it on the world's held-out sets against the
quality bars. Each step prints what it did; the command fails if a step fails.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.models import ModelSpec, load
from harness.world import load_manifest
from harness.world.build import build_reference_model
from harness.world.evaluate import evaluate_world, format_table


def run_demo(report_dir: Path) -> int:
    build = build_reference_model()
    print(f"[1/2] reference model {'reused' if build.reused else 'built'}: {build.model_dir}")
    loaded = load(ModelSpec("base"))
    report = evaluate_world(loaded, load_manifest(build.model_dir / "world"))
    out = report_dir / "world" / f"{loaded.content_hash[:12]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[2/2] reference model on the held-out sets ({out}):")
    print(format_table(report))
    return 0 if report["all_met"] else 1
