"""Evaluation cases: one chat prompt with its expected answer, read from JSONL or CSV, written to JSONL.

A JSONL row is ``{"id": str, "category": str, "messages": [{"role": ..., "content": ...}, ...],
"answer": str | null}`` plus an optional ``cluster`` (items that share a source question under several
templates share a cluster, for clustered standard errors).

A CSV file has a header row with the columns ``id, prompt, answer`` and optionally ``category`` and
``cluster``: one single-turn user prompt per row; an empty answer is null (no reference answer, as for
harmful requests), an empty category is ``task``, an empty cluster is none.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.errors import DataError

CATEGORIES = ("fact", "arithmetic", "harmful", "benign", "task")
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Message:
    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise DataError(f"message role {self.role!r} is not one of {ROLES}")
        if not isinstance(self.content, str):
            raise DataError(f"message content must be a string, got {type(self.content).__name__}")

    def to_dict(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    messages: tuple[Message, ...]
    answer: str | None
    cluster: str | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.id:
            raise DataError("a case has an empty id: give every row a unique, non-empty 'id'")
        if not self.messages:
            raise DataError(f"case {self.id!r} has no messages: add at least one user message")
        if self.messages[-1].role != "user":
            raise DataError(
                f"case {self.id!r} ends with a {self.messages[-1].role!r} message: an evaluation case must end "
                "with the user turn the model answers (put the expected reply in 'answer')"
            )

    @property
    def prompt(self) -> str:
        """The last user message: what the model is asked."""
        return self.messages[-1].content

    def to_dict(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "messages": [m.to_dict() for m in self.messages],
            "answer": self.answer,
        }
        if self.cluster is not None:
            row["cluster"] = self.cluster
        if self.meta:
            row["meta"] = self.meta
        return row


def case_from_dict(row: Any, *, where: str) -> Case:
    """Build a Case from one decoded JSON row; ``where`` ("file.jsonl:12") locates errors."""
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    missing = [key for key in ("id", "category", "messages", "answer") if key not in row]
    if missing:
        raise DataError(f"{where}: missing field(s) {missing}; every row needs id, category, messages, answer")
    messages = row["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise DataError(f"{where}: 'messages' must be a list of {{'role', 'content'}} objects")
    answer = row["answer"]
    if answer is not None and not isinstance(answer, str):
        raise DataError(f"{where}: 'answer' must be a string or null, got {type(answer).__name__}")
    try:
        return Case(
            id=str(row["id"]),
            category=str(row["category"]),
            messages=tuple(Message(str(m.get("role")), m.get("content")) for m in messages),
            answer=answer,
            cluster=None if row.get("cluster") is None else str(row["cluster"]),
            meta=dict(row.get("meta") or {}),
        )
    except DataError as exc:
        raise DataError(f"{where}: {exc}") from None


def jsonl_objects(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for each non-blank line of a JSONL file; ``where`` is "file.jsonl:12" for error messages."""
    with path.open("rb") as handle:  # decoded line by line, so an encoding error names its line
        for lineno, raw in enumerate(handle, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(
                    f"{where}: not UTF-8 text (byte {raw[exc.start : exc.start + 1]!r} at column {exc.start + 1}): "
                    "save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                ) from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg}); each line must be one JSON object") from None
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}; one row per line")
            yield where, row


CSV_COLUMNS = ("id", "prompt", "answer", "category", "cluster")
CSV_REQUIRED = ("id", "prompt", "answer")


def csv_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) for each data row of a CSV case file, as the JSONL row it stands for."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [name for name in CSV_REQUIRED if name not in header]
        unknown = [name for name in header if name not in CSV_COLUMNS]
        if missing or unknown:
            raise DataError(
                f"{path}:1: header {header} "
                + (f"lacks {missing}" if missing else f"has unknown column(s) {unknown}")
                + f": a CSV case file has the columns {', '.join(CSV_REQUIRED)} and optionally category, cluster"
            )
        reader.fieldnames = header
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if None in row:
                raise DataError(f"{where}: more cells than the {len(header)} header columns; quote cells with commas")
            if not any((value or "").strip() for value in row.values()):
                continue
            yield (
                where,
                {
                    "id": (row.get("id") or "").strip(),
                    "category": (row.get("category") or "").strip() or "task",
                    "messages": [{"role": "user", "content": row.get("prompt") or ""}],
                    "answer": row.get("answer") or None,
                    "cluster": (row.get("cluster") or "").strip() or None,
                },
            )


def read_cases(path: Path) -> list[Case]:
    """Read a JSONL (or ``.csv``) file of cases; ids must be unique within the file."""
    if not path.is_file():
        raise DataError(f"case file {path} does not exist: check the path in the suite or world.json")
    cases: list[Case] = []
    seen: set[str] = set()
    rows = csv_rows(path) if path.suffix.lower() == ".csv" else jsonl_objects(path)
    for where, row in rows:
        case = case_from_dict(row, where=where)
        if case.id in seen:
            raise DataError(f"{where}: duplicate id {case.id!r}; ids must be unique within a file")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise DataError(f"case file {path} has no rows: a gate cannot run on an empty set")
    return cases


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as canonical JSONL (sorted keys are not used: field order is the schema's)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_cases(path: Path, cases: Sequence[Case]) -> None:
    write_jsonl(path, (case.to_dict() for case in cases))
