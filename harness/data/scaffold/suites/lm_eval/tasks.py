"""Datasets for the lm-eval tasks in this directory, loaded by lm-eval through ``custom_dataset: !function``.

Each task names its JSONL file in ``dataset_kwargs: {file: ...}``; the file is read next to this module,
whatever the current directory (lm-eval's own ``data_files`` resolves paths against the current directory).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets


def jsonl_next_to_this_module(file: str, split: str = "test", **_metadata: Any) -> datasets.DatasetDict:
    path = Path(__file__).parent / file
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return datasets.DatasetDict({split: datasets.Dataset.from_list(rows)})
