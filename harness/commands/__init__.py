"""The `harness` subcommands' handlers, one module per noun: each handler takes the parsed arguments, calls the
module it drives and prints the result; it returns the exit code. harness/cli.py builds the parser and dispatches.
Handlers import what they drive inside the function, so `harness --help` stays fast and never imports torch."""

from harness.commands import ab, demo, human, init, models, nightly, promote, registry, report, train, world

__all__ = ["ab", "demo", "human", "init", "models", "nightly", "promote", "registry", "report", "train", "world"]
