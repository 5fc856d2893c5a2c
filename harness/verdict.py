"""Every verdict rule of the harness, in one place: check -> gate -> run, the INCONCLUSIVE policy and the
multiplicity adjustment across the gates of a run.

- A check's statistical verdict comes from :func:`harness.stats.decision.decide` (paired tests) or
  :func:`harness.stats.intervals.check_rate` (rates); a threshold check is PASS or FAIL (:func:`threshold`).
- A gate's verdict is its worst check (FAIL over INCONCLUSIVE over PASS); a gate that failed without
  statistics is FAIL, one that could not run is ERROR (:func:`gate_verdict`).
- The run's verdict is its worst gate, ERROR counting as FAIL; a run without gates is ERROR, never PASS
  (:func:`run_verdict`).
- INCONCLUSIVE fails the pytest run only with ``--inconclusive=fail`` (:func:`fails_run`); promotion refuses it
  unless allowed (:func:`promotable`); ``results.json`` says ``passed`` only for a PASS (:func:`passed`).
- Multiplicity: one p-value per gate (the largest of its checks', an intersection-union test), Holm or
  Benjamini-Hochberg across the gates of the run; a PASS that does not survive becomes INCONCLUSIVE, a FAIL is
  never relaxed (:func:`adjust`). The gated slices of one check are a family of their own, Holm-adjusted by
  :mod:`harness.gates.slices` with the same rule (:func:`after_adjustment`).

Every other rule that turns a check's PASS into something else lives here too, each a pure function the gate
calls with the numbers it measured:

- a slice of too few items is never decided: PASS becomes INCONCLUSIVE, a FAIL stays (:func:`too_small`);
- latency on a machine whose A/A noise is wider than the margin: PASS becomes INCONCLUSIVE, a slowdown beyond the
  margin plus the noise stays FAIL, a smaller one becomes INCONCLUSIVE (:func:`resolves`, :func:`under_noise`);
- human ratings of too few items or too little inter-rater agreement decide nothing: INCONCLUSIVE whatever the
  test says (:func:`rating_floors`);
- a gate whose pytest item failed is never recorded as PASS: it becomes ERROR (:func:`after_crash`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from harness.errors import ConfigError
from harness.stats.multiplicity import adjust_pvalues

if TYPE_CHECKING:
    from harness.gates.result import Check, GateResult

Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE", "ERROR"]
RANK = {"PASS": 0, "INCONCLUSIVE": 1, "FAIL": 2, "ERROR": 3}
METHODS = ("holm", "bh", "none")  # strictest first
LABELS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def worst(verdicts: Iterable[str]) -> str:
    """The worst of ``verdicts`` (ERROR over FAIL over INCONCLUSIVE over PASS); none at all is ERROR."""
    return max(verdicts, key=RANK.__getitem__, default="ERROR")


def threshold(passed: bool) -> str:
    """A deterministic check (no test, no p-value): PASS or FAIL."""
    return "PASS" if passed else "FAIL"


def gate_verdict(checks: Sequence[str], *, failure: bool = False, error: bool = False) -> str:
    """A gate's verdict from its checks' verdicts: ERROR when it could not run, FAIL when it failed without
    statistics (a missing baseline), else its worst check."""
    if error:
        return "ERROR"
    return "FAIL" if failure else worst(checks)


def run_verdict(gates: Sequence[str]) -> str:
    """The run's verdict from its gates' verdicts: ERROR counts as FAIL; no gates at all is not a PASS."""
    if not gates:
        return "ERROR"
    overall = worst(gates)
    return "FAIL" if overall == "ERROR" else overall


def fails_run(verdict: str, inconclusive_fails: bool) -> bool:
    """Whether a gate's or the run's verdict makes pytest fail (``--inconclusive=fail`` for INCONCLUSIVE)."""
    return verdict in ("FAIL", "ERROR") or (verdict == "INCONCLUSIVE" and inconclusive_fails)


def promotable(verdict: str, allow_inconclusive: bool) -> bool:
    """Whether a gate's verdict lets its model be promoted: PASS, or INCONCLUSIVE when explicitly allowed."""
    return verdict == "PASS" or (verdict == "INCONCLUSIVE" and allow_inconclusive)


