"""`harness world build`: build (or reuse) the reference base model and register it as ``base``.

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
from pathlib import Path

from filelock import FileLock

from harness.device import CPU, Placement, default_placement
from harness.home import models_dir
from harness.registry import Registry
from harness.world.files import MANIFEST, WorldManifest, default_world_dir, load_manifest
from training.pretrain import PretrainConfig, pretrain

BUILD_VERSION = 1  # bump when the build code changes what a given world + config produces
BUILD_RECORD = "build.json"


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
    placement: Placement | None = None,
) -> BuildResult:
    manifest = load_manifest(world_dir or default_world_dir())
    config = config or PretrainConfig()
    placement = placement or default_placement()
    key = build_key(manifest, config, placement)
    final = models_dir() / f"base-{key[:12]}"
    registry = registry or Registry()
    with FileLock(str(final) + ".lock", timeout=3600):
        reused = (final / BUILD_RECORD).is_file()
        if not reused:
            partial = final.with_name(final.name + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            started = time.perf_counter()
            stats = pretrain(manifest, config, partial, progress=progress, placement=placement)
            _copy_world(manifest, partial / "world")
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
            shutil.rmtree(final, ignore_errors=True)
            partial.rename(final)
        record = json.loads((final / BUILD_RECORD).read_text())
    current = registry.get("base")
    if current is None or Path(current.path) != final:
        from harness.models import Resolved, content_hash

        digest = content_hash(Resolved("model", final, "base", None), load_in_4bit=False)
        registry.set("base", final, content_hash=digest, reason=f"harness world build (key {key[:12]})")
    return BuildResult(final, reused, record)
