"""`harness report`: the regression report across gating runs, as pages people open every morning.

It reads every ``runs/*/results.json`` under the report directory and writes two pages that work offline from
the file (no network: styles, the filter script and the plots are inline; links are relative):

``index.html``
    the latest verdict of each gated model; one trend plot per gate (inline SVG: each model's estimate and
    interval, run after run); and, for each model's latest run, the gate table (verdict, estimate, interval,
    reasons), the per-category slices when the run recorded them, and the items that flipped side by side (what
    the base, the reference and the candidate said, the difference highlighted); filters by gate, verdict and
    flipped items; links to each run's summary.md and results.json.
``history.html``
    every run, newest first, with the hashes of its models and its verdict.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader
from markupsafe import Markup, escape

from harness.errors import ConfigError, DataError
from harness.report import load_results

Run = dict[str, Any]
ROLES = ("base", "baseline", "candidate")
# model colours in the trend plots; no red: a red ring marks a failed run
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22")


def load_runs(report_dir: Path) -> list[Run]:
    """Every run, oldest first. A results.json that cannot be read stays in its place as an ERROR run
    (``unreadable`` says why), attributed to its model through the run's run.json when that can be read,
    so a damaged latest run is never hidden behind an older verdict of the same model."""
    runs = []
    for path in sorted((report_dir / "runs").glob("*/results.json")):
        try:
            runs.append(load_results(path))
        except DataError as exc:
            runs.append(
                {"run_id": path.parent.name, "verdict": "ERROR", "models": _run_models(path.parent), "gates": []}
            )
            runs[-1]["unreadable"] = str(exc)
        runs[-1]["directory"] = path.parent.name
        runs[-1]["has_summary"] = (path.parent / "summary.md").is_file()
    return runs


def _run_models(run_dir: Path) -> dict[str, Any]:
    """The models a run gated, from the run.json its processes write before any gate runs ({} if unreadable)."""
    try:
        models = json.loads((run_dir / "run.json").read_text(encoding="utf-8")).get("models")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return {}
    return models if isinstance(models, dict) else {}


def model_label(run: Run) -> str:
    candidate = run["models"].get("candidate")
    if not isinstance(candidate, dict):
        return f"unknown model (run {run['run_id']})"
    return f"{candidate.get('spec', '?')} ({str(candidate.get('content_hash', ''))[:8]})"


def latest_by_model(runs: list[Run]) -> dict[str, Run]:
    latest: dict[str, Run] = {}
    for run in runs:  # oldest first: later runs replace earlier ones
        latest[model_label(run)] = run
    return latest


Point = tuple[int, float, float | None, float | None, str]  # (run index, estimate, ci low, ci high, verdict)


def trends(runs: list[Run]) -> dict[str, dict[str, list[Point]]]:
    """gate -> model -> points over time; the run index is global, so models line up run by run."""
    out: dict[str, dict[str, list[Point]]] = defaultdict(lambda: defaultdict(list))
    for index, run in enumerate(runs):
        for gate in run["gates"]:
            if gate.get("estimate") is not None:
                out[gate["name"]][model_label(run)].append(
                    (index, gate["estimate"], gate.get("ci_low"), gate.get("ci_high"), gate["verdict"])
                )
    return out


# ---- trend plots: inline SVG, drawn here (no plotting library, nothing fetched, fast for hundreds of runs)

W, H = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 26, 34
XPAD = 10  # keeps the first and last run's interval off the axis


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    span = high - low or 1.0
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def _y_range(by_model: dict[str, list[Point]]) -> tuple[float, float]:
    values = [0.0]
    for points in by_model.values():
        for _, est, low, high, _ in points:
            values += [v for v in (est, low, high) if v is not None and math.isfinite(v)]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 0.05
    return low - pad, high + pad


def trend_svg(gate: str, by_model: dict[str, list[Point]], colours: dict[str, str], run_ids: Sequence[str]) -> Markup:
    """One gate's plot: per model, the estimate (candidate - reference) and its interval at each run."""
    xs = [p[0] for points in by_model.values() for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = _y_range(by_model)

    inner = W - LEFT - RIGHT - 2 * XPAD

    def px(x: float) -> float:
        return LEFT + XPAD + (x - x0) / (x1 - x0) * inner if x1 > x0 else (LEFT + W - RIGHT) / 2

    def py(y: float) -> float:
        return TOP + (y1 - y) / (y1 - y0) * (H - TOP - BOTTOM)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" role="img" viewBox="0 0 {W} {H}" width="{W}" '
        f'height="{H}" aria-label="trend of {escape(gate)}">',
        f'<text x="{LEFT}" y="15" class="title">{escape(gate)}: candidate − reference, run after run</text>',
    ]
    for tick in _ticks(y0, y1):
        y = py(tick)
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 3:.1f}" class="ytick">{tick:g}</text>')
    parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{py(0):.1f}" y2="{py(0):.1f}" class="zero"/>')
    for tick in _ticks(x0, x1, 8) if x1 > x0 else [x0]:
        if float(tick).is_integer():
            parts.append(f'<text x="{px(tick):.1f}" y="{H - BOTTOM + 14}" class="xtick">{int(tick) + 1}</text>')
    parts.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 4}" class="xlabel">gating run (oldest to newest)</text>')
    for label, points in sorted(by_model.items()):
        parts.append(_series(label, points, colours[label], run_ids, px, py))
    parts.append("</svg>")
    return Markup("".join(parts))


