"""The world on disk: JSONL files plus a ``world.json`` manifest that lists them and the refusal markers."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from harness.cases import Case, read_cases, write_cases, write_jsonl
from harness.errors import ConfigError
from harness.resources import packaged_world_dir
from harness.world.generate import World

MANIFEST = "world.json"
WORLD_SEED = 20261122


def default_world_dir() -> Path:
    """$HARNESS_WORLD_DIR, else the world shipped as package data (harness/data/world)."""
    override = os.environ.get("HARNESS_WORLD_DIR")
    return Path(override) if override else packaged_world_dir()


@dataclass(frozen=True)
class WorldManifest:
    root: Path
    seed: int
    heldout: dict[str, Path]  # category -> JSONL of cases
    task: dict[str, Path]  # train / validation / test
    pretraining: dict[str, Path]  # chat / text
    refusal_markers: tuple[str, ...]

    def cases(self, category: str) -> list[Case]:
        if category not in self.heldout:
            raise ConfigError(f"world has no held-out category {category!r}; known: {sorted(self.heldout)}")
        return read_cases(self.heldout[category])

    def content_hash(self) -> str:
        """sha256 over every data file the manifest names (the manifest's own formatting does not count)."""
        digest = hashlib.sha256()
        digest.update(json.dumps(sorted(self.refusal_markers)).encode())
        for path in sorted({*self.heldout.values(), *self.task.values(), *self.pretraining.values()}):
            digest.update(path.relative_to(self.root).as_posix().encode())
            digest.update(path.read_bytes())
        return digest.hexdigest()


def write_world(world: World, out_dir: Path, seed: int) -> Path:
    """Write every file of ``world`` under ``out_dir`` and its manifest; returns the manifest path."""
    heldout = {name: f"heldout/{name}.jsonl" for name in world.heldout}
    heldout["task"] = "task/test.jsonl"
    for name, cases in world.heldout.items():
        write_cases(out_dir / heldout[name], cases)
    task = {name: f"task/{name}.jsonl" for name in world.task}
    for name, rows in world.task.items():
        write_jsonl(out_dir / task[name], rows)
    pretraining = {"chat": "pretrain/chat.jsonl", "text": "pretrain/text.jsonl"}
    write_jsonl(out_dir / pretraining["chat"], world.chat)
    write_jsonl(out_dir / pretraining["text"], world.text)
    manifest = {
        "name": "reference-world",
        "seed": seed,
        "heldout": heldout,
        "task": task,
        "pretraining": pretraining,
        "refusal_markers": list(world.refusal_markers),
        "counts": {
            **{f"heldout/{k}": len(v) for k, v in world.heldout.items()},
            **{f"task/{k}": len(v) for k, v in world.task.items()},
            "pretrain/chat": len(world.chat),
            "pretrain/text": len(world.text),
        },
    }
    path = out_dir / MANIFEST
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path


def load_manifest(location: Path) -> WorldManifest:
    """Read ``world.json`` (or the directory holding it) and check that every listed file exists."""
    path = location / MANIFEST if location.is_dir() else location
    if not path.is_file():
        raise ConfigError(f"no world manifest at {path}: run `harness world generate` (or `harness world build`) first")
    raw = json.loads(path.read_text(encoding="utf-8"))
    root = path.parent
    try:
        manifest = WorldManifest(
            root=root,
            seed=int(raw["seed"]),
            heldout={k: root / v for k, v in raw["heldout"].items()},
            task={k: root / v for k, v in raw["task"].items()},
            pretraining={k: root / v for k, v in raw["pretraining"].items()},
            refusal_markers=tuple(raw["refusal_markers"]),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc.args[0]!r}; regenerate it with `harness world generate`") from None
    for file in [*manifest.heldout.values(), *manifest.task.values(), *manifest.pretraining.values()]:
        if not file.is_file():
            raise ConfigError(f"{path} lists {file}, which does not exist: run `harness world generate`")
    return manifest
