"""How a gate's cases fall into slices: by their ``category``, or any declared field, read from a suite.

A gate mapping may declare::

    slice_by: category        # a case field: category, cluster, id, or a key of the case's ``meta``
    slice_by: {name: topic, field: id, pattern: '^(?:harmful|benign)-([a-z]+)-'}  # the regex's first group
    slices: {topic: [weapons, drugs]}                                              # gate these slices

Without either key a gate is sliced by ``category`` and the slices are only reported (see
:mod:`harness.gates.slices` for how slices are decided).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.cases import Case
from harness.errors import ConfigError

KEYS = ("slice_by", "slices")  # the keys a gate mapping may carry besides its kind's own
FIELDS = ("category", "cluster", "id")  # Case attributes; any other field name is a key of the case's meta
_BY_KEYS = ("name", "field", "pattern")


@dataclass(frozen=True)
class Slicing:
    """Which field of a case names its slice, and which slices a gate is decided on (``gated``)."""

    name: str = "category"  # what the slices are called in reports and under ``slices:``
    field: str = "category"
    pattern: str | None = None  # a regex whose first group, searched in the field's text, is the slice
    gated: tuple[str, ...] = ()
    declared: bool = False  # whether the suite declared it (a declared field must exist on the cases)

    def __post_init__(self) -> None:
        if not self.name or not self.field:
            raise ConfigError("slice_by names an empty field: use category, cluster, id or a key of the cases' meta")
        if self.pattern is not None:
            try:
                groups = re.compile(self.pattern).groups
            except re.error as exc:
                raise ConfigError(f"slice_by pattern {self.pattern!r} is not a regular expression ({exc})") from None
            if groups < 1:
                raise ConfigError(
                    f"slice_by pattern {self.pattern!r} has no group: put the part that names the slice in "
                    "parentheses, e.g. '^harmful-([a-z]+)-'"
                )
        if len(set(self.gated)) != len(self.gated) or not all(self.gated):
            raise ConfigError(f"slices {list(self.gated)} names a slice twice or an empty one: list each slice once")

    def value(self, case: Case) -> str | None:
        """The slice ``case`` belongs to; None when the case has no such field or the pattern does not match."""
        raw = getattr(case, self.field) if self.field in FIELDS else case.meta.get(self.field)
        if raw is None:
            return None
        if self.pattern is None:
            return str(raw)
        found = re.search(self.pattern, str(raw))
        return found.group(1) if found else None

    def groups(self, cases: Sequence[Case], ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Slice -> the ids (among ``ids``, in case order) that fall into it; cases without a value go under
        ``(no <name>)``. A gated slice without items is a ConfigError naming the slices there are."""
        present = set(ids)
        out: dict[str, list[str]] = {}
        values = {c.id: self.value(c) for c in cases if c.id in present}
        if self.declared and values and all(v is None for v in values.values()):
            how = f" matching {self.pattern!r}" if self.pattern else ""
            raise ConfigError(
                f"slice_by {self.name!r}: no case has a {self.field!r}{how}; slice by category, cluster, id or a "
                "key every case carries in its meta (a pattern needs a group that matches)"
            )
        for case_id, value in values.items():
            out.setdefault(value if value is not None else f"(no {self.name})", []).append(case_id)
        missing = [s for s in self.gated if s not in out]
        if missing:
            raise ConfigError(
                f"slices {missing} of {self.name!r} have no items among this gate's cases; the {self.name} values "
                f"present are {sorted(out)}: fix the names under `slices:`"
            )
        return {value: tuple(members) for value, members in out.items()}


DEFAULT = Slicing()


def parse(raw: Mapping[str, Any], where: str) -> tuple[dict[str, Any], Slicing | None]:
    """A gate mapping without its slicing keys, and the Slicing they declare (None when it declares none)."""
    rest = {k: v for k, v in raw.items() if k not in KEYS}
    if not any(k in raw for k in KEYS):
        return rest, None
    name, field, pattern = _by(raw.get("slice_by"), where)
    gated: tuple[str, ...] = ()
    slices = raw.get("slices")
    if slices is not None:
        if not isinstance(slices, Mapping) or len(slices) != 1:
            raise ConfigError(
                f"{where}: slices must map the field to slice by to the slices to gate, e.g. "
                "`slices: {category: [harmful/weapons]}`"
            )
        ((key, values),) = slices.items()
        if name is None:
            name = field = str(key)
        elif str(key) != name:
            raise ConfigError(
                f"{where}: slices gates {key!r} but slice_by is {name!r}: gate slices of the field the gate is "
                f"sliced by (`slices: {{{name}: [...]}}`)"
            )
        if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
            raise ConfigError(f"{where}: slices.{key} must list the slices to gate, e.g. [{'harmful/weapons'}]")
        gated = tuple(str(v) for v in values)
    try:
        return rest, Slicing(name or "category", field or "category", pattern, gated, declared=True)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _by(raw: Any, where: str) -> tuple[str | None, str | None, str | None]:
    """(name, field, pattern) of a ``slice_by`` value: a field name, or {name, field, pattern}."""
    if raw is None:
        return None, None, None
    if isinstance(raw, str):
        return raw, raw, None
    if isinstance(raw, Mapping):
        unknown = [str(k) for k in raw if k not in _BY_KEYS]
        if unknown or "field" not in raw:
            raise ConfigError(
                f"{where}: slice_by {dict(raw)} "
                + (f"has unknown keys {unknown}" if unknown else "has no field")
                + ": use a field name, or {name: topic, field: id, pattern: '^harmful-([a-z]+)-'}"
            )
        field = str(raw["field"])
        pattern = None if raw.get("pattern") is None else str(raw["pattern"])
        return str(raw.get("name") or field), field, pattern
    raise ConfigError(f"{where}: slice_by={raw!r} must be a field name or a mapping {{name, field, pattern}}")
