"""`harness report`: the regression report across gating runs, as an HTML page people want to read.

It reads every ``runs/*/results.json`` under the report directory and writes ``index.html`` with
- the latest verdict of each gated model;
- one trend plot per gate: its effect estimate and interval, run after run, a line per model;
- for each model's latest run, the gate table and the flipped examples (what got worse, with the outputs).
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

from harness.errors import ConfigError, DataError
from harness.report import load_results

Run = dict[str, Any]


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


def plot_trends(series: dict[str, dict[str, list[Point]]], out_dir: Path) -> dict[str, str]:
    """One PNG per gate; returns gate -> file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    files = {}
    for gate, by_model in sorted(series.items()):
        fig, ax = plt.subplots(figsize=(6, 3))
        for label, points in sorted(by_model.items()):
            xs = [p[0] for p in points]
            ys = [p[1] for p in points]
            low = [p[1] - p[2] if p[2] is not None else 0 for p in points]
            high = [p[3] - p[1] if p[3] is not None else 0 for p in points]
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=label)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(gate, fontsize=10)
        ax.set_xlabel("gating run (oldest to newest)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("candidate - reference")
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        name = "".join(ch if ch.isalnum() else "_" for ch in gate) + ".png"
        fig.savefig(out_dir / name, dpi=110)
        plt.close(fig)
        files[gate] = name
    return files


def write_dashboard(report_dir: Path, out: Path | None = None) -> Path:
    report_dir = report_dir.resolve()
    if not report_dir.is_dir():
        raise ConfigError(
            f"report directory {report_dir} does not exist: pass the --report-dir the gating runs wrote to "
            "(pytest's --report-dir, default reports/)"
        )
    out = out or report_dir / "index.html"
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory: name the HTML file to write, e.g. {out / 'index.html'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = load_runs(report_dir)
    plots_dir = out.parent / "plots"
    plots_dir.mkdir(exist_ok=True)
    plots = plot_trends(trends(runs), plots_dir) if runs else {}
    env = Environment(loader=PackageLoader("harness", "templates"), autoescape=True)
    html = env.get_template("dashboard.html.jinja").render(
        generated=datetime.now(UTC).isoformat(timespec="seconds"),
        runs=runs,
        latest=latest_by_model(runs),
        plots={gate: f"plots/{name}" for gate, name in plots.items()},
        label=model_label,
    )
    out.write_text(html, encoding="utf-8")
    return out
