"""Where a model runs and in what precision: ``--device`` / ``--dtype`` (and a training spec's ``device`` /
``dtype``) resolved once into a Placement that loading, inference and training ask.

    device auto -> cuda if a CUDA device is visible, else cpu
    dtype auto  -> bfloat16 on a CUDA device that supports it (compute capability 8+), else float32 (the CPU's
                   reference numerics)

The reference placement (CPU, float32) adds nothing to a model's content hash, so hashes recorded by CPU runs
stay valid; any other placement is part of the hash, and so of every result-cache key: a bfloat16 run never
reuses float32 results. ``device_map="auto"`` shards a model over every visible GPU (accelerate's big-model
loading); the placement of its layers is recorded when the model is loaded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from harness.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N")
DTYPES = ("auto", "float32", "bfloat16", "float16")
DEVICE_MAPS = ("auto",)
Kind = Literal["cpu", "cuda"]
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


class DeviceError(ConfigError):
    """A device or precision that this machine cannot provide (CUDA asked for where there is none)."""


@dataclass(frozen=True)
class Placement:
    """A resolved device (``cpu``, ``cuda``, ``cuda:1``), dtype and optional device map (``auto``: sharded)."""

    device: str = "cpu"
    dtype: str = "float32"
    device_map: str | None = None

    def __post_init__(self) -> None:
        if self.device == "auto" or not _DEVICE.match(self.device):
            raise ConfigError(f"placement device={self.device!r}: use cpu, cuda or cuda:N (resolve auto first)")
        if self.dtype not in DTYPES[1:]:
            raise ConfigError(f"placement dtype={self.dtype!r}: use one of {', '.join(DTYPES[1:])}")
        if self.device_map is not None and self.device_map not in DEVICE_MAPS:
            raise ConfigError(f"device_map={self.device_map!r}: only 'auto' (shard over all visible GPUs)")

    @property
    def kind(self) -> Kind:
        return "cuda" if self.device.startswith("cuda") else "cpu"

    @property
    def half(self) -> bool:
        return self.dtype != "float32"

    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.dtype)

    def hash_tag(self) -> str:
        """What the placement adds to a content hash: nothing for the CPU in float32 (the reference), else the
        device kind and dtype (the GPU's index does not change the numerics; a sharded model is still CUDA)."""
        return "" if (self.kind, self.dtype) == ("cpu", "float32") else f":{self.kind}:{self.dtype}"

    def load_kwargs(self) -> dict[str, Any]:
        """from_pretrained arguments for an unquantised model on this placement (the CPU needs no device map:
        weights load there as they always did)."""
        kwargs: dict[str, Any] = {"dtype": self.torch_dtype()}
        if self.device_map is not None or self.kind == "cuda":
            kwargs["device_map"] = self.device_map or self.device
        return kwargs

    def describe(self) -> dict[str, Any]:
        return {"device": self.device, "kind": self.kind, "dtype": self.dtype, "device_map": self.device_map}


CPU = Placement()


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency; plugin tests may fake it away
        return False
    return bool(torch.cuda.is_available())


def _cuda_count() -> int:
    import torch

    return int(torch.cuda.device_count())


def _bf16_supported(device: str) -> bool:
    import torch

    index = int(device.split(":", 1)[1]) if ":" in device else torch.cuda.current_device()
    major, _ = torch.cuda.get_device_capability(index)
    return major >= 8  # Ampere and later compute in bfloat16


def check_request(device: str = "auto", dtype: str = "auto", device_map: str | None = None) -> None:
    """Validate the spelling of a request (no torch import): a ConfigError naming the allowed values."""
    if not _DEVICE.match(device):
        raise ConfigError(f"device={device!r}: use one of {', '.join(DEVICES)} (N a GPU index, e.g. cuda:1)")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype!r}: use one of {', '.join(DTYPES)}")
    if device_map is not None and device_map not in DEVICE_MAPS:
        raise ConfigError(f"device_map={device_map!r}: only 'auto' (shard over all visible GPUs), or leave it out")


def resolve_placement(device: str = "auto", dtype: str = "auto", device_map: str | None = None) -> Placement:
    """The Placement for a request; DeviceError when it asks for CUDA and none is visible."""
    check_request(device, dtype, device_map)
    if device_map == "auto" and device != "cpu" and not cuda_available():
        raise DeviceError(
            "device_map=auto shards a model over CUDA GPUs, but CUDA is not available on this machine: leave "
            "device_map out, or run where CUDA GPUs are visible"
        )
    if device == "auto":
        device = "cuda" if cuda_available() else "cpu"
    if device.startswith("cuda"):
        if not cuda_available():
            raise DeviceError(
                f"device={device!r}, but CUDA is not available on this machine (torch sees no CUDA device): "
                "use --device=cpu (or auto), or run where a CUDA GPU is visible"
            )
        count = _cuda_count()
        index = int(device.split(":", 1)[1]) if ":" in device else 0
        if index >= count:
            raise DeviceError(
                f"device={device!r}, but this machine has {count} CUDA device(s): use cuda:0..{count - 1}"
            )
    elif device_map == "auto":
        raise DeviceError("device_map=auto shards a model over GPUs: it needs CUDA, not device=cpu")
    if dtype == "auto":
        dtype = "bfloat16" if device.startswith("cuda") and _bf16_supported(device) else "float32"
    return Placement(device, dtype, device_map)


@cache
def default_placement() -> Placement:
    """``auto`` / ``auto``, resolved once per process."""
    return resolve_placement()


def gpu_names() -> list[str]:
    """The visible CUDA devices by name, for provenance (empty without torch already imported, or without CUDA)."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return []
    return [str(torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]


def model_device(model: Any) -> Any:
    """The device a model's inputs go to: its input embeddings' device (the first shard of a sharded model)."""
    try:
        return model.get_input_embeddings().weight.device
    except (AttributeError, NotImplementedError):
        return model.device


def device_placement_map(model: Any) -> dict[str, str] | None:
    """accelerate's layer placement of a sharded model (``hf_device_map``), as strings; None if not sharded."""
    found = getattr(model, "hf_device_map", None)
    if found is None:
        base = getattr(model, "base_model", None)
        inner = getattr(base, "model", None)
        found = getattr(inner, "hf_device_map", None)
    return {str(k): str(v) for k, v in found.items()} if found else None
