"""`harness report`: the HTML page across runs, its trend plots, and escaping of what models said."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.cli import main
from harness.dashboard import latest_by_model, load_runs, trends, write_dashboard


def _gate(name: str, estimate: float, verdict: str, examples: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "kind": "forgetting",
        "metric": "exact_match",
        "n": 10,
        "candidate_value": 0.9 + estimate,
        "reference_value": 0.9,
        "estimate": estimate,
        "ci_low": estimate - 0.05,
        "ci_high": estimate + 0.05,
        "p_value": 0.01,
        "p_adjusted": 0.02,
        "verdict": verdict,
        "flipped": [e["id"] for e in examples or []],
        "examples": examples or [],
    }


def _run(reports: Path, run_id: str, model: str, gates: list[dict[str, Any]], verdict: str) -> None:
    doc = {
        "run_id": run_id,
        "verdict": verdict,
        "models": {"candidate": {"spec": model, "content_hash": model * 8}},
        "gates": gates,
    }
    (reports / "runs" / run_id).mkdir(parents=True)
    (reports / "runs" / run_id / "results.json").write_text(json.dumps(doc))


def _reports(tmp_path: Path) -> Path:
    reports = tmp_path / "reports"
    hostile = {"id": "fact-x", "prompt": "<b>capital?</b>", "reference": "Lima", "candidate": "<script>x()</script>"}
    _run(reports, "20260101T000000.000000Z-aaaaaa", "good", [_gate("forgetting_facts", 0.0, "PASS")], "PASS")
    _run(reports, "20260102T000000.000000Z-bbbbbb", "bad", [_gate("forgetting_facts", -0.3, "FAIL", [hostile])], "FAIL")
    _run(reports, "20260103T000000.000000Z-cccccc", "good", [_gate("forgetting_facts", 0.01, "PASS")], "PASS")
    return reports


def test_trends_line_up_each_model_run_after_run(tmp_path: Path) -> None:
    runs = load_runs(_reports(tmp_path))
    series = trends(runs)["forgetting_facts"]
    assert [p[0] for p in series["good (goodgood)"]] == [0, 2] and [p[0] for p in series["bad (badbadba)"]] == [1]
    assert {label: run["run_id"][:8] for label, run in latest_by_model(runs).items()} == {
        "good (goodgood)": "20260103",
        "bad (badbadba)": "20260102",
    }


def test_the_page_shows_verdicts_plots_and_escaped_outputs(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    assert main(["report", "--report-dir", str(reports)]) == 0
    html = (reports / "index.html").read_text()
    assert (reports / "plots" / "forgetting_facts.png").is_file() and "plots/forgetting_facts.png" in html
    assert "FAIL" in html and "fact-x" in html
    assert "<script>x()</script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<b>capital?</b>" not in html


def test_an_empty_report_dir_still_writes_a_page(tmp_path: Path) -> None:
    page = write_dashboard(tmp_path / "reports")
    assert page.is_file() and "<html" in page.read_text().lower()
