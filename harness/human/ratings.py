"""Reading filled-in sheets: every row checked against the key, then un-blinded.

A row is either rated (every criterion for both responses, and the preference) or left blank (counted and
reported as not rated); anything else is an error naming the file, the row and the fix. Nothing is dropped
silently: an unknown item, an edited prompt or response, a rating off the 1-5 scale, a missing rater id or a
rater who rated one item twice stops the import.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DataError
from harness.human.key import (
    COLUMNS,
    CRITERION_NAMES,
    PREFERENCES,
    RATING_COLUMNS,
    REQUIRED_COLUMNS,
    SCALE,
    KeyItem,
    SheetKey,
    normalise_text,
    text_hash,
)

Scores = Mapping[str, int]  # criterion -> 1..5


@dataclass(frozen=True)
class Rating:
    """One rater's judgement of one item, un-blinded: by model, not by side."""

    rater: str
    item_id: str
    case_id: str
    candidate: Scores
    reference: Scores
    preference: int  # +1: the candidate is better, -1: the reference is, 0: a tie
    where: str  # file:line


@dataclass(frozen=True)
class Texts:
    """What raters were shown for one item, un-blinded."""

    prompt: str
    candidate: str
    reference: str


@dataclass(frozen=True)
class RatingsRead:
    ratings: tuple[Rating, ...]
    texts: Mapping[str, Texts]  # by item id
    unrated: Mapping[str, int]  # file -> rows left blank

    @property
    def raters(self) -> tuple[str, ...]:
        return tuple(sorted({r.rater for r in self.ratings}))


def _rows(path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DataError(f"ratings file {path} does not exist: check the path") from None
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = [(name or "").strip() for name in reader.fieldnames or []]
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text: save the sheet as CSV UTF-8 and import it again") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        unknown = [c for c in header if c not in COLUMNS]
        if missing or unknown:
            problem = f"lacks the column(s) {missing}" if missing else f"has unknown column(s) {unknown}"
            raise DataError(
                f"{path}:1: the header {problem}. A ratings sheet has the columns {', '.join(COLUMNS)} (comment is "
                "optional): start from the sheet.csv `harness human export` wrote and keep its header row"
            )
        reader.fieldnames = header
        try:
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if None in row:
                    raise DataError(f"{where}: more cells than the header's {len(header)}; quote cells with commas")
                yield where, {k: (v or "") for k, v in row.items()}
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text: save the sheet as CSV UTF-8 and import it again") from None


def _score(where: str, column: str, value: str) -> int:
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not number.is_integer() or int(number) not in SCALE:
        raise DataError(
            f"{where}: {column} = {value!r} is not a rating: use a whole number from {SCALE[0]} to {SCALE[-1]}"
        )
    return int(number)


def _preference(where: str, value: str) -> str:
    for option in PREFERENCES:
        if value.strip().lower() == option.lower():
            return option
    raise DataError(f"{where}: preference = {value!r} is not one of {', '.join(PREFERENCES)}: say which is better")


def _check_texts(where: str, row: Mapping[str, str], item: KeyItem) -> None:
    for column, expected in (
        ("prompt", item.prompt_hash),
        ("response_a", item.response_a_hash),
        ("response_b", item.response_b_hash),
    ):
        if text_hash(row[column]) != expected:
            raise DataError(
                f"{where}: the {column} of item {item.item_id!r} is not the text that was exported: the sheet was "
                "edited or rows were mixed up. Leave the prompt and response cells as exported (copy the ratings "
                "into a fresh sheet.csv)"
            )


def _unblind(where: str, row: Mapping[str, str], item: KeyItem) -> Rating:
    rater = row["rater_id"].strip()
    if not rater:
        raise DataError(f"{where}: item {item.item_id!r} is rated but rater_id is empty: fill in the rater's id")
    by_side = {
        side: {c: _score(where, f"{c}_{side.lower()}", row[f"{c}_{side.lower()}"]) for c in CRITERION_NAMES}
        for side in ("A", "B")
    }
    choice = _preference(where, row["preference"])
    cand, ref = item.candidate_side, "B" if item.candidate_side == "A" else "A"
    preference = 0 if choice == "tie" else 1 if choice == cand else -1
    return Rating(rater, item.item_id, item.case_id, by_side[cand], by_side[ref], preference, where)


def read_ratings(paths: Sequence[Path], key: SheetKey) -> RatingsRead:
    """Every rated row of ``paths``, checked against ``key`` and un-blinded."""
    if not paths:
        raise DataError("no ratings files given: pass the filled-in sheets (CSV)")
    items = key.by_item()
    ratings: list[Rating] = []
    texts: dict[str, Texts] = {}
    unrated: dict[str, int] = {}
    seen: dict[tuple[str, str], str] = {}
    for path in paths:
        unrated[str(path)] = 0
        for where, row in _rows(path):
            item_id = row["item_id"].strip()
            rating_cells = [c for c in (*RATING_COLUMNS, "preference") if row[c].strip()]
            if not item_id:
                if not rating_cells and not row["rater_id"].strip():
                    continue  # a blank line a spreadsheet left at the end
                raise DataError(f"{where}: item_id is empty: restore it from the exported sheet")
            item = items.get(item_id)
            if item is None:
                raise DataError(
                    f"{where}: item {item_id!r} is not in the key of export {key.export_id}: this sheet belongs to "
                    "another export; import it with the key.json written next to it"
                )
            _check_texts(where, row, item)
            if not rating_cells:
                unrated[str(path)] += 1
                continue
            blank = [c for c in (*RATING_COLUMNS, "preference") if not row[c].strip()]
            if blank:
                raise DataError(
                    f"{where}: item {item_id!r} is partly rated, {', '.join(blank)} empty: rate every criterion of "
                    "both responses and the preference, or clear the row to leave the item unrated"
                )
            rating = _unblind(where, row, item)
            pair = (rating.rater, item_id)
            if pair in seen:
                raise DataError(
                    f"{where}: rater {rating.rater!r} rated item {item_id!r} already at {seen[pair]}: keep one of the "
                    "two rows (or give each rater their own rater_id)"
                )
            seen[pair] = where
            ratings.append(rating)
            shown = {"A": row["response_a"], "B": row["response_b"]}
            other = "B" if item.candidate_side == "A" else "A"
            texts.setdefault(
                item_id,
                Texts(
                    normalise_text(row["prompt"]),
                    normalise_text(shown[item.candidate_side]),
                    normalise_text(shown[other]),
                ),
            )
    if not ratings:
        files = ", ".join(str(p) for p in paths)
        raise DataError(f"no rated rows in {files}: fill in the sheets (every criterion and the preference) first")
    return RatingsRead(tuple(ratings), texts, unrated)
