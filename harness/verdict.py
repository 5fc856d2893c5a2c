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
  never relaxed (:func:`adjust`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def after_adjustment(check: Check, p_adjusted: float, method: str, size: int) -> Check:
    """``check`` judged on its adjusted p-value: a PASS that no longer holds becomes INCONCLUSIVE."""
    verdict, reasons = check.verdict, list(check.reasons)
    if verdict == "PASS" and not p_adjusted < check.alpha:
        verdict = "INCONCLUSIVE"
        reasons.append(
            f"Passes alone (p = {check.p_value:.3g}) but not after {method} adjustment across the {size} gates "
            f"of this run (adjusted p = {p_adjusted:.3g} >= {check.alpha:g})."
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
