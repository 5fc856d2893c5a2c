"""The gate-kind registry: one entry per ``kind:`` a suite may declare, read by the spec loader, the plugin's
markers, the collector and the trainer's leakage check alike.

A kind is one module that defines its spec (a frozen dataclass with a ``kind`` field) and its evaluator, and
registers them in one call::

    register(GateKind("toxicity", ToxicityGate, evaluate, "toxicity of answers to the suite's prompts",
                      cases=lambda spec: [spec.prompts]))

The built-in kinds are the modules named in :data:`BUILTIN`, imported on the first lookup. A kind defined
elsewhere (a conftest.py, a plugin) is registered when its module is imported, before the suites are
collected.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from harness.errors import ConfigError

if TYPE_CHECKING:
    from harness.gates.context import RunContext
    from harness.gates.result import GateResult
    from harness.spec import GateSpec, SuiteSpec

S = TypeVar("S", bound="GateSpec")

BUILTIN = (  # modules of harness.gates
    "baseline",
    "forgetting",
    "retention",
    "safety",
    "ab",
    "finetune",
    "prompt_baseline",
    "latency",
    "human",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a marker name: `pytest -m <kind>`


@dataclass(frozen=True)
class GateCase(Generic[S]):
    """One test item: a gate of a suite, with its parameter (the lm-eval task of a retention gate)."""

    suite: SuiteSpec
    gate: str
    spec: S
    param: str | None = None

    @property
    def name(self) -> str:
        return f"{self.gate}[{self.param}]" if self.param else self.gate


def _no_cases(spec: Any) -> list[str]:
    return []


def _one_item(spec: Any) -> tuple[str, ...]:
    return ()


@dataclass(frozen=True)
class GateKind(Generic[S]):
    """Everything the harness knows about one kind of gate.

    - ``spec``: the frozen dataclass a suite's gate mapping is read into (its ``kind`` field names the kind);
    - ``evaluate``: one test item -> its GateResult (a HarnessError it raises becomes an ERROR result);
    - ``marker``: the text of the pytest marker ``-m <name>`` selects these gates by;
    - ``cases``: the case sets (world categories or JSONL paths) a spec evaluates on, which training data must
      not overlap;
    - ``params``: how a spec expands into test items: one item per returned parameter, or one item when empty.
    """

    name: str
    spec: type[S]
    evaluate: Callable[[GateCase[S], RunContext], GateResult]
    marker: str
    cases: Callable[[S], Sequence[str]] = _no_cases
    params: Callable[[S], Sequence[str]] = _one_item

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"gate kind {self.name!r} is not a valid marker name: use lower-case letters, digits and _"
            )
        if not dataclasses.is_dataclass(self.spec) or "kind" not in {f.name for f in dataclasses.fields(self.spec)}:
            raise ConfigError(
                f"gate kind {self.name!r}: its spec {self.spec!r} must be a dataclass with a 'kind' field"
            )
        if not self.marker.strip():
            raise ConfigError(f"gate kind {self.name!r} has an empty marker text: say what its gates check")


_KINDS: dict[str, GateKind[Any]] = {}
_builtins_loaded = False


def register(kind: GateKind[S]) -> GateKind[S]:
    """Add ``kind``. Registering a name again from the same module (a re-imported conftest) replaces it; from
    another module it is an error, so two plugins cannot silently fight over one name."""
    existing = _KINDS.get(kind.name)
    if existing is not None and existing.spec.__module__ != kind.spec.__module__:
        raise ConfigError(
            f"gate kind {kind.name!r} is already registered by {existing.spec.__module__}; give the kind defined in "
            f"{kind.spec.__module__} another name"
        )
    _KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (tests that register a toy kind clean up with this)."""
    _KINDS.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in BUILTIN:
            importlib.import_module(f"harness.gates.{module}")


def kinds() -> tuple[GateKind[Any], ...]:
    """Every registered kind: the built-ins first, in the order of :data:`BUILTIN`, then the others."""
    _load_builtins()
    return tuple(_KINDS.values())


def names() -> tuple[str, ...]:
    return tuple(kind.name for kind in kinds())


def get(name: str) -> GateKind[Any]:
    _load_builtins()
    if name not in _KINDS:
        known = names()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(f"unknown kind {name!r}; {hint}use one of {', '.join(known)}")
    return _KINDS[name]
