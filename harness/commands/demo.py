"""`harness demo`: the main job on the embedded default, end to end."""

from __future__ import annotations

import argparse
from pathlib import Path


def demo(args: argparse.Namespace) -> int:
    from harness.demo import run_demo

    return run_demo(Path(args.report_dir))
