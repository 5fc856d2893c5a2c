"""Installed as a wheel into a fresh virtualenv outside the checkout, `harness init` in an empty directory and
the reference suite gated from there give the same verdicts as the checkout's package. Slow: it builds the
wheel and gates the real reference model twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHECKOUT = Path(__file__).resolve().parents[1]


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def _fresh_venv(root: Path, wheel: Path) -> Path:
    """A virtualenv whose own site-packages gets the wheel; the heavy stack comes from this test's environment
    through a .pth line (a plain path: the checkout's editable-install hooks there are not run)."""
    venv.EnvBuilder(with_pip=True).create(root)
    python = root / "bin" / "python"
    site = Path(
        _run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, dict(os.environ)
        ).stdout.strip()
    )
    (site / "zz_test_stack.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    done = _run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)], root, dict(os.environ))
    assert done.returncode == 0, done.stdout + done.stderr
    return python


def _gate(python: Path, repo: Path, home: Path, model_dir: Path) -> dict[str, str]:
    env = {**os.environ, "HARNESS_HOME": str(home)}
    env.pop("HARNESS_WORLD_DIR", None)
    done = _run([str(python), "-m", "harness.cli", "registry", "set", "base", str(model_dir)], repo, env)
    assert done.returncode == 0, done.stderr
    args = ["--model=base", "--baseline=base", "--base-model=base", "--update-baselines", "-p", "no:cacheprovider"]
    done = _run([str(python), "-m", "pytest", "suites/test_reference.yaml", *args], repo, env)
    runs = sorted((repo / "reports" / "runs").iterdir())
    assert runs, done.stdout + done.stderr
    results = json.loads((runs[-1] / "results.json").read_text())
    return {gate["name"]: gate["verdict"] for gate in results["gates"]}


def test_a_wheel_installed_elsewhere_gates_like_the_checkout(tmp_path: Path, reference_model_dir: Path) -> None:
    wheels = tmp_path / "wheels"
    done = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(CHECKOUT)],
        tmp_path,
        dict(os.environ),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = wheels.glob("gate_harness-*.whl")
    python = _fresh_venv(tmp_path / "venv", wheel)
    where = _run(
        [str(python), "-c", "import harness.resources as r; print(r.__file__); print(r.data_dir())"],
        tmp_path,
        dict(os.environ),
    )
    module, data = where.stdout.split()
    assert Path(module).is_relative_to(tmp_path / "venv") and Path(data).is_relative_to(tmp_path / "venv"), where

    repo = tmp_path / "user-repo"
    repo.mkdir()
    done = _run([str(tmp_path / "venv" / "bin" / "harness"), "init"], repo, dict(os.environ))
    assert done.returncode == 0 and "wrote" in done.stdout, done.stderr
    installed = _gate(python, repo, tmp_path / "home-wheel", reference_model_dir)

    inside = tmp_path / "checkout-run"
    (inside / "suites").mkdir(parents=True)
    shutil.copy(CHECKOUT / "suites" / "test_reference.yaml", inside / "suites")
    in_checkout = _gate(Path(sys.executable), inside, tmp_path / "home-checkout", reference_model_dir)

    assert installed == in_checkout
    assert set(installed) >= {
        "task_baseline",
        "forgetting_facts",
        "retention[world_capitals_mc]",
        "safety",
        "finetune_lora",
    }, installed
    assert set(installed.values()) == {"PASS"}, installed  # the reference model against itself
