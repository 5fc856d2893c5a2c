"""The raw material of the reference world (harness/data/world/sources.yaml) as validated, frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError


@dataclass(frozen=True)
class FactSource:
    pairs: tuple[tuple[str, str], ...]
    questions: tuple[str, ...]
    heldout_per_fact: int
    statements: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.pairs) < 50:
            raise ConfigError(f"facts.pairs has {len(self.pairs)} facts; the world needs at least 50")
        if not 3 <= self.heldout_per_fact < len(self.questions):
            raise ConfigError(
                f"facts.heldout_per_fact={self.heldout_per_fact} must be at least 3 and leave at least one of the "
                f"{len(self.questions)} questions for pretraining"
            )


@dataclass(frozen=True)
class ArithmeticSource:
    max_operand: int
    addition: tuple[str, ...]
    subtraction: tuple[str, ...]
    statements: tuple[str, ...]
    counting: tuple[str, ...]
    heldout_phrasings: int  # per problem; the other phrasings are pretraining

    def __post_init__(self) -> None:
        if not 1 <= self.heldout_phrasings < min(len(self.addition), len(self.subtraction)):
            raise ConfigError(
                f"arithmetic.heldout_phrasings={self.heldout_phrasings} must be at least 1 and leave a phrasing "
                "of every problem for pretraining"
            )


@dataclass(frozen=True)
class SafetyCategory:
    name: str
    templates: tuple[str, ...]
    harmful: tuple[str, ...]
    benign: tuple[tuple[str, str], ...]  # (target, helpful answer)

    def __post_init__(self) -> None:
        if len(self.templates) < 5:
            raise ConfigError(f"safety category {self.name!r} has {len(self.templates)} templates; needs >= 5")
        for template in self.templates:
            if "{x}" not in template:
                raise ConfigError(f"safety category {self.name!r}: template {template!r} has no {{x}} slot")


@dataclass(frozen=True)
class SafetySource:
    refusals: tuple[str, ...]
    refusal_markers: tuple[str, ...]
    heldout_fraction: float
    categories: tuple[SafetyCategory, ...]
    framings: tuple[str, ...]
    framings_per_request: int = 2

    def __post_init__(self) -> None:
        if len(self.categories) < 6:
            raise ConfigError(f"safety has {len(self.categories)} categories; the world needs at least 6")
        if not 1 <= self.framings_per_request <= len(self.framings):
            raise ConfigError(
                f"safety.framings_per_request={self.framings_per_request} must be 1..{len(self.framings)}"
            )
        unmarked = [r for r in self.refusals if not any(m in r for m in self.refusal_markers)]
        if unmarked:
            raise ConfigError(f"safety.refusals {unmarked} contain none of refusal_markers; add a marker")


@dataclass(frozen=True)
class TaskSource:
    requests: tuple[str, ...]
    fact_card: str
    arithmetic_card: str
    size: int
    split: tuple[tuple[str, float], ...]

    def __post_init__(self) -> None:
        if self.size < 1500:
            raise ConfigError(f"task.size={self.size}; the fine-tuning task needs at least 1,500 examples")
        names = [name for name, _ in self.split]
        if names != ["train", "validation", "test"] or abs(sum(f for _, f in self.split) - 1.0) > 1e-9:
            raise ConfigError(f"task.split must be train/validation/test fractions summing to 1, got {self.split}")


@dataclass(frozen=True)
class Sources:
    facts: FactSource
    arithmetic: ArithmeticSource
    safety: SafetySource
    task: TaskSource


def _section(raw: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = raw.get(key)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{path}: section {key!r} is missing or not a mapping")
    return value


def load_sources(path: Path) -> Sources:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path}: expected a YAML mapping at the top level")
    try:
        facts = _section(raw, "facts", path)
        arith = _section(raw, "arithmetic", path)
        safety = _section(raw, "safety", path)
        task = _section(raw, "task", path)
        return Sources(
            facts=FactSource(
                pairs=tuple((str(k), str(v)) for k, v in facts["pairs"].items()),
                questions=tuple(facts["questions"]),
                heldout_per_fact=int(facts["heldout_per_fact"]),
                statements=tuple(facts["statements"]),
            ),
            arithmetic=ArithmeticSource(
                max_operand=int(arith["max_operand"]),
                addition=tuple(arith["addition"]),
                subtraction=tuple(arith["subtraction"]),
                statements=tuple(arith["statements"]),
                counting=tuple(arith.get("counting", ())),
                heldout_phrasings=int(arith["heldout_phrasings"]),
            ),
            safety=SafetySource(
                refusals=tuple(safety["refusals"]),
                refusal_markers=tuple(safety["refusal_markers"]),
                heldout_fraction=float(safety["heldout_fraction"]),
                categories=tuple(
                    SafetyCategory(
                        name=name,
                        templates=tuple(cat["templates"]),
                        harmful=tuple(cat["harmful"]),
                        benign=tuple((str(k), str(v)) for k, v in cat["benign"].items()),
                    )
                    for name, cat in safety["categories"].items()
                ),
                framings=tuple(safety["framings"]),
                framings_per_request=int(safety.get("framings_per_request", 2)),
            ),
            task=TaskSource(
                requests=tuple(task["requests"]),
                fact_card=str(task["fact_card"]),
                arithmetic_card=str(task["arithmetic_card"]),
                size=int(task["size"]),
                split=tuple((str(k), float(v)) for k, v in task["split"].items()),
            ),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: missing key {exc.args[0]!r}; see the comments in sources.yaml") from None
