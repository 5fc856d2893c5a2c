"""Read training examples from JSONL, CSV or a dataset saved with ``datasets``' ``save_to_disk``.

Rows may be openai-chat, sharegpt, alpaca or prompt-response (see ``formats``). With ``format="auto"``
the first row of a file decides its format and every later row must follow it, so a stray row in
another shape is an error at its line rather than a silently different conversation.

CSV files are read with a header row; the columns are alpaca's (``instruction``, ``input`` optional,
``output``) or ``prompt`` and ``response``, each with an optional ``system`` and ``id`` column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from harness.cases import jsonl_objects
from harness.errors import DataError
from training.data.example import Example
from training.data.formats import check_format, detect_format, to_messages

Row = tuple[str, Mapping[str, Any]]  # (where, row)


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames:
            raise DataError(f"{path}: the CSV has no header row; add one naming the columns")
        start = 2  # a quoted cell may span lines, so a row starts one line after the previous row ended
        for row in reader:
            if None in row:
                raise DataError(f"{path}:{start}: the row has more cells than the header has columns; quote the text")
            yield f"{path}:{start}", row
            start = reader.line_num + 1


def _dataset_rows(path: Path) -> Iterator[Row]:
    from datasets import Dataset, DatasetDict, load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except FileNotFoundError as exc:
        raise DataError(f"{path}: not a dataset saved with save_to_disk ({exc}); pass a JSONL or CSV file") from None
    label = path.name
    if isinstance(loaded, DatasetDict):
        if "train" not in loaded:
            raise DataError(
                f"{path}: the saved DatasetDict has splits {sorted(loaded)} and no 'train'; "
                "save the split to train on as 'train' (or save that split alone)"
            )
        loaded, label = loaded["train"], f"{path.name}[train]"
    if not isinstance(loaded, Dataset):
        raise DataError(f"{path}: load_from_disk returned {type(loaded).__name__}; save a Dataset or DatasetDict")
    for index, row in enumerate(loaded):
        yield f"{label}#{index}", row


def _rows(path: Path) -> Iterator[Row]:
    if path.is_dir():
        return _dataset_rows(path)
    if not path.is_file():
        raise DataError(f"training data {path} does not exist; check the path")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return jsonl_objects(path)
    if suffix == ".csv":
        return _csv_rows(path)
    raise DataError(
        f"{path}: unsupported file type {suffix!r}; use .jsonl, .csv or a directory saved with save_to_disk"
    )


def _stem(path: Path) -> str:
    return path.name if path.is_dir() else path.stem


def load_examples(path: Path, *, format: str = "auto", stratify_by: str | None = None) -> list[Example]:
    """Every row of ``path`` as an Example, in file order.

    The id is the row's ``id`` when present, else ``<stem>-<index>`` (0-based row index); ids must be
    unique within the file because every report names examples by id. ``stratify_by`` names a column
    whose value becomes ``Example.stratum``; a row without it is an error.
    """
    check_format(format)
    examples: list[Example] = []
    first_seen: dict[str, str] = {}
    fmt = None if format == "auto" else format
    for index, (where, row) in enumerate(_rows(path)):
        fmt = fmt or detect_format(row, where=where)
        messages = to_messages(row, fmt, where=where)
        raw_id = row.get("id")
        example_id = f"{_stem(path)}-{index}" if raw_id in (None, "") else str(raw_id)
        if example_id in first_seen:
            raise DataError(
                f"{where}: id {example_id!r} was already used at {first_seen[example_id]}; ids must be unique"
            )
        first_seen[example_id] = where
        stratum = None
        if stratify_by is not None:
            if row.get(stratify_by) in (None, ""):
                raise DataError(
                    f"{where}: no value in column {stratify_by!r} to stratify by (keys {sorted(row)}); "
                    "fill it for every row, or do not stratify"
                )
            stratum = str(row[stratify_by])
        examples.append(Example(id=example_id, messages=messages, source=where, stratum=stratum))
    if not examples:
        raise DataError(f"{path}: no examples; a training set needs at least one row")
    return examples
