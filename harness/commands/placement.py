"""--device / --dtype (and --device-map): the flags of the commands that load or train a model, and their reading."""

from __future__ import annotations

import argparse

from harness.device import Placement, resolve_placement


def add_placement(parser: argparse.ArgumentParser, *, device_map: bool = False) -> None:
    """--device / --dtype (and --device-map): where and in what precision models load or train."""
    parser.add_argument(
        "--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=("auto", "float32", "bfloat16", "float16"),
        help="precision (default auto: bfloat16 on a CUDA GPU that supports it, else float32)",
    )
    if device_map:
        parser.add_argument("--device-map", choices=("auto",), help="auto: shard the model over all visible GPUs")


def placement(args: argparse.Namespace) -> Placement:
    """The resolved Placement of --device/--dtype; a DeviceError (exit 2) when CUDA is asked for and missing."""
    return resolve_placement(args.device, args.dtype, getattr(args, "device_map", None))
