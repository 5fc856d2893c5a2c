"""Gates: one statistical verdict per test item, from a gate spec and the run's models.

Each kind has its own module; :func:`evaluate` dispatches and turns a harness error (a bad case file, a
model that cannot load, ...) into an ERROR result, so a gate that could not run fails closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import HarnessError
from harness.gates import ab, baseline, finetune, forgetting, retention, safety
from harness.gates.context import RunContext
from harness.gates.result import GateResult
from harness.spec import (
    ABGate,
    BaselineGate,
    FinetuneGate,
    ForgettingGate,
    GateSpec,
    RetentionGate,
    SafetyGate,
    SuiteSpec,
)


@dataclass(frozen=True)
class GateCase:
    """One test item: a gate of a suite, with its parameter (the lm-eval task of a retention gate)."""

    suite: SuiteSpec
    gate: str
    spec: GateSpec
    param: str | None = None

    @property
    def name(self) -> str:
        return f"{self.gate}[{self.param}]" if self.param else self.gate


def gate_cases(suite: SuiteSpec) -> list[GateCase]:
    out: list[GateCase] = []
    for gate, spec in suite.gates.items():
        if isinstance(spec, RetentionGate):
            out += [GateCase(suite, gate, spec, task) for task in spec.tasks]
        else:
            out.append(GateCase(suite, gate, spec))
    return out


def evaluate(case: GateCase, ctx: RunContext) -> GateResult:
    spec = case.spec
    try:
        if isinstance(spec, BaselineGate):
            return baseline.evaluate(case.name, spec, case.suite, ctx)
        if isinstance(spec, ForgettingGate):
            return forgetting.evaluate(case.name, spec, case.suite, ctx)
        if isinstance(spec, RetentionGate):
            assert case.param is not None
            return retention.evaluate(case.name, case.param, spec, case.suite, ctx)
        if isinstance(spec, SafetyGate):
            return safety.evaluate(case.name, spec, case.suite, ctx)
        if isinstance(spec, ABGate):
            return ab.evaluate(case.name, spec, case.suite, ctx)
        if isinstance(spec, FinetuneGate):
            return finetune.evaluate(case.name, spec, case.suite, ctx)
        raise HarnessError(f"gate kind {spec.kind!r} has no evaluator")
    except HarnessError as exc:
        return GateResult(case.name, case.suite.name, spec.kind, getattr(spec, "metric", spec.kind), error=str(exc))
