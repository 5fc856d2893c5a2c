"""Suite and gate specs: what a `test_*.yaml` suite declares, as frozen, validated dataclasses.

A suite file names its gates; each gate has a ``kind`` (baseline, forgetting, retention, safety, ab,
finetune, or any kind registered in :mod:`harness.gates.registry`) that selects its spec class, which lives
in the kind's module. Errors name the file, the gate, the key and the fix.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from harness.errors import ConfigError
from harness.gates import registry
from harness.run import DecodingSettings
from harness.slicing import Slicing
from harness.slicing import parse as parse_slicing
from harness.yamlspec import convert, from_mapping, read_yaml, unknown_key_error

SUITE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # one path component under runs/<id>/, never ".."


class GateSpec(Protocol):
    """A gate's spec: a frozen dataclass registered with its kind in :mod:`harness.gates.registry`."""

    @property
    def kind(self) -> str: ...


@dataclass(frozen=True)
class SuiteSpec:
    path: Path
    name: str
    gates: dict[str, GateSpec]
    world: str = "default"  # "default" (the packaged world or $HARNESS_WORLD_DIR) or a directory
    decoding: DecodingSettings = field(default_factory=DecodingSettings)
    alpha: float = 0.05
    multiplicity: Literal["holm", "bh", "none"] = "holm"
    baselines: str = "baselines"  # stored baselines, relative to the suite file
    description: str = ""
    slicing: dict[str, Slicing] = field(default_factory=dict)  # gate -> its declared slice_by / slices

    def __post_init__(self) -> None:
        if not SUITE_NAME.fullmatch(self.name):
            raise ConfigError(
                f"suite name {self.name!r} is not allowed: it names files under the run directory, so use letters, "
                "digits, '_', '-' or '.', starting with a letter or digit (at most 100); set `suite:` to such a name"
            )
        if not (math.isfinite(self.alpha) and 0 < self.alpha < 0.5):
            raise ConfigError(
                f"alpha={self.alpha} must be in (0, 0.5): it is the one-sided significance level (0.05 is usual)"
            )

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def content_hash(self) -> str:
        """Hash of the suite's declaration (the data files are hashed separately, with the cases)."""
        payload = {k: v for k, v in asdict(self).items() if k != "path" and (k != "slicing" or v)}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


_SUITE_KEYS = ("suite", "description", "world", "decoding", "alpha", "multiplicity", "baselines", "gates")


def load_suite(path: Path) -> SuiteSpec:
    raw = read_yaml(path)
    where = str(path)
    for key in raw:
        if key not in _SUITE_KEYS:
            raise unknown_key_error(where, str(key), list(_SUITE_KEYS))
    gates_raw = raw.get("gates")
    if not isinstance(gates_raw, dict) or not gates_raw:
        raise ConfigError(f"{where}: 'gates' must map gate names to their specs (at least one gate)")
    gates: dict[str, GateSpec] = {}
    slicing: dict[str, Slicing] = {}
    for name, spec in gates_raw.items():
        gate_where = f"{where}: gate {name!r}"
        own, sliced = parse_slicing(spec, gate_where) if isinstance(spec, dict) else (spec, None)
        gates[str(name)] = _gate(own, gate_where)
        if sliced is not None:
            slicing[str(name)] = sliced
    try:
        return SuiteSpec(
            path=path.resolve(),
            name=str(raw.get("suite") or path.stem.removeprefix("test_")),
            gates=gates,
            world=str(raw.get("world", "default")),
            decoding=from_mapping(DecodingSettings, raw.get("decoding", {}), f"{where}: decoding"),
            alpha=convert(float, raw.get("alpha", 0.05), f"{where}: alpha"),
            multiplicity=convert(
                Literal["holm", "bh", "none"], raw.get("multiplicity", "holm"), f"{where}: multiplicity"
            ),
            baselines=str(raw.get("baselines", "baselines")),
            description=str(raw.get("description", "")),
            slicing=slicing,
        )
    except ConfigError as exc:
        raise ConfigError(str(exc) if str(exc).startswith(where) else f"{where}: {exc}") from None


def _gate(raw: Any, where: str) -> GateSpec:
    if not isinstance(raw, dict) or "kind" not in raw:
        raise ConfigError(f"{where}: a gate needs a 'kind', one of {', '.join(registry.names())}")
    try:
        kind = registry.get(raw["kind"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    spec: GateSpec = from_mapping(kind.spec, raw, where)
    return spec


def __getattr__(name: str) -> Any:
    """The gate spec classes (``from harness.spec import SafetyGate``) now live with their gates; found here too."""
    if name.startswith("__"):  # the import system probes dunders (__path__): loading the gates then would cycle
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for kind in registry.kinds():
        if kind.spec.__name__ == name:
            return kind.spec
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
