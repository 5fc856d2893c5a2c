"""The calibration script's core runs end to end (a smoke test; the study itself is not timed here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "calibrate_stats.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("calibrate_stats", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["calibrate_stats"] = module
    spec.loader.exec_module(module)
    return module


def test_calibrate_runs_every_path_and_renders_the_table() -> None:
    calib = _load()
    sims = {name: (3, 2) for name in calib.SIMULATORS}
    rows = calib.calibrate(sims, workers=1)
    assert [r.path.key for r in rows] == [p.key for p in calib.PATHS]
    for row in rows:
        assert row.n_null == 3 and row.n_alt == 2
        assert 0.0 <= row.type1 <= 1.0 and 0.0 <= row.power <= 1.0
        assert row.analytic is None or 0.0 < row.analytic < 1.0
    table = calib.markdown(rows)
    assert table.count("\n") == len(rows) + 1
    assert "type-I at 0.05" in table


def test_docs_hold_the_generated_table() -> None:
    calib = _load()
    text = calib.DOCS.read_text(encoding="utf-8")
    block = text.split(calib.START, 1)[1].split(calib.END, 1)[0]
    assert "| path | test |" in block and "**NO**" not in block
    assert "python scripts/calibrate_stats.py --write-docs" in block
