"""pytest nodes for gating suites: a `test_*.yaml` suite file collects one GateItem per gate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from harness.errors import ConfigError, HarnessError
from harness.gates import GateCase, evaluate, gate_cases
from harness.gates.result import GateResult
from harness.plugin import declare_markers
from harness.pool import MODEL_ROLES
from harness.report import junit_properties
from harness.runstate import RUN_KEY
from harness.session import write_result
from harness.spec import load_suite
from harness.verdict import fails_run


class GateFailed(Exception):
    """Raised by a gate item whose verdict does not let the run pass; carries the result for the report."""

    def __init__(self, result: GateResult) -> None:
        super().__init__(result.verdict)
        self.result = result


class SuiteFile(pytest.File):
    def collect(self) -> Iterator[GateItem]:
        try:
            suite = load_suite(self.path)
        except ConfigError as exc:
            raise self.CollectError(str(exc)) from None
        declare_markers(self.config)  # a kind registered after configure gets its marker too
        for case in gate_cases(suite):
            yield GateItem.from_parent(self, name=case.name, case=case)


class GateItem(pytest.Item):
    def __init__(self, *, case: GateCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.add_marker("gate")
        self.add_marker(case.spec.kind)
        self.user_properties.append(("harness_gate", f"{case.suite.name}::{case.name}"))

    def runtest(self) -> None:
        state = self.config.stash[RUN_KEY]
        ctx = state.context()
        before = {role: (ctx.computed[role], ctx.reused[role]) for role in MODEL_ROLES}
        result = evaluate(self.case, ctx)
        usage = {
            role: {"computed": ctx.computed[role] - c, "reused": ctx.reused[role] - r}
            for role, (c, r) in before.items()
        }
        write_result(state.run_dir, result, usage)
        primary = result.primary
        self.user_properties += [
            ("harness_verdict", result.verdict),
            *junit_properties(result),  # verdict, estimate, interval, reasons: in --junitxml's <properties>
            ("p_value", None if primary is None else primary.p_value),
        ]
        if fails_run(result.verdict, state.inconclusive_fails):
            raise GateFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, GateFailed):
            result = excinfo.value.result
            lines = [f"gate {result.gate} ({result.kind}): {result.verdict}", *result.reasons()]
            if result.flipped:
                lines.append(f"items that got worse ({len(result.flipped)}): {', '.join(result.flipped[:20])}")
            if result.examples:
                lines.append("items:")
                lines += [f"  {example.line()}" for example in result.examples]
            return "\n".join(lines)
        if isinstance(excinfo.value, HarnessError):
            return f"gate {self.name} could not run, so it fails closed: {excinfo.value}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.case.spec.kind} gate {self.name}"