def passed(verdict: str) -> bool:
    """The record's ``passed``: only a PASS run is one."""
    return verdict == "PASS"


def strictest(methods: Iterable[str]) -> str:
    """The strictest multiplicity method of several suites (holm, then bh, then none); holm when none is given."""
    given = set(methods)
    return next((m for m in METHODS if m in given), "holm")


def family(results: Sequence[GateResult]) -> list[int]:
    """Indices of the gates that enter the multiplicity adjustment: those that ran and made a statistical test."""
    return [
        i
        for i, r in enumerate(results)
        if not r.error and not r.failure and any(c.p_value is not None for c in r.checks)
    ]


def after_adjustment(
    check: Check, p_adjusted: float, method: str, size: int, members: str = "gates of this run"
) -> Check:
    """``check`` judged on its adjusted p-value (``method``, e.g. "Holm", across ``size`` ``members``):
    a PASS that no longer holds (adjusted p >= alpha) becomes INCONCLUSIVE and says why; any other verdict stays.
    Either way the check records ``p_adjusted`` and its ``verdict_unadjusted``.

    Used across the gates of a run (:func:`adjust`) and across the gated slices of one check
    (``members="gated slices"``, :func:`harness.gates.slices.judged`).
    """
    verdict, reasons = check.verdict, list(check.reasons)
    if verdict == "PASS" and not p_adjusted < check.alpha:
        verdict = "INCONCLUSIVE"
        reasons.append(
            f"Passes alone (p = {check.p_value:.3g}) but not after {method} adjustment across the {size} {members} "
            f"(adjusted p = {p_adjusted:.3g} >= {check.alpha:g})."
        )
    return replace(
        check, p_adjusted=p_adjusted, verdict=verdict, verdict_unadjusted=check.verdict, reasons=tuple(reasons)
    )


def adjust(results: Sequence[GateResult], method: str) -> list[GateResult]:
    """Holm (or BH) across the gates of the run, one p-value per gate.

    A gate passes only if every one of its checks passes (an intersection-union test), so the gate's p-value is
    the largest of its checks' p-values; each check is then judged on the gate's adjusted p.
    """
    if method not in METHODS:
        raise ConfigError(f"multiplicity={method!r} is unknown: use one of {', '.join(METHODS)}")
    gated = family(results)
    if method == "none" or not gated:
        return list(results)
    gate_p = [max(c.p_value for c in results[i].checks if c.p_value is not None) for i in gated]
    adjusted = adjust_pvalues(gate_p, method)  # type: ignore[arg-type]
    out = list(results)
    for i, p_gate, p_adj in zip(gated, gate_p, adjusted, strict=True):
        # Scale each check's p by its gate's adjustment factor, so the gate's own p maps to p_adj exactly.
        factor = float(p_adj) / p_gate if p_gate > 0 else 1.0
        checks = tuple(
            c
            if c.p_value is None
            else after_adjustment(c, min(1.0, max(c.p_value * factor, c.p_value)), LABELS[method], len(gated))
            for c in results[i].checks
        )
        out[i] = replace(results[i], checks=checks)
    return out


