"""Reading filled-in sheets: every kind of bad row is an error naming the row and the fix; blanks are counted."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.human.forms import SheetItem, sheet_csv
from harness.human.key import COLUMNS, KeyItem, SheetKey, text_hash
from harness.human.ratings import read_ratings

ITEMS = [SheetItem(f"abc123-{i}", f"prompt {i}", f"answer A{i}", f"answer B{i}") for i in range(1, 5)]
SIDES = ["A", "B", "A", "B"]  # where the candidate is, per item


def _key() -> SheetKey:
    items = tuple(
        KeyItem(it.item_id, f"case-{i}", side, text_hash(it.prompt), text_hash(it.response_a), text_hash(it.response_b))
        for i, (it, side) in enumerate(zip(ITEMS, SIDES, strict=True))
    )
    models = {
        "candidate": {"ref": "cand", "weights_hash": "c" * 64},
        "against": {"ref": "prod", "weights_hash": "p" * 64},
    }
    return SheetKey("abc123def456", "now", 0, models, {"cases_hash": "x"}, {}, items)


def _sheet(
    tmp_path: Path, fill: dict[str, dict[str, str]], name: str = "r.csv", header: list[str] | None = None
) -> Path:
    rows = list(csv.DictReader(io.StringIO(sheet_csv(ITEMS))))
    for row in rows:
        row.update(fill.get(row["item_id"], {}))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header or list(COLUMNS), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / name
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _rated(preference: str = "A", rater: str = "ann") -> dict[str, str]:
    scores = {f"{c}_{s}": "4" if s == "a" else "2" for c in ("relevance", "coherence", "correctness") for s in "ab"}
    return {"rater_id": rater, "preference": preference, **scores}


def test_ratings_are_unblinded_and_blank_rows_counted(tmp_path: Path) -> None:
    path = _sheet(tmp_path, {"abc123-1": _rated("A"), "abc123-2": _rated("a"), "abc123-3": _rated("tie")})
    read = read_ratings([path], _key())
    by_item = {r.item_id: r for r in read.ratings}
    assert by_item["abc123-1"].preference == 1, "item 1: the candidate is A, A was preferred"
    assert by_item["abc123-2"].preference == -1, "item 2: the candidate is B, A was preferred"
    assert by_item["abc123-3"].preference == 0
    assert by_item["abc123-2"].candidate["relevance"] == 2 and by_item["abc123-2"].reference["relevance"] == 4
    assert read.unrated == {str(path): 1}
    assert read.texts["abc123-2"].candidate == "answer B2"


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        ({"abc123-1": {**_rated(), "relevance_a": "6"}}, r"r.csv:2: relevance_a = '6' is not a rating: use a whole"),
        ({"abc123-1": {**_rated(), "coherence_b": "good"}}, r"coherence_b = 'good' is not a rating"),
        ({"abc123-1": {**_rated(), "preference": "C"}}, r"preference = 'C' is not one of A, B, tie"),
        ({"abc123-2": {**_rated(), "correctness_a": ""}}, r"r.csv:3: item 'abc123-2' is partly rated, correctness_a"),
        ({"abc123-1": _rated(rater="")}, r"rater_id is empty: fill in the rater's id"),
        ({"abc123-1": {**_rated(), "response_a": "edited"}}, r"response_a of item 'abc123-1' is not the text"),
        ({"abc123-1": {**_rated(), "item_id": "zzz999-1"}}, r"item 'zzz999-1' is not in the key of export abc123de"),
    ],
)
def test_bad_rows_are_named_with_the_fix(tmp_path: Path, fill: dict[str, dict[str, str]], message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_ratings([_sheet(tmp_path, fill)], _key())


def test_missing_and_unknown_columns(tmp_path: Path) -> None:
    no_pref = [c for c in COLUMNS if c != "preference"]
    with pytest.raises(DataError, match=r"r.csv:1: the header lacks the column\(s\) \['preference'\].*keep its header"):
        read_ratings([_sheet(tmp_path, {}, header=no_pref)], _key())
    path = tmp_path / "x.csv"
    path.write_text(",".join([*COLUMNS, "mood"]) + "\n")
    with pytest.raises(DataError, match=r"unknown column\(s\) \['mood'\]"):
        read_ratings([path], _key())


def test_a_rater_rating_an_item_twice_is_refused(tmp_path: Path) -> None:
    one = _sheet(tmp_path, {"abc123-1": _rated()}, "one.csv")
    two = _sheet(tmp_path, {"abc123-1": _rated("B")}, "two.csv")
    with pytest.raises(DataError, match=r"two.csv:2: rater 'ann' rated item 'abc123-1' already at .*one.csv:2"):
        read_ratings([one, two], _key())


def test_no_rated_row_at_all_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no rated rows in .*: fill in the sheets"):
        read_ratings([_sheet(tmp_path, {})], _key())


def test_a_missing_key_says_where_it_comes_from(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"pass the key\.json that `harness human export` wrote"):
        SheetKey.load(tmp_path / "nope.json")
