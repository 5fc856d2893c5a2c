"""The reference base model meets its quality bars (item 6 of the foundation issue). Slow: builds it."""

from __future__ import annotations

import pytest

from harness.models import ModelSpec, load
from harness.world import load_manifest
from harness.world.evaluate import evaluate_world, format_table

pytestmark = pytest.mark.slow


def test_reference_model_meets_every_quality_bar(reference_model_dir) -> None:  # type: ignore[no-untyped-def]
    loaded = load(ModelSpec(str(reference_model_dir)))
    report = evaluate_world(loaded, load_manifest(reference_model_dir / "world"))
    print("\n" + format_table(report))
    missed = {name: row["value"] for name, row in report["categories"].items() if not row["met"]}
    assert not missed, f"quality bars missed: {missed}\n{format_table(report)}"
