"""Run reports: ``results.json`` (the machine-readable record, schema in the README) and ``summary.md``
(a CI step summary: one table of gates with verdicts and effect sizes, then why each gate failed, with the
failing items)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
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
        slices, sampled = gate.get("slices", []), _pass_at_k_lines(gate)
        if gate["verdict"] == "PASS" and not slices and not sampled:
            continue
        lines += ["", f"## {gate['name']}: {ICON[gate['verdict']]}", ""]
        if gate["verdict"] != "PASS":
            lines += [f"- {_md(reason)}" for reason in gate["reasons"]]
        lines += sampled
        if slices:
            lines += ["", *_slice_table(slices)]
        if gate["examples"] and gate["verdict"] != "PASS":
            lines += ["", "| item | prompt | reference | candidate | expected |", "|---|---|---|---|---|"]
            lines += [_example_row(e) for e in gate["examples"]]
    return "\n".join(lines) + "\n"


def _effect(check: dict[str, Any]) -> str:
    level = f"{1 - 2 * check['alpha']:.0%}"
    if check["estimate"] is not None:
        return f"{check['estimate']:+.3f} [{_num(check['ci_low'])}, {_num(check['ci_high'])}] ({level})"
    if check["ci_low"] is not None:
        return f"rate [{_num(check['ci_low'])}, {_num(check['ci_high'])}] ({level})"
    return "—"


def _slice_table(slices: list[dict[str, Any]]) -> list[str]:
    """One row per slice of each check: gated slices count towards the verdict (Holm across them), reported ones
    do not; a slice too small to decide says how many items it would need."""
    by = ", ".join(dict.fromkeys(s["by"] for s in slices))
    gated = sum(s["gated"] for s in slices)
    lines = [
        f"Slices by {by}: {gated} gated (decided, Holm across the gated slices of a check), "
        f"{len(slices) - gated} reported only (never change the verdict).",
        "",
        "| check | slice | n | candidate | reference | estimate [CI] | p (Holm) | needs n | verdict |",
        "|---|---|---:|---:|---:|---|---|---:|---|",
    ]
    for s in slices:
        c = s["check"]
        need = c["details"].get("required_n") if c["verdict"] == "INCONCLUSIVE" else None
        verdict = ICON[c["verdict"]] if s["gated"] else f"reported: {c['verdict']}"
        lines.append(
            f"| {_md(s['of'])} | {_md(s['by'])}={_md(s['value'])} | {c['n']} | {_num(c['candidate_value'])} | "
            f"{_num(c['reference_value'])} | {_effect(c)} | {_p(c['p_value'])} ({_p(c['p_adjusted'])}) | "
            f"{need if need else '—'} | {verdict} |"
        )
    return lines


def _pass_at_k_lines(gate: dict[str, Any]) -> list[str]:
    """pass@k of each check made on repeated samples (harness.sampling)."""
    lines = []
    for check in gate["checks"]:
        sampled = check["details"].get("pass_at_k") if check.get("details") else None
        if sampled:
            sides = "; ".join(
                f"{role} " + ", ".join(f"{k} {v:.3f}" for k, v in values.items()) for role, values in sampled.items()
            )
            lines.append(f"- {_md(check['name'])}, per item over repeated samples (n = {check['n']} items): {sides}")
    return lines


def write_reports(run_dir: Path, doc: dict[str, Any]) -> tuple[Path, Path]:
    run_dir.mkdir(parents=True, exist_ok=True)
    results = write_atomic(run_dir / "results.json", json.dumps(doc, indent=2) + "\n")
    summary = write_atomic(run_dir / "summary.md", summary_markdown(doc))
    return results, summary


def append_step_summary(markdown: str, env: Mapping[str, str] = os.environ) -> Path | None:
    """Append ``markdown`` to the GitHub Actions step summary ($GITHUB_STEP_SUMMARY) when it is set; the file
    collects every step's summary, so it is appended to, never replaced. Returns the file, or None."""
    target = env.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    with path.open("a", encoding="utf-8") as out:
        out.write(markdown if markdown.endswith("\n") else markdown + "\n")
    return path


def junit_properties(result: GateResult) -> list[tuple[str, object]]:
    """A gate's evidence as JUnit properties (pytest's user_properties): its verdict as the test item decided
    it, estimate, interval, one ``reason`` per line of why. The multiplicity adjustment across the run can
    still turn a PASS into INCONCLUSIVE; the final verdicts are testsuite properties (the plugin adds them)."""
    primary = result.primary
    low, high = (primary.ci_low, primary.ci_high) if primary else (None, None)
    props: list[tuple[str, object]] = [
        ("verdict", result.verdict),
        ("estimate", "" if primary is None or primary.estimate is None else f"{primary.estimate:.6g}"),
        ("ci_low", "" if low is None else f"{low:.6g}"),
        ("ci_high", "" if high is None else f"{high:.6g}"),
        ("interval", "" if low is None and high is None else f"[{_num(low, 4)}, {_num(high, 4)}]"),
    ]
    return props + [("reason", reason) for reason in result.reasons()]


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
