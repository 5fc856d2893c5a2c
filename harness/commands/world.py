"""`harness world generate | build | eval`: the offline reference world and its base model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.commands.placement import placement


def generate(args: argparse.Namespace) -> int:
    import filecmp
    import tempfile

    from harness import world

    target = Path(args.dir) if args.dir else world.default_world_dir()
    generated = world.generate(world.load_sources(target / "sources.yaml"), world.WORLD_SEED)
    if not args.check:
        print(world.write_world(generated, target, world.WORLD_SEED))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        fresh = world.write_world(generated, Path(scratch), world.WORLD_SEED).parent
        stale = [
            str(p.relative_to(fresh))
            for p in sorted(fresh.rglob("*.json*"))
            if not (target / p.relative_to(fresh)).is_file()
            or not filecmp.cmp(p, target / p.relative_to(fresh), shallow=False)
        ]
    if stale:
        print(f"out of date in {target}: {', '.join(stale)}; run `harness world generate`", file=sys.stderr)
        return 1
    print(f"{target} is up to date")
    return 0


def build(args: argparse.Namespace) -> int:
    from harness.world.build import build_reference_model
    from training import api

    config = api.PretrainConfig(steps=args.steps) if args.steps else api.PretrainConfig()
    result = build_reference_model(
        config=config,
        progress=not args.quiet,
        from_scratch=args.from_scratch or args.ship,
        placement=placement(args),
    )
    record = result.record
    how = "reused" if result.reused else "pretrained" if result.model_dir.name.endswith("-scratch") else "installed"
    print(
        f"{how} reference model: {record['parameters']:,} parameters, pretrained {record['train_seconds']} s "
        f"(build {record['build_seconds']} s), final loss {record['final_loss']:.3f}"
    )
    if args.ship:
        from harness.world.build import ship

        print(f"shipped: {ship(result.model_dir)}")
    print(result.model_dir)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from harness.models import ModelSpec, load
    from harness.world import load_manifest
    from harness.world.evaluate import evaluate_world, format_table

    loaded = load(ModelSpec(args.model, load_in_4bit=args.load_in_4bit, placement=placement(args)))
    world_dir = Path(args.world) if args.world else loaded.resolved.path / "world"
    if not (world_dir / "world.json").is_file():
        from harness.world import default_world_dir

        world_dir = default_world_dir()
    report = evaluate_world(loaded, load_manifest(world_dir))
    out = Path(args.out) if args.out else Path("reports") / "world" / f"{loaded.content_hash[:12]}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    print(f"written to {out}")
    if not report["all_met"]:
        missed = [name for name, row in report["categories"].items() if not row["met"]]
        print(f"quality bars missed: {', '.join(missed)} (see the misses in {out})", file=sys.stderr)
        return 1
    return 0
