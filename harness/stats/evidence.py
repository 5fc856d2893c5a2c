"""What a paired test hands to the decision rule.

Every engine (binary, continuous, corpus, clustered) reduces the data to an :class:`Evidence`:
an estimate, an interval and a family of one-sided p-values that are *inversions of each other*:
``ci_low > d0`` exactly when ``p_greater(d0) < alpha`` and ``ci_high < d0`` exactly when
``p_less(d0) < alpha``. The decision rule relies on that, so a verdict can never contradict its
interval or its p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

PFunction = Callable[[float], float]


@dataclass(frozen=True)
class SecondaryTest:
    """A test reported alongside the primary one; it never changes the verdict."""

    name: str
    p_value: float | None
    p_value_two_sided: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for label, p in (("p_value", self.p_value), ("p_value_two_sided", self.p_value_two_sided)):
            if p is not None and not 0.0 <= p <= 1.0:
                raise ValueError(f"{self.name}: {label}={p} is outside [0, 1]; this is a bug in the engine")


class Planner(Protocol):
    """Power planning for the design at hand (observed n and nuisance parameters)."""

    @property
    def description(self) -> str:
        """Where the nuisance parameter came from, for the reasons."""
        ...

    def mde(self, null: float, alpha: float, power: float, direction: int = 1) -> float | None:
        """Smallest true distance beyond ``null`` (towards ``direction``) detected with ``power``."""
        ...

    def required_n(self, effect: float, null: float, alpha: float, power: float) -> int | None:
        """Items needed to reject ``null`` with ``power`` if the true difference is ``effect``."""
        ...


@dataclass(frozen=True)
class Evidence:
    """The primary test's summary of one paired comparison (difference = candidate - reference)."""

    test: str
    estimate: float
    ci_low: float
    ci_high: float
    p_greater: PFunction
    p_less: PFunction
    p_two_sided: float
    two_sided_test: str
    candidate_value: float
    reference_value: float
    planner: Planner | None
    secondary: tuple[SecondaryTest, ...] = ()
    notes: tuple[str, ...] = ()
    test_at: Callable[[float], str] | None = field(default=None)
    n_improved: int | None = None
    n_regressed: int | None = None

    def __post_init__(self) -> None:
        if math.isnan(self.ci_low) or math.isnan(self.ci_high) or self.ci_low > self.ci_high:
            raise ValueError(f"{self.test}: interval [{self.ci_low}, {self.ci_high}] is invalid; engine bug")
        if not 0.0 <= self.p_two_sided <= 1.0:
            raise ValueError(f"{self.test}: p_two_sided={self.p_two_sided} outside [0, 1]; engine bug")

    def test_name_at(self, null: float) -> str:
        return self.test_at(null) if self.test_at is not None else self.test


def bounded_p(p: float) -> float:
    """Clip tiny float excursions (1 + 1e-16) into [0, 1]."""
    return min(1.0, max(0.0, float(p)))
