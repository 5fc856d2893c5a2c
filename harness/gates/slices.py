"""Slices of a gate's checks: the same decision on the items of each slice (see :mod:`harness.slicing` for how
cases fall into slices).

- Every check made on cases is reported per slice (estimate, interval, test) when its cases fall into two or
  more slices; a reported slice never changes a verdict.
- A gated slice (``slices:`` on the gate) is decided like its check, with the same test, margin or bound, on
  the slice's items; its verdict counts towards the gate's, so the gate fails if any gated slice fails.
- Multiplicity: the gated slices of one check are a family. Each slice's PASS is a claim of its own, so their
  p-values are Holm-adjusted across the family (:func:`harness.stats.multiplicity.holm`); a slice that passes
  alone but not after Holm is INCONCLUSIVE. A FAIL is never relaxed (gates fail closed). The rule is
  :func:`harness.verdict.after_adjustment`.
- A slice of fewer than :data:`MIN_ITEMS` items is too small to decide: it is INCONCLUSIVE, never PASS, and
  says how many items would be needed (:func:`harness.verdict.too_small`, with :func:`needed_n` here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from harness import verdict as rules
from harness.cases import Case
from harness.gates.result import Check, SliceResult
from harness.scores import ScoreTable
from harness.slicing import DEFAULT, Slicing
from harness.stats.binary import tango_score_interval
from harness.stats.intervals import check_rate, clopper_pearson_interval, zero_failure_required_n
from harness.stats.multiplicity import holm

if TYPE_CHECKING:
    from harness.gates.registry import GateCase

MIN_ITEMS = 10  # a slice with fewer items is reported, never decided
_MAX_N = 10**6


def slicing_of(case: GateCase[Any]) -> Slicing:
    """The slicing a suite declares for this gate, or slicing by category, reported only."""
    return case.suite.slicing.get(case.gate, DEFAULT)


def subset(table: ScoreTable, ids: Sequence[str]) -> ScoreTable:
    keep = set(ids)
    return ScoreTable(table.metric, tuple(r for r in table.rows if r.id in keep), table.provenance)


def wanted(slicing: Slicing, groups: dict[str, tuple[str, ...]]) -> list[str]:
    """The slices to compute: every slice when there are two or more, and the gated ones always."""
    shown = list(groups) if len(groups) > 1 else []
    return shown + [s for s in slicing.gated if s not in shown]


def sliced(
    name: str,
    table: ScoreTable,
    cases: Sequence[Case],
    slicing: Slicing,
    decide: Callable[[str, tuple[str, ...]], Check],
) -> tuple[SliceResult, ...]:
    """The check ``name`` made again by ``decide(check name, ids)`` on each slice, then judged as a family."""
    groups = slicing.groups(cases, table.ids)
    results = [
        SliceResult(
            name, slicing.name, value, value in slicing.gated, decide(f"{name} [{slicing.name}={value}]", groups[value])
        )
        for value in wanted(slicing, groups)
    ]
    return judged(results)


def rate_slices(
    name: str,
    table: ScoreTable,
    cases: Sequence[Case],
    slicing: Slicing,
    *,
    bound: float,
    direction: str,
    alpha: float,
) -> tuple[SliceResult, ...]:
    """A rate floor or ceiling (exact binomial) per slice."""

    def decide(check_name: str, ids: tuple[str, ...]) -> Check:
        part = subset(table, ids)
        k = int(sum(part.scores))
        rate = check_rate(k, len(part), bound=bound, direction=direction, alpha=alpha)  # type: ignore[arg-type]
        return Check.rate(check_name, part.metric, rate)

    return sliced(name, table, cases, slicing, decide)


def judged(results: Sequence[SliceResult]) -> tuple[SliceResult, ...]:
    """Small slices made undecided, then Holm across the gated slices' PASS claims."""
    out = [replace(r, check=rules.too_small(r.check, MIN_ITEMS, needed_n)) for r in results]
    family = [i for i, r in enumerate(out) if r.gated and r.check.p_value is not None]
    if family:
        adjusted = holm([out[i].check.p_value for i in family])  # type: ignore[misc]
        for i, p in zip(family, adjusted, strict=True):
            check = rules.after_adjustment(out[i].check, p, "Holm", len(family), members="gated slices")
            out[i] = replace(out[i], check=check)
    return tuple(out)


def needed_n(check: Check) -> int | None:
    """Items a slice would need for its test to decide, if the observed rates held."""
    details = check.details
    if check.test.startswith("exact binomial"):
        return _rate_n(check.candidate_value, float(check.reference_value or 0.0), details["direction"], check.alpha)
    required = details.get("required_n")
    if required:
        return int(required)
    if details.get("n_improved") == 0 and details.get("n_regressed") == 0 and details.get("decision"):
        return _zero_discordance_n(float(details["margin"]), check.alpha)
    return None


def _smallest(ok: Callable[[int], bool]) -> int | None:
    """The smallest n in [1, 10^6] with ``ok(n)``, for ``ok`` monotone in n; None if there is none."""
    high = 1
    while not ok(high):
        high *= 2
        if high > _MAX_N:
            return None
    low = high // 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid, high)
    return high


def _zero_discordance_n(margin: float, alpha: float) -> int | None:
    """Paired binary, no item changed: the n at which the Tango interval clears the margin."""
    if margin <= 0:
        return None
    return _smallest(lambda n: tango_score_interval(0, 0, n, alpha=2 * alpha)[0] > -margin)


def _rate_n(rate: float, bound: float, direction: str, alpha: float) -> int | None:
    """A rate check at the observed rate: the n at which the exact interval clears the bound."""
    at_most = direction == "at_most"
    if (rate >= bound) if at_most else (rate <= bound):
        return None  # the observed rate is on the wrong side: no n makes it pass
    if rate in (0.0, 1.0):
        return zero_failure_required_n(bound if at_most else 1.0 - bound, alpha)

    def clears(n: int) -> bool:
        low, high = clopper_pearson_interval(round(rate * n), n, 2 * alpha)
        return high < bound if at_most else low > bound

    return _smallest(clears)
