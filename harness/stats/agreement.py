"""Inter-rater reliability: Krippendorff's alpha (the ``krippendorff`` package) on ratings keyed by rater and unit.

Alpha is 1 for perfect agreement, 0 for agreement at chance, and negative for systematic disagreement; only
units rated by at least two raters carry information. Krippendorff (2004, p. 241) asks for alpha >= 0.800 to
rely on data and accepts 0.667 <= alpha < 0.800 for tentative conclusions only: :data:`TENTATIVE_FLOOR`.

Two edge cases the library does not decide are decided here: no unit rated twice (no pairable values) leaves
alpha undefined (``None``, with the reason); pairable values that all agree but take a single value overall
(every rater gave every unit the same answer) have no expected disagreement either, so alpha is 0/0; it is
reported as 1.0 (no observed disagreement at all) with a note saying so.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Level = Literal["nominal", "ordinal", "interval"]
TENTATIVE_FLOOR = 0.667  # Krippendorff's lowest acceptable alpha, for tentative conclusions


@dataclass(frozen=True)
class Agreement:
    """Krippendorff's alpha of one measure, with what it was computed from."""

    alpha: float | None  # None: undefined (see note)
    level: Level
    raters: int
    units: int  # units with at least one value
    pairable_units: int  # units with values from two raters or more: the ones alpha is computed from
    note: str = ""

    def describe(self) -> str:
        value = "undefined" if self.alpha is None else f"{self.alpha:.3f}"
        text = (
            f"Krippendorff's alpha ({self.level}) = {value} from {self.raters} raters on {self.pairable_units} of "
            f"{self.units} items rated by two raters or more"
        )
        return f"{text} ({self.note})" if self.note else text


def krippendorff_alpha(
    ratings: Mapping[tuple[Hashable, Hashable], float], *, level: Level, domain: Sequence[float] | None = None
) -> Agreement:
    """Alpha of ``ratings`` ((rater, unit) -> value) at ``level``; ``domain`` lists every possible value (the
    scale's points), so ordinal distances count the unused points between the used ones."""
    raters = sorted({r for r, _ in ratings}, key=str)
    units = sorted({u for _, u in ratings}, key=str)
    per_unit: dict[Hashable, list[float]] = {}
    for (_, unit), value in ratings.items():
        per_unit.setdefault(unit, []).append(float(value))
    pairable = [values for values in per_unit.values() if len(values) >= 2]

    def result(alpha: float | None, note: str = "") -> Agreement:
        return Agreement(alpha, level, len(raters), len(units), len(pairable), note)

    if not pairable:
        return result(None, "no item was rated by two raters: give every item to at least two raters")
    if len({v for values in pairable for v in values}) == 1:
        # alpha is 0/0 here: agreement without variation says nothing about reliability (two raters marking
        # everything 5 must not clear the floor), so it is undefined and the human gate stays INCONCLUSIVE
        return result(None, "every rater gave every item the same value: no variation, so alpha is undefined")
    import krippendorff

    rater_index = {r: i for i, r in enumerate(raters)}
    unit_index = {u: j for j, u in enumerate(units)}
    data = np.full((len(raters), len(units)), np.nan)
    for (rater, unit), value in ratings.items():
        data[rater_index[rater], unit_index[unit]] = float(value)
    kwargs = {} if domain is None else {"value_domain": np.asarray(sorted(domain), dtype=float)}
    return result(float(krippendorff.alpha(reliability_data=data, level_of_measurement=level, **kwargs)))
