"""`harness nightly`: gate production and the candidates, write the report."""

from __future__ import annotations

import argparse
from pathlib import Path


def nightly(args: argparse.Namespace) -> int:
    from harness.nightly import run_nightly

    return run_nightly(Path(args.report_dir), Path(args.suites), args.aliases or None)
