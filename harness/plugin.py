"""The pytest plugin (entry point pytest11 -> harness.plugin). Wires options to the gating core; no logic here."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "gating of fine-tuned models")
    group.addoption("--model", default=None, help="model spec to gate: alias, directory, hub id or adapter")
