"""Gates: one statistical verdict per test item, from a gate spec and the run's models.

Each kind has its own module, which registers itself in :mod:`harness.gates.registry`; :func:`gate_cases`
expands a suite into test items and :func:`evaluate` runs one through its kind's evaluator, turning a harness
error (a bad case file, a model that cannot load, ...) into an ERROR result, so a gate that could not run
fails closed. Importing this package is cheap: the kinds' modules are imported on the first lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from harness.errors import HarnessError
from harness.gates.registry import GateCase, get

if TYPE_CHECKING:
    from harness.gates.context import RunContext
    from harness.gates.result import GateResult
    from harness.spec import SuiteSpec

__all__ = ["GateCase", "evaluate", "gate_cases"]


def gate_cases(suite: SuiteSpec) -> list[GateCase[Any]]:
    out: list[GateCase[Any]] = []
    for gate, spec in suite.gates.items():
        params = get(spec.kind).params(spec)
        out += [GateCase(suite, gate, spec, param) for param in params] if params else [GateCase(suite, gate, spec)]
    return out


def evaluate(case: GateCase[Any], ctx: RunContext) -> GateResult:
    from harness.gates.result import GateResult

    spec = case.spec
    metric = getattr(spec, "metric", spec.kind)
    try:
        result = get(spec.kind).evaluate(case, ctx)
    except HarnessError as exc:
        return GateResult(case.name, case.suite.name, spec.kind, metric, error=str(exc))
    slicing = case.suite.slicing.get(case.gate)
    if slicing and slicing.gated and not (result.error or result.failure) and not any(s.gated for s in result.slices):
        # a gated slice that was never decided must not pass silently
        return GateResult(
            case.name,
            case.suite.name,
            spec.kind,
            metric,
            error=f"gate {case.gate!r} gates slices {list(slicing.gated)}, but a {spec.kind} gate reports no "
            "per-case slices: remove `slices:` from it",
        )
    return result
