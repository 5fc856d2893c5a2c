"""`harness report`: the HTML regression report across gating runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def report(args: argparse.Namespace) -> int:
    from harness.dashboard import load_runs, write_dashboard

    print(write_dashboard(Path(args.report_dir), Path(args.out) if args.out else None))
    unreadable = [run for run in load_runs(Path(args.report_dir).resolve()) if run.get("unreadable")]
    for run in unreadable:
        print(f"error: run {run['run_id']} is shown as ERROR: {run['unreadable']}", file=sys.stderr)
    return 1 if unreadable else 0
