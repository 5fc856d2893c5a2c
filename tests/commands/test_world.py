"""`harness world generate | eval` (harness/commands/world.py): exit codes, messages, and the eval report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


def test_generate_check_reports_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "generate", "--check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_generate_check_fails_on_stale_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import shutil

    from harness.world import default_world_dir

    stale = tmp_path / "world"
    shutil.copytree(default_world_dir(), stale)
    (stale / "heldout" / "fact.jsonl").write_text("")
    assert main(["world", "generate", "--check", "--dir", str(stale)]) == 1
    assert "heldout/fact.jsonl" in capsys.readouterr().err


def test_world_eval_writes_json_and_fails_when_bars_are_missed(
    tmp_path: Path, tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval.json"
    # A random tiny model knows nothing: the bars are missed and the command says which.
    code = main(["world", "eval", "--model", str(tiny_model_dir), "--out", str(out)])
    assert code == 1
    report = json.loads(out.read_text())
    assert set(report["categories"]) == {"fact", "arithmetic", "harmful", "benign", "task"}
    assert report["categories"]["fact"]["met"] is False
    assert report["categories"]["fact"]["misses"], "misses are listed as evidence"
    captured = capsys.readouterr()
    assert "fact" in captured.out and "quality bars missed: fact" in captured.err
