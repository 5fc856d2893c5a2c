"""`harness world build`: install (or build, or reuse) the reference base model and register it as ``base``.

The package ships the reference weights (``harness/data/reference-model``, built by ``harness world build
--from-scratch`` and copied there by ``--ship``). Installing them is the default whenever they were built
from the same world and pretraining config: every machine then gates against one and the same base model,
so verdicts do not depend on the numerics of the machine that pretrained it (an AVX2 CPU, an AVX-512 CPU and
a GPU each pretrain a different model from the same seed). ``--from-scratch`` pretrains instead.

The model directory is named by a content hash of the world files and the pretraining config, so an
unchanged world is never rebuilt. Builds happen in a ``.partial`` directory under a file lock and are
renamed into place when complete: a crashed build leaves nothing that looks finished, and concurrent
callers (pytest-xdist workers) wait for one build instead of racing.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from filelock import FileLock

from harness.device import CPU, Placement, default_placement
from harness.errors import ConfigError
from harness.home import models_dir
from harness.registry import Registry
from harness.world.files import MANIFEST, WorldManifest, default_world_dir, load_manifest

if TYPE_CHECKING:
    from training.api import PretrainConfig

BUILD_VERSION = 1  # bump when the build code changes what a given world + config produces
BUILD_RECORD = "build.json"
# What a shipped (or installed) reference model holds: weights, config, tokenizer and the build record.
SHIPPED_FILES = (
    "model.safetensors",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    BUILD_RECORD,
)


def shipped_model_dir() -> Path:
    """The reference weights inside the installed package (may be absent in a source tree being rebuilt)."""
    return Path(str(resources.files("harness") / "data" / "reference-model"))


def _shipped_record(key: str) -> dict | None:
    """The shipped build's record if it was built from this world and config, else None."""
    record_file = shipped_model_dir() / BUILD_RECORD
    if not record_file.is_file():
        return None
    record = json.loads(record_file.read_text(encoding="utf-8"))
    return record if record.get("build_key") == key else None


@dataclass(frozen=True)
class BuildResult:
    model_dir: Path
    reused: bool
    record: dict


def build_key(manifest: WorldManifest, config: PretrainConfig, placement: Placement = CPU) -> str:
    """The build's identity; a build on another device kind or precision than the CPU's float32 is another
    model (its numerics differ), so it gets its own key and directory."""
    parts: dict[str, object] = {"world": manifest.content_hash(), "config": config.to_dict(), "version": BUILD_VERSION}
    if placement.hash_tag():
        parts["placement"] = placement.hash_tag()
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _copy_world(manifest: WorldManifest, target: Path) -> None:
    """Copy the manifest and every file it lists, keeping their relative layout."""
    files = [*manifest.heldout.values(), *manifest.task.values(), *manifest.pretraining.values()]
    for file in [manifest.root / MANIFEST, *files]:
        dest = target / file.relative_to(manifest.root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, dest)


def build_reference_model(
    world_dir: Path | None = None,
    config: PretrainConfig | None = None,
    *,
    registry: Registry | None = None,
    progress: bool = True,
    from_scratch: bool = False,
    placement: Placement | None = None,
) -> BuildResult:
    """Install the shipped reference weights (or pretrain them with ``from_scratch``, or when nothing shipped
    matches this world and config), register the result as ``base`` and return it."""
    from training import api

    manifest = load_manifest(world_dir or default_world_dir())
    config = config or api.PretrainConfig()
    placement = placement or default_placement()
    key = build_key(manifest, config)  # what the model is: world and config (shipped weights are CPU-built)
    shipped = None if from_scratch else _shipped_record(key)
    # Pretraining elsewhere (a GPU, bf16) gives another model from the same seed: its own directory.
    final = models_dir() / (
        f"base-{key[:12]}" if shipped else f"base-{build_key(manifest, config, placement)[:12]}-scratch"
    )
    registry = registry or Registry()
    with FileLock(str(final) + ".lock", timeout=3600):
        reused = (final / BUILD_RECORD).is_file()
        if not reused:
            partial = final.with_name(final.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            if shipped:
                for name in SHIPPED_FILES:
                    shutil.copyfile(shipped_model_dir() / name, partial / name)
            else:
                _pretrain_into(partial, manifest, config, key, progress, placement)
            _copy_world(manifest, partial / "world")
            shutil.rmtree(final, ignore_errors=True)
            partial.rename(final)
        record = json.loads((final / BUILD_RECORD).read_text())
    current = registry.get("base")
    if current is None or Path(current.path) != final:
        from harness.models import Resolved, content_hash

        digest = content_hash(Resolved("model", final, "base", None), load_in_4bit=False)
        how = "shipped weights" if shipped else "pretrained here"
        registry.set("base", final, content_hash=digest, reason=f"harness world build (key {key[:12]}, {how})")
    return BuildResult(final, reused, record)


def _pretrain_into(
    partial: Path, manifest: WorldManifest, config: PretrainConfig, key: str, progress: bool, placement: Placement
) -> None:
    from training import api

    started = time.perf_counter()
    stats = api.pretrain(manifest, config, partial, progress=progress, placement=placement)
    record = {
        "build_key": key,
        "world_hash": manifest.content_hash(),
        "config": config.to_dict(),
        "build_version": BUILD_VERSION,
        "placement": placement.describe(),
        "build_seconds": round(time.perf_counter() - started, 1),
        **stats,
    }
    (partial / BUILD_RECORD).write_text(json.dumps(record, indent=2) + "\n")


def ship(model_dir: Path, target: Path | None = None) -> Path:
    """Copy a from-scratch build into the package's data (a maintainer's step after the world changes)."""
    target = target or shipped_model_dir()
    missing = [name for name in SHIPPED_FILES if not (model_dir / name).is_file()]
    if missing:
        raise ConfigError(f"{model_dir} lacks {missing}: pass a directory written by `harness world build`")
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copyfile(model_dir / name, target / name)
    return target
