"""Content-addressed result cache: a model's outputs on a case set, keyed by what determines them.

The key is a hash of (model content hash, cases content hash, decoding settings, what was computed), so an
unchanged model on unchanged cases is never run twice. One file lock per key: concurrent workers
(pytest-xdist) computing the same entry wait for one computation instead of repeating it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock

from harness.home import cache_dir
from harness.paths import write_atomic


def paths_hash(paths: list[Path]) -> str:
    """sha256 over files, or every file under directories (relative names and bytes), in a stable order."""
    digest = hashlib.sha256()
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for file in files:
            if "__pycache__" in file.parts:
                continue
            digest.update(str(file.relative_to(root) if file != root else file.name).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def cache_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class ResultCache:
    root: Path = field(default_factory=lambda: cache_dir() / "results")
    hits: int = 0
    misses: int = 0

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def contains(self, key: str) -> bool:
        """Whether ``key`` has a stored value (a later get_or_compute may still recompute a torn entry)."""
        return self._path(key).is_file()

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
        """The cached JSON value for ``key``, computing and storing it (atomically) on a miss."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock", timeout=3600):
            if path.is_file():
                try:
                    value = json.loads(path.read_text(encoding="utf-8"))
                    self.hits += 1
                    return value
                except json.JSONDecodeError:
                    path.unlink()  # a torn entry from a crashed writer: recompute it
            value = compute()
            write_atomic(path, json.dumps(value))
            self.misses += 1
            return value
