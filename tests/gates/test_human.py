"""The human gate's spec: defaults per measure and the values it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError
from harness.gates.human import HumanGate
from harness.spec import load_suite


def test_margins_default_per_measure_and_bad_values_are_named(tmp_path: Path) -> None:
    assert HumanGate("human").effective_margin == 0.05
    assert HumanGate("human", measure="correctness").effective_margin == 0.25
    (tmp_path / "test_h.yaml").write_text("gates: {h: {kind: human, margin: 0.6}}\n")
    with pytest.raises(ConfigError, match=r"gate 'h'.*margin=0\.6 is too large for a preference share"):
        load_suite(tmp_path / "test_h.yaml")
    (tmp_path / "test_h.yaml").write_text("gates: {h: {kind: human, measure: fluency}}\n")
    with pytest.raises(ConfigError, match=r"'fluency' is not allowed; use one of 'preference'"):
        load_suite(tmp_path / "test_h.yaml")
    with pytest.raises(ConfigError, match="min_items=0 must be at least 1"):
        HumanGate("human", min_items=0)
