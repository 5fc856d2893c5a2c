"""Small builders shared by the data pipeline tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from training.data.example import Example


def chat(example_id: str, user: str, reply: str, *, stratum: str | None = None, system: str | None = None) -> Example:
    head = () if system is None else (("system", system),)
    return Example(
        id=example_id,
        messages=(*head, ("user", user), ("assistant", reply)),
        source=f"test:{example_id}",
        stratum=stratum,
    )


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def openai_row(user: str, reply: str, **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}], **extra}
