"""Run reports: ``results.json`` (the machine-readable record, schema in the README) and ``summary.md``
(a CI step summary: one table of gates with verdicts and effect sizes, then why each gate failed, with the
failing items)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import DataError
from harness.gates.result import GateResult
from harness.paths import write_atomic
from harness.session import GateSession
from harness.verdict import family, passed

SCHEMA = 1
ICON = {"PASS": "✅ PASS", "FAIL": "❌ FAIL", "INCONCLUSIVE": "⚠️ INCONCLUSIVE", "ERROR": "🛑 ERROR"}


def load_results(path: Path) -> dict[str, Any]:
    """A run's results.json, checked to be one: DataError names the file and the fix otherwise."""
    fix = "delete that run directory and gate the model again"
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{path} is not UTF-8 text, so it is not a results.json the harness wrote: {fix}") from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror}): {fix}") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} is not valid JSON ({exc.msg}): it may be a run that was cut short; {fix}") from None
    shape = {"run_id": str, "models": dict, "gates": list}
    wrong = [key for key, kind in shape.items() if not isinstance(doc, dict) or not isinstance(doc.get(key), kind)]
    if not wrong and not all(isinstance(g, dict) and "name" in g and "verdict" in g for g in doc["gates"]):
        wrong = ["gates (each needs a name and a verdict)"]
    if wrong:
        got = f"a JSON {type(doc).__name__}" + (f" without a valid {', '.join(wrong)}" if isinstance(doc, dict) else "")
        raise DataError(f"{path} is not the results of a gating run (got {got}): {fix}")
    return doc


def results_document(session: GateSession, run_info: dict[str, Any], argv: Sequence[str]) -> dict[str, Any]:
    models = run_info.get("models", {})
    for role, usage in session.usage.items():
        if role in models:
            models[role] = {**models[role], "cases_computed": usage["computed"], "cases_from_cache": usage["reused"]}
    return {
        "schema": SCHEMA,
        "run_id": session.run_id,
        "started": session.started,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "verdict": session.verdict,
        "passed": passed(session.verdict),
        "command": list(argv),
        "models": models,
        "suites": run_info.get("suites", []),
        "multiplicity": {"method": session.multiplicity, "family_size": len(family(session.results))},
        "environment": run_info.get("environment", {}),
        "gates": [r.to_dict() for r in session.results],
    }


def _num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    return "—" if value is None else f"{value:.2g}"


def _row(gate: dict[str, Any]) -> str:
    check = next(
        (c for c in gate["checks"] if c["verdict"] == gate["verdict"]), gate["checks"][0] if gate["checks"] else None
    )
    level = f"{1 - 2 * check['alpha']:.0%}" if check else ""
    effect = "—"
    if gate["estimate"] is not None:
        effect = f"{gate['estimate']:+.3f} [{_num(gate['ci_low'])}, {_num(gate['ci_high'])}] ({level})"
    elif gate["ci_low"] is not None:
        effect = f"rate [{_num(gate['ci_low'])}, {_num(gate['ci_high'])}] ({level})"
    n = gate["n"]
    if check and check.get("details", {}).get("sequential"):  # a sequential gate: the items it needed, of all
        n = f"{check['details']['n_used']} of {check['details']['n_total']} (sequential)"
    return (
        f"| {gate['name']} | {gate['kind']} | {gate['metric']} | {n} | {_num(gate['candidate_value'])} | "
        f"{_num(gate['reference_value'])} | {effect} | {_p(gate['p_value'])} ({_p(gate['p_adjusted'])}) | "
        f"{ICON[gate['verdict']]} |"
    )


def _md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _example_row(e: dict[str, Any]) -> str:
    cells = (e["id"], e["prompt"], e["reference"], e["candidate"], e["answer"] or "")
    return "| " + " | ".join(_md(c) for c in cells) + " |"


def summary_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# Gate run {doc['run_id']}: {ICON[doc['verdict']]}", ""]
    for role, model in doc["models"].items():
        note = f" ({model['note']})" if model.get("note") else ""
        lines.append(f"- **{role}**: `{model['spec']}` {model['kind']}, hash `{model['content_hash'][:12]}`{note}")
    lines += [
        "",
        f"Multiplicity: {doc['multiplicity']['method']} across {doc['multiplicity']['family_size']} gates (a gate's "
        "p-value is the largest of its checks'). A gate's verdict is its worst check; the row shows that check.",
        "",
        "| gate | kind | metric | n | candidate | reference | estimate [CI] | p (adjusted) | verdict |",
        "|---|---|---|---:|---:|---:|---|---|---|",
        *(_row(g) for g in doc["gates"]),
    ]
    for gate in doc["gates"]:
        if gate["verdict"] == "PASS":
            continue
        lines += ["", f"## {gate['name']}: {ICON[gate['verdict']]}", ""]
        lines += [f"- {_md(reason)}" for reason in gate["reasons"]]
        if gate["examples"]:
            lines += ["", "| item | prompt | reference | candidate | expected |", "|---|---|---|---|---|"]
            lines += [_example_row(e) for e in gate["examples"]]
    return "\n".join(lines) + "\n"


def write_reports(run_dir: Path, doc: dict[str, Any]) -> tuple[Path, Path]:
    run_dir.mkdir(parents=True, exist_ok=True)
    results = write_atomic(run_dir / "results.json", json.dumps(doc, indent=2) + "\n")
    summary = write_atomic(run_dir / "summary.md", summary_markdown(doc))
    return results, summary


def terminal_lines(results: Sequence[GateResult], verdict: str) -> list[str]:
    width = max((len(r.gate) for r in results), default=4)
    lines = []
    for r in results:
        p = r.primary
        if p is None:
            effect = ""
        elif p.estimate is not None:
            effect = f"estimate {p.estimate:+.3f}"
        else:
            effect = f"{'value' if p.test == 'threshold' else 'rate'} {p.candidate_value:.3f}"
        lines.append(f"{r.gate:<{width}}  {r.verdict:<12} {r.kind:<10} {effect}")
    downgraded = [r.gate for r in results if any(c.verdict_unadjusted == "PASS" != c.verdict for c in r.checks)]
    if downgraded:
        lines.append(
            f"{len(downgraded)} gate(s) passed as test items but not after the multiplicity adjustment across the "
            f"run's gates, so they count as INCONCLUSIVE: {', '.join(downgraded)}"
        )
    lines.append(f"run verdict: {verdict}")
    return lines
