"""`harness init`: scaffold a user's repository."""

from __future__ import annotations

import argparse
from pathlib import Path


def init(args: argparse.Namespace) -> int:
    from harness import scaffold

    written = scaffold.init(Path(args.dir), args.name, force=args.force)
    for item in written:
        hint = " (exists; --force overwrites it)" if item.action == "kept" else ""
        print(f"{item.action} {item.path}{hint}")
    print(
        f"next: register or build a model, then `pytest {Path(args.dir) / 'suites'} --model=<model>` "
        "(`harness world build` installs the shipped reference model and registers it as base)"
    )
    return 0