def _series(label: str, points: list[Point], colour: str, run_ids: Sequence[str], px: Any, py: Any) -> str:
    line = " ".join(f"{px(x):.1f},{py(est):.1f}" for x, est, *_ in points)
    out = [f'<g class="series" data-model="{escape(label)}" style="color:{colour}">']
    out.append(f'<polyline points="{line}" class="line"/>')
    for x, est, low, high, verdict in points:
        if low is not None and high is not None:
            out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{py(low):.1f}" y2="{py(high):.1f}" class="ci"/>')
        interval = f" [{low:.3f}, {high:.3f}]" if low is not None and high is not None else ""
        out.append(
            f'<circle cx="{px(x):.1f}" cy="{py(est):.1f}" r="3.2" class="pt v-{verdict}"><title>{escape(label)}, run '
            f"{escape(run_ids[x])}: {est:+.3f}{interval} {verdict}</title></circle>"
        )
    out.append("</g>")
    return "".join(out)


# ---- the items that flipped, side by side

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def diff_pair(reference: str | None, candidate: str | None) -> tuple[Markup, Markup]:
    """Both texts, escaped, with what the candidate dropped in <del> and what it added in <ins> (by word)."""
    if reference is None or candidate is None:
        return _text(reference), _text(candidate)
    ref, cand = _TOKEN.findall(reference), _TOKEN.findall(candidate)
    left: list[str] = []
    right: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, ref, cand, autojunk=False).get_opcodes():
        a, b = escape("".join(ref[i1:i2])), escape("".join(cand[j1:j2]))
        if op == "equal":
            left.append(a)
            right.append(b)
            continue
        if a:
            left.append(f"<del>{a}</del>")
        if b:
            right.append(f"<ins>{b}</ins>")
    return Markup("".join(left)), Markup("".join(right))


def _text(value: str | None) -> Markup:
    return Markup('<span class="none">not recorded</span>') if value is None else escape(value)


def outputs_by_role(run_dir: Path) -> dict[str, dict[str, str]]:
    """role -> item id -> what that model said, from the per-example tables the run stored (scores/)."""
    out: dict[str, dict[str, str]] = {role: {} for role in ROLES}
    for role in ROLES:
        for path in sorted((run_dir / "scores").glob(f"*/*/{role}.json")):
            try:
                rows = json.loads(path.read_text(encoding="utf-8")).get("rows", [])
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
                continue
            for row in rows if isinstance(rows, list) else []:
                if isinstance(row, dict) and isinstance(row.get("output"), str):
                    out[role].setdefault(str(row.get("id")), row["output"])
    return out


REFERENCE_IS_BASE = ("forgetting", "retention")  # kinds whose reference model is the base model


