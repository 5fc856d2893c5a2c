"""ScoreTable: one model's per-example scores on one case set under one metric. Per-example scores are the
record; every aggregate in a report is derived from them, and paired statistics align two tables by id.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.paths import write_atomic


@dataclass(frozen=True)
class ScoreRow:
    id: str
    score: float
    output: str | None = None  # the model's text (generation) or chosen option (multiple choice)
    cluster: str | None = None
    samples: tuple[float, ...] = ()  # the score of each repeat when a case is sampled several times (score: mean)

    def __post_init__(self) -> None:
        if not isinstance(self.score, int | float) or math.isnan(self.score):
            raise DataError(f"item {self.id!r} has score {self.score!r}: scores must be numbers, not NaN")

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "score": self.score, "output": self.output, "cluster": self.cluster}
        if self.samples:
            row["samples"] = list(self.samples)
        return row


@dataclass(frozen=True)
class ScoreTable:
    metric: str
    rows: tuple[ScoreRow, ...]
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.rows:
            raise DataError(f"score table for {self.metric!r} is empty: a gate cannot run on no items")
        ids = [row.id for row in self.rows]
        if len(set(ids)) != len(ids):
            dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
            raise DataError(f"score table for {self.metric!r} repeats item ids {dupes}: ids must be unique")

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def ids(self) -> list[str]:
        return [row.id for row in self.rows]

    @property
    def scores(self) -> list[float]:
        return [row.score for row in self.rows]

    def mean(self) -> float:
        return sum(self.scores) / len(self.rows)

    def by_id(self) -> dict[str, ScoreRow]:
        return {row.id: row for row in self.rows}

    def align(self, reference: ScoreTable) -> tuple[list[ScoreRow], list[ScoreRow]]:
        """Both tables' rows in the same item order; the item sets must be identical."""
        mine, theirs = self.by_id(), reference.by_id()
        if mine.keys() != theirs.keys():
            only_here = sorted(mine.keys() - theirs.keys())[:5]
            only_there = sorted(theirs.keys() - mine.keys())[:5]
            raise DataError(
                f"cannot pair {self.metric!r} tables: items only in the candidate {only_here}, only in the "
                f"reference {only_there}. The reference was recorded on a different case set: re-record it "
                "(for a stored baseline, rerun with --update-baselines)"
            )
        order = [row.id for row in reference.rows]
        return [mine[i] for i in order], [theirs[i] for i in order]

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "provenance": dict(self.provenance),
            "rows": [r.to_dict() for r in self.rows],
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, where: str = "score table") -> ScoreTable:
        try:
            rows = tuple(
                ScoreRow(
                    str(r["id"]),
                    float(r["score"]),
                    r.get("output"),
                    r.get("cluster"),
                    tuple(float(v) for v in r.get("samples") or ()),
                )
                for r in raw["rows"]
            )
            return cls(str(raw["metric"]), rows, dict(raw.get("provenance") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{where} is malformed ({exc}): delete it and record it again") from None

    def save(self, path: Path) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")  # a reader never sees half a table

    @classmethod
    def load(cls, path: Path) -> ScoreTable:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read score table {path} ({exc}): delete it and record it again") from None
        return cls.from_dict(raw, where=str(path))


def table(metric: str, ids: Sequence[str], scores: Sequence[float], **extra: Any) -> ScoreTable:
    """Build a table from parallel sequences; ``outputs`` / ``clusters`` / ``samples`` / ``provenance`` optional."""
    outputs = extra.get("outputs") or [None] * len(ids)
    clusters = extra.get("clusters") or [None] * len(ids)
    samples = extra.get("samples") or [()] * len(ids)
    rows = tuple(
        ScoreRow(i, float(s), o, c, tuple(r))
        for i, s, o, c, r in zip(ids, scores, outputs, clusters, samples, strict=True)
    )
    return ScoreTable(metric, rows, dict(extra.get("provenance") or {}))
