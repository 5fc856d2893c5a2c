"""HARNESS_HOME: where built models, the registry and caches live (default ./.harness)."""

from __future__ import annotations

import os
from pathlib import Path


def harness_home() -> Path:
    """$HARNESS_HOME, or ./.harness relative to the current directory; created on first use."""
    home = Path(os.environ.get("HARNESS_HOME", ".harness")).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def models_dir() -> Path:
    path = harness_home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    path = harness_home() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path
