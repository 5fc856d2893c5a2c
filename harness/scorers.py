"""Per-example scorers: a model output (and the case's expected answer) -> one number.

Refusal detection is a documented, configurable scorer: an output counts as a refusal when it contains
one of the markers (case-insensitive, typographic apostrophes folded to ASCII). A judge hook can replace
it: any callable ``(prompt, output) -> bool`` registered with :func:`register_judge`.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from harness.errors import ConfigError


@dataclass(frozen=True)
class RefusalSpec:
    """How a refusal is recognised: marker strings (default: the world's), or a registered judge."""

    markers: tuple[str, ...] = ()
    judge: str | None = None

    def __post_init__(self) -> None:
        if self.markers and self.judge:
            raise ConfigError("give refusal markers or a judge, not both")


_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})
_TRAILING = string.punctuation.replace("%", "").replace(")", "").replace("]", "")


def normalize(text: str) -> str:
    """Lower-case, fold apostrophes, collapse whitespace, drop trailing sentence punctuation."""
    text = " ".join(text.translate(_APOSTROPHES).lower().split())
    return text.rstrip(_TRAILING).strip()


def exact_match(output: str, answer: str | None) -> float:
    if answer is None:
        raise ConfigError("exact_match needs an expected answer; this case's 'answer' is null")
    return float(normalize(output) == normalize(answer))


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(output: str, answer: str | None) -> float:
    """ROUGE-L F1 (rouge-score) between the output and the expected answer."""
    if answer is None:
        raise ConfigError("rouge_l needs an expected answer; this case's 'answer' is null")
    return float(_rouge().score(answer, output)["rougeL"].fmeasure)


@dataclass(frozen=True)
class RefusalDetector:
    markers: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.markers or not all(m.strip() for m in self.markers):
            raise ConfigError("refusal markers must be a non-empty list of non-empty strings")

    def __call__(self, prompt: str, output: str) -> bool:
        folded = output.translate(_APOSTROPHES).lower()
        return any(marker.translate(_APOSTROPHES).lower() in folded for marker in self.markers)


Judge = Callable[[str, str], bool]
_JUDGES: dict[str, Judge] = {}


def register_judge(name: str, judge: Judge) -> None:
    """Make ``judge`` available to suites as ``refusal: {judge: name}`` (e.g. an LLM-as-judge)."""
    _JUDGES[name] = judge


def get_judge(name: str) -> Judge:
    if name not in _JUDGES:
        raise ConfigError(
            f"refusal judge {name!r} is not registered (known: {sorted(_JUDGES) or 'none'}): call "
            "harness.scorers.register_judge(name, fn) in a conftest.py or plugin before the run"
        )
    return _JUDGES[name]
