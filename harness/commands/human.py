"""`harness human export | import`: blind human A/B evaluation."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.commands.placement import placement


def export(args: argparse.Namespace) -> int:
    from harness.human.export import export_sheets

    done = export_sheets(
        args.model,
        args.against,
        n=args.n,
        out=Path(args.out),
        cases_ref=args.cases,
        suite=Path(args.suite) if args.suite else None,
        seed=args.seed,
        key_path=Path(args.key) if args.key else None,
        placement=placement(args),
    )
    if done.items < args.n:
        print(f"note: the case set has {done.available} cases, so the sheets have {done.items} items, not {args.n}")
    how = "reused from the cache (whole case set)" if done.reused else "generated through the result cache"
    print(f"{done.items} blinded items; answers {how}")
    print(f"give raters: {done.sheet} (any spreadsheet) or {done.form} (a browser, offline)")
    print(f"keep from raters: {done.key}")
    print(f"then: harness human import RATINGS.csv [...] --key {done.key}")
    return 0


def import_(args: argparse.Namespace) -> int:
    from harness.human.record import import_ratings

    record, path = import_ratings([Path(p) for p in args.ratings], Path(args.key), Path(args.out) if args.out else None)
    for line in record.summary():
        print(line)
    print(f"recorded: {path}")
    return 0
