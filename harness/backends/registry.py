"""The model backends, by the scheme of a model spec: one module and one :func:`register` call each.

    candidate            -> hf    (no scheme: an alias, a directory, a hub id, an adapter; transformers in-process)
    fake:answers.yaml    -> fake  (canned replies, for tests: no torch)
    openai+http://host/v1 -> a backend registered for the scheme ``openai+http``

A kind says how a spec of its scheme is resolved and hashed into a role (cheap: no weights loaded; a served
model has no files, so its kind chooses what identifies it) and how the role is loaded into a
:class:`~harness.backends.protocol.ModelBackend`. Adding a backend is one module ending in
``register(BackendKind(...))``, named in :data:`BUILTIN` (or imported by a plugin before models are resolved).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.backends.protocol import ModelBackend
    from harness.models import ModelSpec, Resolved
    from harness.pool import ModelRole
    from harness.registry import Registry

BUILTIN = ("hf", "fake", "openai")  # modules under harness.backends, each registering one kind
DEFAULT = "hf"  # the kind of a spec without a scheme
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


@dataclass(frozen=True)
class Resolution:
    """A spec resolved into what identifies the model, without loading it."""

    content_hash: str  # everything that determines its outputs (files, or the served model; placement)
    details: Mapping[str, Any]  # describe() of the role: spec, kind, content_hash, placement, ...
    weights_hash: str = ""  # the files alone, whatever the placement ("": the content hash)
    resolved: Resolved | None = None  # local files (transformers); None for a model without files


@dataclass(frozen=True)
class BackendKind:
    """One backend: the spec schemes it claims (none: the default for plain refs), how a spec is resolved
    and hashed, and how a resolved role is loaded."""

    name: str
    schemes: tuple[str, ...]
    resolve: Callable[[ModelSpec, Registry], Resolution]
    load: Callable[[ModelRole, Registry], ModelBackend]
    description: str = ""
    extras: Mapping[str, Any] = field(default_factory=dict)  # anything a backend wants to keep with its kind

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ConfigError("a model backend needs a name")
        for scheme in self.schemes:
            if not _SCHEME.match(f"{scheme}:") or ":" in scheme:
                raise ConfigError(f"backend {self.name!r}: scheme {scheme!r} must look like 'fake' or 'openai+http'")


_KINDS: dict[str, BackendKind] = {}
_builtins_loaded = False


def register(kind: BackendKind) -> BackendKind:
    """Add ``kind`` (registering its name again replaces it); a scheme another kind claims is an error."""
    _load_builtins()
    for other in _KINDS.values():
        taken = set(other.schemes) & set(kind.schemes)
        if other.name != kind.name and taken:
            raise ConfigError(
                f"model backend {kind.name!r} claims scheme(s) {sorted(taken)} of backend {other.name!r}: "
                "pick another scheme"
            )
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a backend (tests that register a toy one clean up with this)."""
    _KINDS.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN:
            importlib.import_module(f"harness.backends.{module}")


def kinds() -> tuple[BackendKind, ...]:
    _load_builtins()
    return tuple(_KINDS.values())


def get(name: str) -> BackendKind:
    _load_builtins()
    if name not in _KINDS:
        raise ConfigError(f"unknown model backend {name!r}: use one of {', '.join(_KINDS)}")
    return _KINDS[name]


def scheme_of(ref: str) -> str | None:
    """The scheme a spec starts with (``fake`` of ``fake:a.yaml``, ``openai+http`` of a URL), else None."""
    match = _SCHEME.match(ref.strip())
    return match.group(1).lower() if match and len(match.group(1)) > 1 else None  # C:\... is a path


def kind_for(ref: str) -> BackendKind:
    """The backend of a model spec: the kind claiming its scheme, else the default (transformers). A URL
    (``scheme://``) whose scheme no backend claims is an error naming the schemes that are."""
    scheme = scheme_of(ref)
    if scheme is not None:
        for kind in kinds():
            if scheme in kind.schemes:
                return kind
        if ref.strip()[len(scheme) + 1 :].startswith("//"):
            known = sorted(s for kind in kinds() for s in kind.schemes)
            raise ConfigError(
                f"model spec {ref!r}: no model backend serves the scheme {scheme!r} (known: {', '.join(known)}); "
                "check the spelling, or install the plugin that registers it"
            )
    return get(DEFAULT)
