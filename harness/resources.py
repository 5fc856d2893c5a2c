"""The data the gates need at run time, shipped inside the package (``harness/data``) and found with
``importlib.resources``, never through a checkout: the same paths work in a clone, an editable install and a
wheel installed into another project.

    harness/data/world/               the reference world (world.json, sources.yaml, heldout/, task/, pretrain/)
    harness/data/safety/jailbreaks.yaml   jailbreak templates of the safety gate
    harness/data/lm_eval/             the world's lm-eval tasks (YAML + world_tasks.py)
    harness/data/suites/              the reference suite that `harness init` copies
    harness/data/scaffold/            the rest of what `harness init` writes
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from harness.errors import ConfigError


def data_dir() -> Path:
    """``harness/data`` of the installed package, as a real directory (lm-eval and the world need paths)."""
    root = files("harness") / "data"
    if not isinstance(root, Path) or not root.is_dir():
        raise ConfigError(
            f"the package data of gate-harness is not a directory on disk ({root!r}): install the package "
            "unzipped (`pip install gate-harness`, not a zipapp or a zipped egg)"
        )
    return root


def packaged_world_dir() -> Path:
    return data_dir() / "world"


def jailbreaks_file() -> Path:
    return data_dir() / "safety" / "jailbreaks.yaml"


def lm_eval_dir() -> Path:
    return data_dir() / "lm_eval"


def suites_dir() -> Path:
    return data_dir() / "suites"


def packaged_suite(name: str) -> Path:
    """A shipped suite by name (``reference`` -> harness/data/suites/test_reference.yaml)."""
    path = suites_dir() / f"test_{name}.yaml"
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem.removeprefix("test_") for p in suites_dir().glob("test_*.yaml")))
        raise ConfigError(f"no shipped suite {name!r} ({path} does not exist); shipped suites: {shipped}")
    return path


def scaffold_dir() -> Path:
    return data_dir() / "scaffold"
