"""The validation report: what would make training fail or learn the wrong thing, before it starts.

Errors block training: no examples, empty turns (an empty reply teaches the model to say nothing),
and examples longer than ``max_length`` (``encode`` refuses to truncate them). Warnings do not:
degenerate replies and duplicates (``deduplicate`` removes them; ``prepare`` does so by itself).

A reply is degenerate when one word n-gram (n ≤ 8) repeats back to back at least 4 times over at least
8 words ("ha ha ha ...", "I am sorry. I am sorry. ..."), or when a reply of 30 words or more uses fewer
than 25% distinct words. Both are what a model produces when it loops, and training on them teaches it
to loop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError
from training.data.dedup import exact_duplicates, near_duplicates
from training.data.encode import token_ids
from training.data.example import Example, named_ids
from training.data.text import words

MAX_PERIOD, MIN_COPIES, MIN_SPAN = 8, 4, 8
MIN_WORDS_FOR_RATIO, MIN_DISTINCT_RATIO = 30, 0.25


@dataclass(frozen=True)
class LengthStats:
    """Token lengths of the rendered conversations."""

    min: int
    mean: float
    p95: int  # nearest-rank 95th percentile
    max: int

    @classmethod
    def of(cls, lengths: Sequence[int]) -> LengthStats:
        if not lengths:
            return cls(0, 0.0, 0, 0)
        ordered = sorted(lengths)
        return cls(ordered[0], sum(ordered) / len(ordered), ordered[math.ceil(0.95 * len(ordered)) - 1], ordered[-1])


Groups = tuple[tuple[str, ...], ...]  # each group: the kept id first, then its duplicates


@dataclass(frozen=True)
class ValidationReport:
    n: int
    max_length: int
    empty_fields: tuple[tuple[str, str], ...]  # (example id, which turn)
    token_lengths: LengthStats
    too_long: tuple[str, ...]
    repetition: tuple[str, ...]
    exact_duplicates: Groups
    near_duplicates: Groups
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors

    def format(self) -> str:
        lengths = self.token_lengths
        lines = [
            f"{self.n} examples; tokens min {lengths.min}, mean {lengths.mean:.1f}, p95 {lengths.p95}, "
            f"max {lengths.max} (max_length {self.max_length})",
            *(f"ERROR: {message}" for message in self.errors),
            *(f"warning: {message}" for message in self.warnings),
        ]
        if not self.errors and not self.warnings:
            lines.append("no problems found")
        return "\n".join(lines)


def repetition_reason(text: str) -> str | None:
    """Why ``text`` looks degenerate, or None."""
    tokens = words(text)
    for period in range(1, MAX_PERIOD + 1):
        streak = 0
        for i in range(len(tokens) - period):
            streak = streak + 1 if tokens[i] == tokens[i + period] else 0
            span = streak + period  # tokens[i - streak + 1 : i + period + 1] repeat with this period
            if span // period >= MIN_COPIES and span >= MIN_SPAN:
                start = i - streak + 1
                gram = " ".join(tokens[start : start + period])
                return f"{gram!r} repeats {span // period} times in a row"
    if len(tokens) >= MIN_WORDS_FOR_RATIO and len(set(tokens)) / len(tokens) < MIN_DISTINCT_RATIO:
        return f"only {len(set(tokens))} distinct words in {len(tokens)}"
    return None


def _groups(found: dict[str, list[str]]) -> Groups:
    return tuple((kept, *removed) for kept, removed in found.items())


def _empty_fields(examples: Sequence[Example]) -> list[tuple[str, str]]:
    return [
        (example.id, f"{role} turn {index} is empty")
        for example in examples
        for index, (role, content) in enumerate(example.messages)
        if not content.strip()
    ]


def validate(
    examples: Sequence[Example], tokenizer: Any, *, max_length: int, near_threshold: float = 0.9
) -> ValidationReport:
    """Check ``examples`` before training; see the module docstring for what counts as an error."""
    if max_length < 1:
        raise ConfigError(f"max_length={max_length} must be a positive number of tokens")
    lengths = [len(token_ids(example, tokenizer)) for example in examples]
    too_long = [e.id for e, length in zip(examples, lengths, strict=True) if length > max_length]
    empty = _empty_fields(examples)
    degenerate = [(e.id, reason) for e in examples if (reason := repetition_reason(e.assistant_text()))]
    exact = exact_duplicates(examples)
    dropped = {i for ids in exact.values() for i in ids}
    near = near_duplicates([e for e in examples if e.id not in dropped], near_threshold)
    errors = []
    if not examples:
        errors.append("no examples: a training set needs at least one")
    if empty:
        errors.append(
            f"{len(empty)} empty turn(s): "
            + "; ".join(f"{i!r} {what}" for i, what in empty[:20])
            + ("; ..." if len(empty) > 20 else "")
            + "; fill them in or remove those examples"
        )
    if too_long:
        errors.append(
            f"{len(too_long)} example(s) longer than max_length={max_length} tokens: {named_ids(too_long)}; "
            "raise max_length or shorten or remove them (they are never truncated)"
        )
    warnings = []
    if degenerate:
        warnings.append(
            f"{len(degenerate)} degenerate assistant repl(ies): "
            + "; ".join(f"{i!r}: {why}" for i, why in degenerate[:20])
            + "; rewrite or remove them, or the model learns to loop"
        )
    for kind, found in (("exact", exact), ("near", near)):
        if found:
            count = sum(len(ids) for ids in found.values())
            shown = "; ".join(f"{kept!r} ~ {named_ids(ids, 5)}" for kept, ids in list(found.items())[:10])
            warnings.append(f"{count} {kind} duplicate(s) of {len(found)} example(s): {shown}; run deduplicate()")
    return ValidationReport(
        n=len(examples),
        max_length=max_length,
        empty_fields=tuple(empty),
        token_lengths=LengthStats.of(lengths),
        too_long=tuple(too_long),
        repetition=tuple(i for i, _ in degenerate),
        exact_duplicates=_groups(exact),
        near_duplicates=_groups(near),
        errors=tuple(errors),
        warnings=tuple(warnings),
    )
