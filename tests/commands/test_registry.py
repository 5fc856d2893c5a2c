"""`harness registry list | history | set | repair` (harness/commands/registry.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.registry import Registry


def test_registry_commands(tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "list"]) == 0
    assert "no aliases registered" in capsys.readouterr().out
    assert main(["registry", "set", "mine", str(tiny_model_dir), "--reason", "try it"]) == 0
    assert Registry().require("mine").content_hash
    assert main(["registry", "history"]) == 0
    assert "try it" in capsys.readouterr().out


def test_cli_refuses_a_newline_alias_and_repairs_the_history(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["registry", "set", "nl\n", "/nowhere"]) == 2
    assert "alias 'nl\\n' is not valid" in capsys.readouterr().err
    reg = Registry()
    reg.set("base", "/m/a", content_hash="a", reason="built")
    with reg.history_path.open("a") as handle:
        handle.write("{torn\n")
    assert main(["registry", "list"]) == 2
    assert "history.jsonl:2 cannot be read" in capsys.readouterr().err
    assert main(["registry", "repair"]) == 0
    out = capsys.readouterr().out
    assert "moved unreadable line(s) 2" in out and "base" in out
    assert main(["registry", "list"]) == 0
