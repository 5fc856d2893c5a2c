"""`harness ab analyze`: online A/B tests from production traffic-split logs."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError


def analyze(args: argparse.Namespace) -> int:
    from harness import abtest

    config = abtest.ABConfig(
        control=args.control,
        treatment=args.treatment,
        split=abtest.parse_split(args.split),
        margin=args.margin,
        latency_margin=args.latency_margin,
        alpha=args.alpha,
        seed=args.seed,
    )
    if (args.control is None) != (args.treatment is None):
        raise HarnessError("pass both --control and --treatment, or neither (A/B or control/treatment are inferred)")
    log = Path(args.log)
    report = abtest.analyze(log, config)
    json_path, md_path = abtest.write(report, Path(args.out) if args.out else Path("reports") / "ab" / log.stem)
    for reason in report["reasons"]:
        print(reason)
    print(f"verdict: {report['verdict']}; written to {json_path} and {md_path}")
    return abtest.exit_code(report["verdict"])
