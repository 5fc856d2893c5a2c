"""`harness nightly`: gate production and the candidates against the suites, write the regression report.

Every model is gated the way a pull request gates one: ``pytest SUITES --model=<alias>`` in its own process
(two at a time), so the nightly verdicts are exactly the ones CI and promotion see.

- ``production`` is gated with ``--baseline=production``: its baseline gates compare it with the per-example
  baselines stored beside the suites, which are production's own earlier outputs. That run is the regression
  check.
- Each candidate alias (default: every registered alias named ``candidate`` or ``candidate-*`` /
  ``candidate_*``) is gated with the default baseline (production), for the report only.

The exit status says one thing: whether production itself regressed against its stored baselines.

- 0: every gate of kind ``baseline`` in production's run is PASS or INCONCLUSIVE (the data did not show a
  regression beyond the margin). Candidates' verdicts, and production's other gates (forgetting against base,
  safety floors, ...), are reported and never change the status.
- 1: a baseline gate of production's run is FAIL (worse than its stored baseline beyond the margin; or the
  stored baseline is missing, or was recorded from another model: nothing valid to compare) or ERROR.
- 2: production could not be checked, which fails closed: no production alias, a run that wrote no
  results, or suites without any baseline gate.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.jobs import Job, run_jobs

PRODUCTION = "production"
_CANDIDATE = re.compile(r"candidate([-_].*)?")
PARALLEL = 2  # processes at a time: one torch thread each keeps two cores busy


@dataclass(frozen=True)
class Regression:
    """What production's nightly run says about production: ``status`` is the command's exit status."""

    status: int
    lines: tuple[str, ...]


def candidate_aliases(aliases: Sequence[str]) -> list[str]:
    """The registered aliases that name candidates: ``candidate``, ``candidate-*`` and ``candidate_*``."""
    return sorted(a for a in aliases if _CANDIDATE.fullmatch(a))


def gate_command(model: str, suites: Path, report_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        str(suites),
        f"--model={model}",
        f"--report-dir={report_dir}",
        "-p",
        "no:cacheprovider",
        "-q",
        "--no-header",
        *extra,
    ]


def production_regression(results: dict[str, Any] | None) -> Regression:
    """The exit status of the nightly run from production's results.json (None: the run wrote none)."""
    if results is None:
        return Regression(2, ("production's gating run wrote no results.json: production was not checked",))
    gates = [g for g in results["gates"] if g.get("kind") == "baseline"]
    if not gates:
        return Regression(
            2,
            (
                "production's run has no gate of kind baseline, so nothing compared production with its stored "
                "baselines: add a `kind: baseline` gate to the suites",
            ),
        )
    bad = [g for g in gates if g["verdict"] in ("FAIL", "ERROR")]
    lines = [f"production {g['name']}: {g['verdict']}" for g in gates]
    for gate in bad:
        lines += [f"  {reason}" for reason in gate.get("reasons", [])]
    if bad:
        lines.append(f"production regressed against its stored baselines: {', '.join(g['name'] for g in bad)}")
        return Regression(1, tuple(lines))
    lines.append("production holds against its stored baselines")
    return Regression(0, tuple(lines))


def _env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}


def _new_results(runs: Path, before: set[Path]) -> dict[str, dict[str, Any]]:
    """results.json of the runs made since ``before``, by the --model they gated (unreadable ones skipped)."""
    from harness.errors import DataError
    from harness.report import load_results

    out: dict[str, dict[str, Any]] = {}
    for run in sorted(set(runs.iterdir()) - before) if runs.is_dir() else []:
        try:
            doc = load_results(run / "results.json")
        except DataError:
            continue
        spec = doc["models"].get("candidate", {}).get("spec")
        if isinstance(spec, str):
            out[spec] = doc
    return out


def run_nightly(report_dir: Path, suites: Path, aliases: Sequence[str] | None = None) -> int:
    from harness.dashboard import write_dashboard
    from harness.registry import Registry

    report_dir = report_dir.resolve()
    if not suites.exists():
        raise ConfigError(f"suites {suites} do not exist: pass --suites, the directory `pytest` gates (suites/)")
    registered = Registry().aliases()
    if PRODUCTION not in registered:
        print(
            "error: no production alias is registered, so there is nothing to check nightly: promote a model first "
            "(harness promote candidate --to production)",
            file=sys.stderr,
        )
        return 2
    others = candidate_aliases(list(registered)) if aliases is None else [a for a in aliases if a != PRODUCTION]
    jobs = [
        Job(
            PRODUCTION,
            gate_command(PRODUCTION, suites, report_dir, f"--baseline={PRODUCTION}"),
            report_dir / "nightly-logs" / "gate-production.log",
        )
    ]
    jobs += [
        Job(alias, gate_command(alias, suites, report_dir), report_dir / "nightly-logs" / f"gate-{alias}.log")
        for alias in dict.fromkeys(others)
    ]
    runs = report_dir / "runs"
    before = set(runs.iterdir()) if runs.is_dir() else set()
    print(f"gating {', '.join(job.name for job in jobs)} against {suites} ({PARALLEL} at a time)")
    outcomes = run_jobs(jobs, parallel=PARALLEL, env=_env(), desc="gating")
    by_model = _new_results(runs, before)
    for outcome in outcomes:
        doc = by_model.get(outcome.job.name)
        verdicts = ", ".join(f"{g['name']} {g['verdict']}" for g in doc["gates"]) if doc else "no results"
        verdict = doc["verdict"] if doc else "none"
        print(f"{outcome.job.name}: exit code {outcome.returncode}, verdict {verdict}: {verdicts} ({outcome.job.log})")
    print(f"report: {write_dashboard(report_dir)}")
    regression = production_regression(by_model.get(PRODUCTION))
    print("\n".join(regression.lines), file=sys.stderr if regression.status else sys.stdout)
    return regression.status
