"""Provenance of a run: package versions, git commit, interpreter and machine."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness.device import gpu_names

PACKAGES = (
    "gate-harness",
    "torch",
    "transformers",
    "peft",
    "bitsandbytes",
    "accelerate",
    "lm_eval",
    "datasets",
    "tokenizers",
    "scipy",
    "numpy",
    "rouge_score",
)


# The packages whose versions change what training produces: part of every training cache key.
TRAINING_PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate")


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


@lru_cache(maxsize=4)
def git_commit(where: Path | None = None) -> str | None:
    """HEAD of the repository holding ``where`` (default: this checkout), with '+dirty' if it has changes."""
    cwd = where or Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=cwd, capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def environment() -> dict[str, Any]:
    return {
        "packages": package_versions(),
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "gpus": gpu_names(),
    }
