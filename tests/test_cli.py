"""The console script's parser and dispatch: every subcommand reaches a handler in harness/commands/, and a
HarnessError is printed as `error: ...` with exit 2. Each handler's own tests are in tests/commands/."""

from __future__ import annotations

import argparse
import inspect

import pytest

from harness.cli import _parser, main


def _leaves(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    """The handler default of every subcommand that has no subcommands of its own, keyed by its words."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return {path: parser.get_default("handler")}
    found: dict[tuple[str, ...], object] = {}
    for name, sub in groups[0].choices.items():
        found.update(_leaves(sub, (*path, name)))
    return found


def test_every_subcommand_dispatches_to_a_handler_in_harness_commands() -> None:
    leaves = _leaves(_parser())
    assert ("registry", "repair") in leaves and ("ab", "analyze") in leaves and ("train",) in leaves
    misplaced = {
        " ".join(words): handler
        for words, handler in leaves.items()
        if not inspect.isfunction(handler) or not handler.__module__.startswith("harness.commands.")
    }
    assert not misplaced, f"subcommands without a handler in harness/commands/: {misplaced}"


def test_harness_errors_exit_2_with_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "eval", "--model", "production"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: alias 'production' is not registered")
