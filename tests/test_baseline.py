"""Stored baselines: an update keeps every previous version."""

from __future__ import annotations

from pathlib import Path

from harness.baseline import BaselineStore
from harness.scores import table


def test_update_keeps_the_previous_version(tmp_path: Path) -> None:
    store = BaselineStore(tmp_path)
    assert store.read("g") is None
    first = table("exact_match", ["a", "b"], [1.0, 0.0])
    _, previous = store.write("g", first)
    assert previous is None and store.read("g") == first
    second = table("exact_match", ["a", "b"], [1.0, 1.0])
    _, previous = store.write("g", second)
    assert previous is not None and previous.is_file()
    assert store.read("g") == second
    assert store.versions("g") == [previous]
