"""The models of one gating run, by role: ``candidate`` (--model), ``baseline`` (--baseline) and ``base``
(--base-model). Each is resolved and hashed up front (cheap: files only) and loaded at most once per process,
on first use, so a run whose results are all cached loads no model at all. The scheme of a role's spec picks
its backend (harness.backends: transformers for plain refs); what a role is loaded into is a ModelBackend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.backends import ModelBackend, kind_for
from harness.backends import get as backend
from harness.device import Placement
from harness.errors import ConfigError
from harness.models import ModelSpec, Resolved, describe, read_json_file, resolve
from harness.registry import Registry

MODEL_ROLES = ("candidate", "baseline", "base")
PROVENANCE_FILE = "candidate.json"


@dataclass(frozen=True)
class ModelRole:
    role: str
    spec: ModelSpec
    resolved: Resolved | None  # the local files; None for a backend without files (a served model)
    content_hash: str
    note: str | None = None  # how a default was chosen, shown in the report
    weights_hash: str = ""  # the files alone, whatever the placement: what provenance and the registry record
    backend: str = "hf"  # the backend kind (harness.backends) that resolved it and loads it
    details: Mapping[str, Any] = field(default_factory=dict, compare=False)  # the backend's describe()

    def describe(self) -> dict[str, Any]:
        if self.details:
            details = dict(self.details)
        else:
            assert self.resolved is not None, f"role {self.role}: a role without files must carry its details"
            details = describe(self.spec, self.resolved, self.content_hash)
        return {
            "role": self.role,
            **details,
            "weights_hash": self.weights_hash or self.content_hash,
            "note": self.note,
        }


@dataclass
class ModelPool:
    roles: dict[str, ModelRole]
    registry: Registry
    _loaded: dict[str, ModelBackend] = field(default_factory=dict)
    loads: int = 0  # models actually loaded in this process (for reports and tests)

    def role(self, name: str) -> ModelRole:
        if name not in self.roles:
            raise ConfigError(f"unknown model role {name!r}: use one of {', '.join(MODEL_ROLES)}")
        return self.roles[name]

    def load(self, name: str) -> ModelBackend:
        """The loaded model of ``name``, by its backend; roles that share content share one loaded model."""
        role = self.role(name)
        if role.content_hash not in self._loaded:
            self._loaded[role.content_hash] = backend(role.backend).load(role, self.registry)
            self.loads += 1
        return self._loaded[role.content_hash]

    def describe(self) -> dict[str, Any]:
        return {name: role.describe() for name, role in self.roles.items()}


def candidate_provenance(path: Path) -> dict[str, Any] | None:
    """The training provenance written beside a candidate (candidate.json), if any."""
    file = path / PROVENANCE_FILE
    if not file.is_file():
        return None
    return read_json_file(
        file,
        "it is the training provenance of this model: restore it, or delete it to gate the "
        "model without provenance (--base-model then names the base)",
    )


def _role(role: str, spec: ModelSpec, registry: Registry, note: str | None = None) -> ModelRole:
    """``spec`` resolved and hashed by the backend its scheme names (no weights loaded)."""
    kind = kind_for(spec.ref)
    found = kind.resolve(spec, registry)
    weights = found.weights_hash or found.content_hash
    return ModelRole(role, spec, found.resolved, found.content_hash, note, weights, kind.name, found.details)


def candidate_role(
    model: str,
    *,
    load_in_4bit: bool | None = None,
    registry: Registry,
    placement: Placement | None = None,
    revision: str | None = None,
) -> ModelRole:
    """The candidate as a gating run sees it: 4-bit when its provenance says it was trained in 4-bit."""
    provenance: dict[str, Any] = {}
    if kind_for(model).name == "hf":  # only local files carry a training provenance
        provenance = candidate_provenance(resolve(ModelSpec(model, revision=revision), registry).path) or {}
    quantized = bool(provenance.get("load_in_4bit")) if load_in_4bit is None else load_in_4bit
    spec = ModelSpec(model, load_in_4bit=quantized, placement=placement, revision=revision)
    return _role("candidate", spec, registry)


def build_pool(
    model: str,
    *,
    baseline: str | None = None,
    base_model: str | None = None,
    load_in_4bit: bool | None = None,
    registry: Registry | None = None,
    placement: Placement | None = None,
    model_revision: str | None = None,
) -> ModelPool:
    """Resolve the three roles, all on ``placement`` (None: --device/--dtype auto). Defaults: baseline =
    production, else base (said in the note); base = what the candidate was trained from (its provenance or
    adapter config), else the ``base`` alias."""
    registry = registry or Registry()
    candidate = candidate_role(
        model, load_in_4bit=load_in_4bit, registry=registry, placement=placement, revision=model_revision
    )

    def spec(ref: str) -> ModelSpec:
        return ModelSpec(ref, placement=placement)

    cand_resolved = candidate.resolved
    provenance = (candidate_provenance(cand_resolved.path) if cand_resolved else None) or {}
    if baseline is not None:
        base_line = _role("baseline", spec(baseline), registry, note="given by --baseline")
    elif registry.get("production") is not None:
        base_line = _role("baseline", spec("production"), registry, note="default: the production alias")
    else:
        base_line = _role(
            "baseline",
            spec("base"),
            registry,
            note="no production model is registered, so the baseline falls back to the base model",
        )
    if base_model is not None:
        base = _role("base", spec(base_model), registry, note="given by --base-model")
    elif provenance.get("base_model", {}).get("path"):
        base = _role("base", spec(provenance["base_model"]["path"]), registry, note="from the candidate's provenance")
    elif cand_resolved is not None and cand_resolved.base is not None:
        base = _role("base", spec(str(cand_resolved.base.path)), registry, note="from the adapter's config")
    else:
        base = _role("base", spec("base"), registry, note="default: the base alias")
    return ModelPool({"candidate": candidate, "baseline": base_line, "base": base}, registry)


def pair_pool(
    model: str, against: str, *, registry: Registry | None = None, placement: Placement | None = None
) -> ModelPool:
    """Only the candidate and the model it is compared with (role ``baseline``), as `harness human export` needs."""
    registry = registry or Registry()
    candidate = candidate_role(model, registry=registry, placement=placement)
    baseline = _role("baseline", ModelSpec(against, placement=placement), registry, note="given by --against")
    return ModelPool({"candidate": candidate, "baseline": baseline}, registry)
