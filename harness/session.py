"""GateSession: every gate verdict of one run, the multiplicity adjustment across them, and the exit status.

Each gate item writes its result to ``<run dir>/gates/<gate>.json`` from whichever process ran it, so under
pytest-xdist the controller reads the same files a single process would: one code path, one verdict. Items
that crashed before writing a result count as ERROR (fail closed).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import verdict as rules
from harness.gates.result import GateResult
from harness.paths import safe_component, write_atomic


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
                if nodeid in self.crashes:
                    result = rules.after_crash(result, self.crashes[nodeid])
                results.append(result)
                for role, counts in raw["usage"].items():
                    totals = self.usage.setdefault(role, {"computed": 0, "reused": 0})
                    for key in totals:
                        totals[key] += counts.get(key, 0)
            else:
                why = self.crashes.get(nodeid, "the gate did not run to completion")
                results.append(GateResult(gate, suite, "unknown", "", error=why))
        self.results = rules.adjust(results, self.multiplicity)
        return self.results

    @property
    def verdict(self) -> str:
        return rules.run_verdict([r.verdict for r in self.results])

    def failed(self) -> bool:
        return rules.fails_run(self.verdict, self.inconclusive_fails)
