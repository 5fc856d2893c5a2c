"""`harness train` and `harness merge`: candidates from a training spec, adapters merged into their base."""

from __future__ import annotations

import argparse
from pathlib import Path


def train(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from training import api

    spec = api.load_train_spec(Path(args.spec))
    if args.seed is not None or args.register_as:
        seed = spec.training.seed if args.seed is None else args.seed
        spec = replace(
            spec, training=replace(spec.training, seed=seed), register_as=args.register_as or spec.register_as
        )
    if args.device is not None or args.dtype is not None:  # the flags override the spec's device / dtype keys
        spec = replace(spec, device=args.device or spec.device, dtype=args.dtype or spec.dtype)
    result = api.train(spec, resume=args.resume, force=args.force, progress=not args.quiet)
    if result.rank != 0:  # torchrun / accelerate launch: rank 0 wrote, registered and reports the candidate
        print(f"rank {result.rank}: trained its share; rank 0 wrote and registered {result.candidate_dir}")
        return 0
    curves = result.provenance["curves"]
    last_val = curves["validation"][-1][1] if curves["validation"] else float("nan")
    print(
        f"{'reused' if result.reused else 'trained'} {spec.method} candidate {spec.name}: final validation loss "
        f"{last_val:.4f}; registered as {spec.register_as}"
        + (f"; WARNING overfitting: {result.provenance['overfitting']}" if result.provenance.get("overfitting") else "")
    )
    print(result.candidate_dir)
    return 0


def merge(args: argparse.Namespace) -> int:
    from training import api

    print(api.merge(args.model, Path(args.out)))
    return 0
