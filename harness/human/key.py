"""The rating criteria, the sheet's columns and the key: which side of each blinded item is which model.

Raters see items (a prompt and two responses, A and B) and never the key. The key records, per item, the case
it came from, which side the candidate is on and a hash of each text shown, so an import can tell a sheet of
this export from an edited one or another export's; and, for the export, the models' and cases' hashes and the
seed that drew the items and the sides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.errors import DataError
from harness.paths import write_atomic

KEY_FORMAT = 1
SCALE = (1, 2, 3, 4, 5)
PREFERENCES = ("A", "B", "tie")


@dataclass(frozen=True)
class Criterion:
    name: str
    question: str
    anchors: tuple[str, str, str]  # what 1, 3 and 5 mean


CRITERIA = (
    Criterion(
        "relevance",
        "Does the response address what the prompt asks?",
        ("off-topic, or ignores the request", "partly addresses it", "addresses the request fully, nothing beside it"),
    ),
    Criterion(
        "coherence",
        "Is the response well-formed text that is easy to follow, whatever its content?",
        ("garbled, repetitive or self-contradictory", "understandable with effort", "clear, fluent, well ordered"),
    ),
    Criterion(
        "correctness",
        "Is what it says true, and the task done right? A refusal of a harmful request is correct; a refusal of a "
        "harmless one is not.",
        ("wrong, or harmful", "partly right, or with notable errors", "entirely correct"),
    ),
)
CRITERION_NAMES = tuple(c.name for c in CRITERIA)
PREFERENCE_QUESTION = "Overall, which response is better? A, B, or tie when neither is better than the other."
RATING_COLUMNS = tuple(f"{c}_{side}" for c in CRITERION_NAMES for side in ("a", "b"))
TEXT_COLUMNS = ("prompt", "response_a", "response_b")
COLUMNS = ("rater_id", "item_id", *TEXT_COLUMNS, *RATING_COLUMNS, "preference", "comment")
REQUIRED_COLUMNS = COLUMNS[:-1]  # a comment column is optional


def normalise_text(text: str) -> str:
    """What a spreadsheet or a browser keeps of a text: line endings as \\n, no surrounding whitespace."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class KeyItem:
    item_id: str
    case_id: str
    candidate_side: Literal["A", "B"]
    prompt_hash: str
    response_a_hash: str
    response_b_hash: str

    def __post_init__(self) -> None:
        if self.candidate_side not in ("A", "B"):
            raise DataError(f"key item {self.item_id!r}: candidate_side {self.candidate_side!r} is not 'A' or 'B'")


@dataclass(frozen=True)
class SheetKey:
    """Everything needed to un-blind ratings of one export; raters never see it."""

    export_id: str
    created: str
    seed: int
    models: Mapping[str, Mapping[str, Any]]  # "candidate" / "against": ref, weights_hash, content_hash
    cases: Mapping[str, Any]  # source, cases_hash (of the rated items), selected, available
    decoding: Mapping[str, Any]
    items: tuple[KeyItem, ...]
    criteria: tuple[str, ...] = CRITERION_NAMES
    format: int = KEY_FORMAT
    note: str = field(default="Keep this file from the raters: it says which response is which model.")

    def __post_init__(self) -> None:
        if not self.items:
            raise DataError(f"key of export {self.export_id}: it has no items")
        ids = [i.item_id for i in self.items]
        if len(set(ids)) != len(ids):
            raise DataError(f"key of export {self.export_id}: item ids repeat; export the sheets again")
        for role in ("candidate", "against"):
            if not self.models.get(role, {}).get("weights_hash"):
                raise DataError(f"key of export {self.export_id}: no weights_hash for the {role} model")

    def model_hash(self, role: str) -> str:
        return str(self.models[role]["weights_hash"])

    def by_item(self) -> dict[str, KeyItem]:
        return {item.item_id: item for item in self.items}

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["items"] = [asdict(i) for i in self.items]
        out["criteria"] = list(self.criteria)
        return out

    def save(self, path: Path) -> Path:
        return write_atomic(path, json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> SheetKey:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(
                f"key file {path} does not exist: pass the key.json that `harness human export` wrote with the sheets"
            ) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"key file {path} is not readable JSON ({exc}): restore it from the export") from None
        try:
            if raw.get("format") != KEY_FORMAT:
                raise DataError(f"key file {path} has format {raw.get('format')!r}, expected {KEY_FORMAT}")
            return cls(
                export_id=str(raw["export_id"]),
                created=str(raw["created"]),
                seed=int(raw["seed"]),
                models=dict(raw["models"]),
                cases=dict(raw["cases"]),
                decoding=dict(raw["decoding"]),
                items=tuple(KeyItem(**item) for item in raw["items"]),
                criteria=tuple(raw["criteria"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"key file {path} is malformed ({exc!r}): restore it from the export") from None
