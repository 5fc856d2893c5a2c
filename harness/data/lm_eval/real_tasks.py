"""Dataset helper for the real suite's lm-eval task (real_mmlu_mc), loaded by lm-eval through ``!function``.

The rows are package data (harness/data/real/mmlu.jsonl), read in place whatever the current directory.
"""

from __future__ import annotations

import json
from typing import Any

import datasets

from harness.resources import data_dir


def mmlu_dataset(**_metadata: Any) -> datasets.DatasetDict:
    path = data_dir() / "real" / "mmlu.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})
