"""Multi-process training: ``torchrun --nproc_per_node N -m harness train SPEC`` or ``accelerate launch -m
harness train SPEC`` runs the Trainer's DDP over N processes (gloo on the CPU, nccl on GPUs).

The launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE) says which process this is. Every
process prepares the same data and trains its shard; only rank 0 writes: the candidate directory, its
provenance and the registry entry. The others wait at a barrier and exit 0.

``training.batch_size`` is the global batch (per optimizer step, before gradient accumulation): each of the N
processes takes batch_size / N examples, so a run keeps the batch size, the number of steps and the learning
rate schedule its recipe asks for, whatever the number of processes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from harness.device import Placement
from harness.errors import ConfigError, HarnessError

ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")


class RankMismatchError(HarnessError):
    """The processes of one run disagree on what they train (spec, data or packages differ between them)."""


@dataclass(frozen=True)
class World:
    """This process's place in the run: its rank among ``size`` processes (``local_*``: on this machine)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    def __post_init__(self) -> None:
        if self.size < 1 or not 0 <= self.rank < self.size:
            raise ConfigError(
                f"RANK={self.rank}, WORLD_SIZE={self.size}: the rank must be in [0, WORLD_SIZE); launch with "
                "torchrun or accelerate launch, which set both, or unset them for one process"
            )

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def per_device_batch(self, batch_size: int) -> int:
        """The examples each process takes per step so that together they make ``batch_size``."""
        if batch_size % self.size:
            raise ConfigError(
                f"training.batch_size={batch_size} does not split over {self.size} processes (it is the global "
                f"batch: each process takes batch_size / {self.size}); use a multiple of {self.size}, or launch "
                "a number of processes that divides it"
            )
        return batch_size // self.size


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name}={raw!r} must be a non-negative integer (set by torchrun / accelerate launch)")
    return int(raw)


def current() -> World:
    """This process's World, from the launcher's environment (one process when it sets nothing)."""
    size = _env_int("WORLD_SIZE", 1)
    return World(
        rank=_env_int("RANK", 0),
        size=size,
        local_rank=_env_int("LOCAL_RANK", 0),
        local_size=_env_int("LOCAL_WORLD_SIZE", size),
    )


def start(world: World, placement: Placement) -> str | None:
    """Join the process group of a multi-process run (accelerate's PartialState, as the Trainer does: gloo on
    the CPU, nccl on CUDA); returns its backend, None for a single process."""
    if not world.distributed:
        return None
    import torch.distributed as dist
    from accelerate import PartialState

    if not dist.is_initialized():
        PartialState(cpu=placement.kind == "cpu")
    return str(dist.get_backend())


def barrier(world: World) -> None:
    """Wait until every process of the run arrives here (nothing to wait for in a single process)."""
    if world.distributed:
        import torch.distributed as dist

        dist.barrier()


def agree(world: World, value: Any, what: str) -> None:
    """Every process must hold the same ``value`` (e.g. the run's key: spec, base model, data, packages);
    otherwise they would train different things into one candidate."""
    if not world.distributed:
        return
    import torch.distributed as dist

    values: list[Any] = [None] * world.size
    dist.all_gather_object(values, value)
    differ = [rank for rank, other in enumerate(values) if other != values[0]]
    if differ:
        raise RankMismatchError(
            f"rank(s) {differ} disagree with rank 0 on {what} ({values[differ[0]]!r} vs {values[0]!r}): every "
            "process must see the same spec, data files and packages; launch them from one checkout and "
            "environment"
        )


def describe(world: World, backend: str | None, batch_size: int, accumulation: int) -> dict[str, Any]:
    """What a candidate's provenance records about the processes that trained it."""
    per_device = world.per_device_batch(batch_size)
    return {
        "world_size": world.size,
        "backend": backend,
        "per_device_batch_size": per_device,
        "gradient_accumulation_steps": accumulation,
        "global_batch_size": per_device * world.size * accumulation,
    }
