"""Case files: the JSONL schema, and errors that name the file, line and fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases import Case, Message, read_cases, write_cases
from harness.errors import DataError


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


ROW = {"id": "a", "category": "fact", "messages": [{"role": "user", "content": "Q?"}], "answer": "A"}


def test_round_trip(tmp_path: Path) -> None:
    cases = [
        Case("a", "fact", (Message("user", "Q?"),), "A", cluster="k"),
        Case("b", "harmful", (Message("user", "X"),), None),
    ]
    write_cases(tmp_path / "c.jsonl", cases)
    assert read_cases(tmp_path / "c.jsonl") == cases


@pytest.mark.parametrize(
    "row, message",
    [
        ({k: v for k, v in ROW.items() if k != "answer"}, r"c.jsonl:1: missing field\(s\) \['answer'\]"),
        ({**ROW, "messages": "Q?"}, "'messages' must be a list"),
        ({**ROW, "messages": [{"role": "bot", "content": "x"}]}, "role 'bot'"),
        ({**ROW, "messages": [{"role": "assistant", "content": "x"}]}, "must end with the user turn"),
        ({**ROW, "answer": 3}, "'answer' must be a string or null"),
        ({**ROW, "id": ""}, "empty id"),
    ],
)
def test_bad_rows_are_located_and_explained(tmp_path: Path, row: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_cases(_write(tmp_path / "c.jsonl", [row]))


def test_duplicate_ids_and_bad_json_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"c.jsonl:2: duplicate id 'a'"):
        read_cases(_write(tmp_path / "c.jsonl", [ROW, ROW]))
    (tmp_path / "bad.jsonl").write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:1: not valid JSON"):
        read_cases(tmp_path / "bad.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="has no rows"):
        read_cases(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="does not exist"):
        read_cases(tmp_path / "missing.jsonl")


def test_a_file_that_is_not_utf8_names_the_line_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    good = json.dumps({"id": "a", "category": "fact", "messages": [{"role": "user", "content": "q"}], "answer": "x"})
    bad = json.dumps(
        {"id": "b", "category": "fact", "messages": [{"role": "user", "content": "Peru?"}], "answer": "Lima"}
    )
    path.write_bytes((good + "\n" + bad.replace("Lima", "L\u00edma") + "\n").encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1.jsonl:2: not UTF-8 text .*save the file as UTF-8"):
        read_cases(path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    row = {"id": "a", "category": "fact", "messages": [{"role": "user", "content": "q"}], "answer": "x"}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(row).encode() + b"\n")
    assert [c.id for c in read_cases(path)] == ["a"]


def test_csv_cases_read_like_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        "id,prompt,answer,category,cluster\n"
        'c1,"Capital of France, please?",Paris,fact,france\n'
        "c2,How do I pick a lock?,,harmful,\n"
        ",,,,\n"  # a blank row is skipped
        "c3,What is 2 + 3?,5,,\n",
        encoding="utf-8",
    )
    cases = read_cases(path)
    assert [c.id for c in cases] == ["c1", "c2", "c3"]
    assert cases[0].prompt == "Capital of France, please?" and cases[0].answer == "Paris"
    assert cases[0].category == "fact" and cases[0].cluster == "france"
    assert cases[1].answer is None and cases[1].cluster is None
    assert cases[2].category == "task" and [m.role for m in cases[2].messages] == ["user"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("id,question,answer\nc1,q,a\n", r"cases.csv:1: header .* lacks \['prompt'\]"),
        ("id,prompt,answer,extra\nc1,q,a,x\n", r"unknown column\(s\) \['extra'\]"),
        ("id,prompt,answer\nc1,q,a,oops\n", r"cases.csv:2: more cells than the 3 header columns"),
        ("id,prompt,answer\nc1,q,a\nc1,r,b\n", r"cases.csv:3: duplicate id 'c1'"),
        ("id,prompt,answer\n,q,a\n", r"cases.csv:2: .*empty id"),
    ],
)
def test_csv_mistakes_name_the_line_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        read_cases(path)