def too_small(check: Check, min_items: int, needed: Callable[[Check], int | None]) -> Check:
    """A slice of fewer than ``min_items`` items is not decided: a PASS (or INCONCLUSIVE) becomes INCONCLUSIVE and
    says how many items would be needed (``needed(check)`` at the observed rates, at least ``min_items``; None or
    0 when it cannot be estimated); a FAIL stays FAIL (fail closed) and a slice of ``min_items`` or more is left
    alone. ``details`` gain ``required_n`` and ``too_small``."""
    if check.n >= min_items or check.verdict == "FAIL":
        return check
    need = needed(check)
    how = f"about {max(need, min_items)} items would be needed" if need else "the items needed cannot be estimated"
    reason = (
        f"Only {check.n} items in this slice: too few to decide (a slice needs at least {min_items}); {how} at the "
        "observed rates."
    )
    details = {**check.details, "required_n": max(need, min_items) if need else None, "too_small": True}
    return replace(check, verdict="INCONCLUSIVE", reasons=(*check.reasons, reason), details=details)


def resolves(spread: float, margin: float) -> bool:
    """Whether a machine resolves a latency margin: its A/A spread (the largest absolute bound of the reference
    timed against itself, as a log-ratio) is narrower than ``log(1 + margin)``. NaN does not resolve."""
    return spread < math.log1p(margin)


def under_noise(check: Check, spread: float, margin: float) -> Check:
    """A latency check (log-ratio scale) judged against the machine's A/A noise ``spread``.

    - The noise resolves the margin (:func:`resolves`): the check is unchanged.
    - A FAIL whose whole interval lies beyond the margin plus the noise (``ci_low > log(1 + margin) + spread``)
      is a real slowdown: it stays FAIL and says so (fail closed).
    - Any other PASS or FAIL becomes INCONCLUSIVE: a noisy machine can show neither that the candidate is fast
      enough nor that it is too slow. INCONCLUSIVE stays.
    """
    if resolves(spread, margin):
        return check
    if check.verdict == "FAIL" and check.ci_low is not None and check.ci_low > math.log1p(margin) + spread:
        beyond = math.exp(math.log1p(margin) + spread)
        return replace(
            check,
            reasons=(*check.reasons, f"FAIL despite the A/A noise: even the lower bound is beyond {beyond:.3f}x."),
        )
    if check.verdict not in ("PASS", "FAIL"):
        return check
    return replace(
        check,
        verdict="INCONCLUSIVE",
        reasons=(*check.reasons, f"Would be {check.verdict}, but the A/A noise is wider than the margin."),
    )


def rating_floors(
    check: Check,
    *,
    rated: int,
    exported: int,
    min_items: int,
    agreement: float | None,
    described: str,
    min_alpha: float,
) -> Check:
    """A human-eval check under its reliability floors: INCONCLUSIVE, whatever the test says (PASS or FAIL), when
    fewer than ``min_items`` of the ``exported`` items were ``rated``, or Krippendorff's alpha (``agreement``,
    ``described`` in words) is undefined (a single rater) or below ``min_alpha``; each shortfall is a reason, then
    what the test said. Above the floors the verdict stays and the agreement is stated."""
    why: list[str] = []
    if rated < min_items:
        why.append(
            f"Only {rated} of {exported} exported items were rated; the gate needs min_items = "
            f"{min_items}: export and rate more items."
        )
    if agreement is None:
        why.append(f"Inter-rater reliability is unknown: {described}.")
    elif agreement < min_alpha:
        why.append(
            f"The raters do not agree enough to rely on: {described}, below min_alpha = "
            f"{min_alpha:g} (Krippendorff's floor for tentative conclusions is 0.667): sharpen the criteria "
            "with the raters and rate again."
        )
    if not why:
        return replace(check, reasons=(*check.reasons, f"{described}."))
    before = f"Without these floors the test says {check.verdict}."
    return replace(check, verdict="INCONCLUSIVE", reasons=(*check.reasons, *why, before))


def after_crash(result: GateResult, message: str) -> GateResult:
    """A gate whose pytest item failed (``message``: what pytest reported) is never recorded as PASS, whatever its
    result file says: a PASS becomes ERROR (the gate could not run cleanly); any other verdict stays."""
    if result.verdict != "PASS":
        return result
    return replace(result, error=f"the test item failed: {message}")
