"""Loading JSONL, CSV and saved datasets into Examples, with ids, sources and errors at the right line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, DataError
from tests.training.helpers import openai_row, write_jsonl
from training.data.example import Example
from training.data.load import load_examples


def test_jsonl_ids_and_sources(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(
        "\n".join(
            [
                '{"id": "a", "messages": [{"role": "user", "content": "Q1"}, {"role": "assistant", "content": "A1"}]}',
                "",
                '{"messages": [{"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]}',
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    first, second = load_examples(path)
    assert (first.id, first.source) == ("a", f"{path}:1")
    assert (second.id, second.source) == ("train-1", f"{path}:3"), "no id: <stem>-<row index>; blank lines skipped"
    assert second.messages == (("user", "Q2"), ("assistant", "A2"))


def test_each_format_loads_from_jsonl(tmp_path: Path) -> None:
    rows = {
        "sharegpt": {"conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]},
        "alpaca": {"instruction": "Q", "output": "A"},
        "openai": openai_row("Q", "A"),
    }
    for name, row in rows.items():
        (example,) = load_examples(write_jsonl(tmp_path / f"{name}.jsonl", [row]))
        assert example.messages == (("user", "Q"), ("assistant", "A")), name


def test_a_row_in_another_format_fails_at_its_line(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "mixed.jsonl", [openai_row("Q", "A"), {"instruction": "Q", "output": "A"}])
    with pytest.raises(
        DataError, match=rf"{path}:2: row has keys \['instruction', 'output'\] but format 'openai-chat'"
    ):
        load_examples(path)


def test_a_row_in_no_known_format_names_file_line_and_keys(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "odd.jsonl", [{"q": "Q", "a": "A"}])
    with pytest.raises(DataError, match=rf"{path}:1: row is in no known format \(it has keys \['a', 'q'\]\)"):
        load_examples(path)


def test_bad_json_duplicate_ids_and_a_missing_reply_name_the_line(tmp_path: Path) -> None:
    bad = write_jsonl(tmp_path / "bad.jsonl", [openai_row("Q", "A")])
    bad.write_text(bad.read_text(encoding="utf-8") + "{oops\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        load_examples(bad)
    dup = write_jsonl(tmp_path / "dup.jsonl", [openai_row("Q", "A", id="x"), openai_row("Q2", "A2", id="x")])
    with pytest.raises(DataError, match=r"dup.jsonl:2: id 'x' was already used at .*dup.jsonl:1"):
        load_examples(dup)
    no_reply = write_jsonl(tmp_path / "open.jsonl", [{"messages": [{"role": "user", "content": "Q"}]}])
    with pytest.raises(DataError, match=r"open.jsonl:1 \(example 'open-0'\): the last turn is 'user'"):
        load_examples(no_reply)


def test_csv_alpaca_and_prompt_response_with_multiline_cells(tmp_path: Path) -> None:
    alpaca = tmp_path / "a.csv"
    alpaca.write_text('id,instruction,input,output\nr1,"Sum them.","1\n2",3\nr2,Say hi.,,Hi\n', encoding="utf-8")
    first, second = load_examples(alpaca)
    assert first.messages == (("user", "Sum them.\n\n1\n2"), ("assistant", "3"))
    assert (second.id, second.source) == ("r2", f"{alpaca}:4"), "row 2 starts after the quoted cell's two lines"
    pairs = tmp_path / "p.csv"
    pairs.write_text("prompt,response\nQ,A\n", encoding="utf-8")
    assert load_examples(pairs)[0].messages == (("user", "Q"), ("assistant", "A"))
    wide = tmp_path / "w.csv"
    wide.write_text("prompt,response\nQ,A,extra\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"w.csv:2: the row has more cells"):
        load_examples(wide)


def test_saved_dataset_and_dataset_dict(tmp_path: Path) -> None:
    from datasets import Dataset, DatasetDict

    rows = [openai_row("Q1", "A1", id="d1"), openai_row("Q2", "A2", id="d2")]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "plain"))
    assert [e.id for e in load_examples(tmp_path / "plain")] == ["d1", "d2"]
    DatasetDict({"train": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "dict"))
    loaded = load_examples(tmp_path / "dict")
    assert loaded[1].source == "dict[train]#1" and loaded[1].messages[-1] == ("assistant", "A2")
    DatasetDict({"dev": Dataset.from_list(rows), "test": Dataset.from_list(rows)}).save_to_disk(str(tmp_path / "nt"))
    with pytest.raises(DataError, match=r"splits \['dev', 'test'\] and no 'train'"):
        load_examples(tmp_path / "nt")


def test_stratify_by_sets_the_stratum_and_requires_the_column(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "s.jsonl", [openai_row("Q", "A", category="x"), openai_row("Q", "B", category="y")])
    assert [e.stratum for e in load_examples(path, stratify_by="category")] == ["x", "y"]
    assert load_examples(path)[0].stratum is None
    missing = write_jsonl(tmp_path / "m.jsonl", [openai_row("Q", "A", category="x"), openai_row("Q", "B")])
    with pytest.raises(DataError, match=r"m.jsonl:2: no value in column 'category'"):
        load_examples(missing, stratify_by="category")


def test_paths_and_format_names_are_checked(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_examples(tmp_path / "nope.jsonl")
    (tmp_path / "x.parquet").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"unsupported file type '.parquet'"):
        load_examples(tmp_path / "x.parquet")
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="no examples"):
        load_examples(tmp_path / "empty.jsonl")
    with pytest.raises(ConfigError):
        load_examples(tmp_path / "empty.jsonl", format="chatml")


def test_example_rejects_unknown_roles() -> None:
    with pytest.raises(DataError, match=r"src \(example 'e'\): message 0 has role 'bot'"):
        Example(id="e", messages=(("bot", "x"), ("assistant", "y")), source="src")


def test_world_task_files_load(world) -> None:  # type: ignore[no-untyped-def]
    train = load_examples(world.task["train"])
    lines = [line for line in world.task["train"].read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(train) == len(lines)
    assert all(e.messages[0][0] == "user" and e.messages[-1][0] == "assistant" for e in train)
