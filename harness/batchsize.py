"""``batch_size: auto``: the largest batch that fits, found once per model and device and then reused.

The search starts at :data:`AUTO_START` and halves on out-of-memory (accelerate's
``find_executable_batch_size`` does the retrying and clears the device cache between tries; its own step of
x0.9 is replaced by halving). The size that worked is remembered for the rest of the process per (model
content hash, device), so only the first call of a run pays for the search; a later out-of-memory (longer
prompts) halves from the remembered size and remembers the smaller one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from harness.errors import ConfigError, HarnessError

T = TypeVar("T")
AUTO: Literal["auto"] = "auto"
AUTO_START = 64
BatchSize = int | Literal["auto"]
_remembered: dict[tuple[str, str], int] = {}


def check(batch_size: object, what: str = "batch_size") -> None:
    """A batch size is a positive whole number or ``auto``; anything else names the fix."""
    if batch_size == AUTO:
        return
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"{what}={batch_size!r} must be a whole number of at least 1, or auto")


def remembered(model_hash: str, device: str) -> int | None:
    """The size that last worked for this model on this device in this process, if any."""
    return _remembered.get((model_hash, device))


def forget() -> None:
    """Drop every remembered size (tests)."""
    _remembered.clear()


def run_batched(
    batch_size: BatchSize, run: Callable[[int], T], *, model_hash: str, device: str, start: int = AUTO_START
) -> T:
    """``run(size)`` with ``batch_size``, or for ``auto`` with the largest size from ``start`` (or the one
    remembered for this model and device) that does not run out of memory, halving on each out-of-memory.
    ``run`` must be safe to call again from the start (it is, when it only reads its inputs)."""
    check(batch_size)
    if batch_size != AUTO:
        return run(int(batch_size))
    from accelerate.utils import find_executable_batch_size

    key = (model_hash, device)
    size = _remembered.get(key, start)

    def halve() -> int:
        nonlocal size
        size //= 2
        return size

    def attempt(batch_size: int) -> T:
        result = run(batch_size)
        _remembered[key] = batch_size
        return result

    try:
        return find_executable_batch_size(attempt, starting_batch_size=size, reduce_batch_size_fn=halve)()
    except RuntimeError as exc:
        if "No executable batch size found" not in str(exc):
            raise
        raise HarnessError(
            f"batch_size=auto: even a batch of 1 runs out of memory on {device}: use a smaller model, 4-bit "
            "loading (--load-in-4bit), a device with more memory, or shorter max_new_tokens"
        ) from None
