"""GateSession: every gate verdict of one run, the multiplicity adjustment across them, and the exit status.

Each gate item writes its result to ``<run dir>/gates/<gate>.json`` from whichever process ran it, so under
pytest-xdist the controller reads the same files a single process would: one code path, one verdict. Items
that crashed before writing a result count as ERROR (fail closed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.gates.result import GateResult, worst
from harness.paths import safe_component, write_atomic
from harness.stats import adjust_pvalues

LABELS = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


def new_run_id() -> str:
    """Sorts by start time (to the microsecond), unique across machines by its random suffix."""
    return f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{uuid.uuid4().hex[:6]}"


def result_path(run_dir: Path, suite: str, gate: str) -> Path:
    """``gates/<suite>/<gate>.json``: one file per (suite, gate), whatever characters the names hold."""
    return run_dir / "gates" / safe_component(suite) / f"{safe_component(gate)}.json"


def write_result(run_dir: Path, result: GateResult, usage: dict[str, Any]) -> Path:
    document = {"result": result.to_dict(), "usage": usage}
    return write_atomic(result_path(run_dir, result.suite, result.gate), json.dumps(document, indent=1) + "\n")


@dataclass
class GateSession:
    run_id: str
    run_dir: Path
    multiplicity: str = "holm"
    inconclusive_fails: bool = False
    started: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # nodeid -> (suite, gate)
    crashes: dict[str, str] = field(default_factory=dict)  # nodeid -> what pytest reported
    results: list[GateResult] = field(default_factory=list)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)

    def expect(self, nodeid: str, suite: str, gate: str) -> None:
        self.items[nodeid] = (suite, gate)

    def crashed(self, nodeid: str, message: str) -> None:
        self.crashes.setdefault(nodeid, message)

    def finalize(self) -> list[GateResult]:
        """Read every gate's result, mark missing ones ERROR, and adjust across the run's checks."""
        results: list[GateResult] = []
        for nodeid, (suite, gate) in self.items.items():
            path = result_path(self.run_dir, suite, gate)
            if path.is_file():
                raw = json.loads(path.read_text(encoding="utf-8"))
                result = GateResult.from_dict(raw["result"])
                if nodeid in self.crashes and result.verdict == "PASS":
                    # pytest failed this item: the record must not say PASS whatever the file says
                    result = replace(result, error=f"the test item failed: {self.crashes[nodeid]}")
                results.append(result)
                for role, counts in raw["usage"].items():
                    totals = self.usage.setdefault(role, {"computed": 0, "reused": 0})
                    for key in totals:
                        totals[key] += counts.get(key, 0)
            else:
                why = self.crashes.get(nodeid, "the gate did not run to completion")
                results.append(GateResult(gate, suite, "unknown", "", error=why))
        self.results = self._adjust(results)
        return self.results

    def _adjust(self, results: list[GateResult]) -> list[GateResult]:
        """Holm (or BH) across the gates of the run, one p-value per gate.

        A gate passes only if every one of its checks passes (an intersection-union test), so the gate's
        p-value is the largest of its checks' p-values; each check is then judged on the gate's adjusted p.
        """
        if self.multiplicity == "none":
            return results
        tested = [i for i, r in enumerate(results) if not r.error and not r.failure]
        gated = [i for i in tested if any(c.p_value is not None for c in results[i].checks)]
        if not gated:
            return results
        gate_p = [max(c.p_value for c in results[i].checks if c.p_value is not None) for i in gated]
        adjusted = adjust_pvalues(gate_p, self.multiplicity)  # type: ignore[arg-type]
        out = list(results)
        for i, p_gate, p_adj in zip(gated, gate_p, adjusted, strict=True):
            # Scale each check's p by its gate's adjustment factor, so the gate's own p maps to p_adj exactly.
            factor = float(p_adj) / p_gate if p_gate > 0 else 1.0
            checks = tuple(
                c
                if c.p_value is None
                else c.adjusted(min(1.0, max(c.p_value * factor, c.p_value)), LABELS[self.multiplicity], len(gated))
                for c in results[i].checks
            )
            out[i] = replace(results[i], checks=checks)
        return out

    @property
    def verdict(self) -> str:
        """The run's verdict: ERROR counts as FAIL; no gates at all is not a PASS."""
        if not self.results:
            return "ERROR"
        overall = worst([r.verdict for r in self.results])
        return "FAIL" if overall == "ERROR" else overall

    def failed(self) -> bool:
        return self.verdict in ("FAIL", "ERROR") or (self.inconclusive_fails and self.verdict == "INCONCLUSIVE")
