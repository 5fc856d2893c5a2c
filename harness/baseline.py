"""Stored baselines: the reference model's per-example scores for a gate, kept beside the suite.

``<suite dir>/<baselines>/<suite>/<gate>.json`` is the current baseline; updating one moves the previous
version to ``history/<gate>.<timestamp>.json`` first, so no recorded baseline is ever lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.paths import safe_component
from harness.scores import ScoreTable


@dataclass(frozen=True)
class BaselineStore:
    root: Path

    def path(self, gate: str) -> Path:
        return self.root / f"{safe_component(gate)}.json"

    def read(self, gate: str) -> ScoreTable | None:
        path = self.path(gate)
        return ScoreTable.load(path) if path.is_file() else None

    def write(self, gate: str, table: ScoreTable) -> tuple[Path, Path | None]:
        """Store ``table`` as the baseline of ``gate``; returns (its path, where the previous one went)."""
        path = self.path(gate)
        previous = None
        if path.is_file():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            previous = self.root / "history" / f"{safe_component(gate)}.{stamp}.json"
            previous.parent.mkdir(parents=True, exist_ok=True)
            path.replace(previous)
        table.save(path)
        return path, previous

    def versions(self, gate: str) -> list[Path]:
        """Earlier versions of ``gate``'s baseline, oldest first."""
        return sorted((self.root / "history").glob(f"{safe_component(gate)}.*.json"))
