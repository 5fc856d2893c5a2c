"""`harness promote`: move an alias to a model whose latest gating run passed."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.placement import placement


def promote(args: argparse.Namespace) -> int:
    from harness import promotion

    event, check = promotion.promote(
        args.model,
        args.to,
        Path(args.report_dir),
        suites_dir=Path(args.suites),
        reason=args.reason,
        allow_inconclusive=args.allow_inconclusive,
        placement=placement(args),
    )
    print(f"promoted {args.model} ({check.content_hash[:12]}) to {args.to} after gating run {check.run_id}")
    print(event.path)
    return 0
