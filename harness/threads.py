"""How many CPU threads torch uses, chosen deliberately rather than left to the machine.

A small model's matrix products are too small for a second thread to pay off, and on a busy machine extra
threads spin against each other: a LoRA step of the 2M-parameter reference model took 0.3 s with one thread
and 2.2 s with two on two busy cores. So models under ``SMALL_MODEL`` parameters run on one thread, larger
ones on torch's default (one per physical core). ``HARNESS_THREADS`` (a positive integer) overrides both.
Under torchrun / accelerate launch, N processes share the machine (LOCAL_WORLD_SIZE): a large model gets the
CPUs divided by N (at least one), so two processes on two cores run one thread each instead of four.
The choice is fixed for a given model and setting, never derived from the current load, so the same model on
the same machine computes the same numbers run after run.
"""

from __future__ import annotations

import os
from typing import Any

from harness.errors import ConfigError

SMALL_MODEL = 50_000_000  # parameters
ENV = "HARNESS_THREADS"


def requested() -> int | None:
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{ENV}={raw!r} must be a positive integer (the torch CPU threads to use); unset it for auto")
    return int(raw)


def _processes_here() -> int:
    """How many processes of a multi-process run share this machine (1 outside torchrun / accelerate)."""
    raw = os.environ.get("LOCAL_WORLD_SIZE", "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else 1


def threads_for(parameters: int) -> int | None:
    """The thread count for a model of ``parameters`` parameters (None: torch's default)."""
    override = requested()
    if override is not None:
        return override
    if parameters < SMALL_MODEL:
        return 1
    processes = _processes_here()
    return max(1, (os.cpu_count() or 1) // processes) if processes > 1 else None


def configure(model: Any) -> int:
    """Set torch's intra-op threads for ``model`` (a torch module); returns the count in effect."""
    import torch

    count = threads_for(sum(p.numel() for p in model.parameters()))
    if count is not None and torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return int(torch.get_num_threads())