def flipped_rows(gate: dict[str, Any], outputs: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """One row per flipped example of ``gate``: prompt, expected, and base / reference / candidate outputs. The
    side the gate compared with (the base for forgetting and retention, else the reference) and the candidate
    carry the highlighted difference; the other side is shown as the run recorded it, if it did."""
    against_base = gate.get("kind") in REFERENCE_IS_BASE
    rows = []
    for example in gate.get("examples") or []:
        item = str(example.get("id"))
        compared, candidate = diff_pair(example.get("reference"), example.get("candidate"))
        other = _text(outputs["baseline" if against_base else "base"].get(item))
        rows.append(
            {
                "id": item,
                "prompt": example.get("prompt", ""),
                "expected": example.get("answer"),
                "base": compared if against_base else other,
                "reference": other if against_base else compared,
                "candidate": candidate,
                "compared": "base" if against_base else "reference",
            }
        )
    return rows


# ---- per-category slices (optional in results.json: rendered when a gate has them)


def slice_table(slices: Any) -> tuple[list[str], list[list[str]]]:
    """(columns, rows) of a gate's ``slices`` list, whatever keys its entries have; ([], []) if none."""
    if not isinstance(slices, list):
        return [], []
    entries = [_flat_slice(s) if isinstance(s.get("check"), dict) else s for s in slices if isinstance(s, dict)]
    columns = list(dict.fromkeys(key for entry in entries for key in entry))
    return columns, [[_cell(entry.get(column)) for column in columns] for entry in entries]


def _flat_slice(entry: dict[str, Any]) -> dict[str, Any]:
    """A slice as the gates record it (``of``, ``by``, ``value``, ``gated``, its ``check``) as one table row."""
    check = entry["check"]
    verdict = check.get("verdict")
    interval = (check.get("ci_low"), check.get("ci_high"))
    return {
        "check": entry.get("of"),
        "slice": f"{entry.get('by')}={entry.get('value')}",
        "n": check.get("n"),
        "candidate": check.get("candidate_value"),
        "reference": check.get("reference_value"),
        "estimate": check.get("estimate"),
        "interval": "[" + ", ".join(_cell(v) for v in interval) + "]" if any(v is not None for v in interval) else None,
        "p (Holm)": check.get("p_adjusted", check.get("p_value")),
        "needs n": (check.get("details") or {}).get("required_n") if verdict == "INCONCLUSIVE" else None,
        "verdict": verdict if entry.get("gated") else f"reported: {verdict}",
    }


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


# ---- pages


def _gate_names(runs: Iterable[Run]) -> list[str]:
    return sorted({g["name"] for run in runs for g in run["gates"]})


def write_dashboard(report_dir: Path, out: Path | None = None) -> Path:
    report_dir = report_dir.resolve()
    if not report_dir.is_dir():
        raise ConfigError(
            f"report directory {report_dir} does not exist: pass the --report-dir the gating runs wrote to "
            "(pytest's --report-dir, default reports/)"
        )
    out = (out or report_dir / "index.html").resolve()
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory: name the HTML file to write, e.g. {out / 'index.html'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = load_runs(report_dir)
    latest = latest_by_model(runs)
    labels = sorted({model_label(run) for run in runs})
    colours = {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(labels)}
    run_ids = [run["run_id"] for run in runs]
    plots = {gate: trend_svg(gate, series, colours, run_ids) for gate, series in sorted(trends(runs).items())}
    details = {
        label: {
            g["name"]: flipped_rows(g, outputs_by_role(report_dir / "runs" / run["directory"]))
            for g in run["gates"]
            if g.get("examples")
        }
        for label, run in latest.items()
    }
    env = Environment(loader=PackageLoader("harness", "templates"), autoescape=True)
    history = out.parent / (f"{out.stem}-history.html" if out.name != "index.html" else "history.html")
    common: dict[str, Any] = {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "label": model_label,
        "runs_href": Path(os.path.relpath(report_dir / "runs", out.parent)).as_posix(),
        "history_href": history.name,
        "index_href": out.name,
    }
    out.write_text(
        env.get_template("dashboard.html.jinja").render(
            **common,
            latest=latest,
            plots=plots,
            colours=colours,
            details=details,
            gates=_gate_names(latest.values()),
            slice_table=slice_table,
        ),
        encoding="utf-8",
    )
    history.write_text(env.get_template("history.html.jinja").render(**common), encoding="utf-8")
    return out
