"""`harness report`: the HTML page across runs, its trend plots, and escaping of what models said."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from harness.dashboard import diff_pair, latest_by_model, load_runs, slice_table, trends, write_dashboard
from tests.report_runs import gate, slice_record, synthetic_history, write_run


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
    assert html.count('<figure class="trend-plot" data-gate="forgetting_facts"><svg') == 1  # inline: no files
    assert "FAIL" in html and "fact-x" in html
    assert "<script>x()</script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert "<b>capital?</b>" not in html


def test_an_empty_report_dir_still_writes_a_page(tmp_path: Path) -> None:
    (tmp_path / "reports").mkdir()
    page = write_dashboard(tmp_path / "reports")
    assert page.is_file() and "<html" in page.read_text().lower()


def test_a_report_dir_that_does_not_exist_or_an_out_that_is_a_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--report-dir", str(tmp_path / "nowhere")]) == 2
    assert f"report directory {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err
    assert not (tmp_path / "nowhere").exists()
    reports = _reports(tmp_path)
    assert main(["report", "--report-dir", str(reports), "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a directory: name the HTML file" in capsys.readouterr().err


def _torn_latest(reports: Path, content: bytes, *, run_json: bool = True) -> Path:
    run_dir = reports / "runs" / "20260104T000000.000000Z-dddddd"
    run_dir.mkdir(parents=True)
    if run_json:  # written before any gate runs: names the models even when results.json is torn
        models = {"candidate": {"spec": "good", "content_hash": "good" * 8}}
        (run_dir / "run.json").write_text(json.dumps({"models": models}))
    (run_dir / "results.json").write_bytes(content)
    return run_dir


@pytest.mark.parametrize(
    "content, why",
    [
        (b'{"run_id": "20260104', "is not valid JSON"),
        (b"{}", "is not the results of a gating run"),
        (b"[]", "is not the results of a gating run"),
        (b"\xff\xfe{}", "is not UTF-8 text"),
    ],
)
def test_an_unreadable_latest_run_shows_as_error_for_its_model_not_an_older_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, why: str
) -> None:
    reports = _reports(tmp_path)
    _torn_latest(reports, content)
    latest = latest_by_model(load_runs(reports))
    assert latest["good (goodgood)"]["verdict"] == "ERROR" and why in latest["good (goodgood)"]["unreadable"]
    assert main(["report", "--report-dir", str(reports)]) == 1
    assert f"run 20260104T000000.000000Z-dddddd is shown as ERROR: {reports}" in capsys.readouterr().err
    html = (reports / "index.html").read_text()
    assert "1 run(s) could not be read" in html and why in html


def test_an_unreadable_run_without_run_json_is_listed_under_an_unknown_model(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    _torn_latest(reports, b"{", run_json=False)
    latest = latest_by_model(load_runs(reports))
    assert latest["unknown model (run 20260104T000000.000000Z-dddddd)"]["verdict"] == "ERROR"
    assert main(["report", "--report-dir", str(reports)]) == 1


def test_the_pages_work_offline_with_relative_links_and_a_history_of_every_run(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    write_run(reports, "20260104T000000.000000Z-dddddd", "good", [gate("task_baseline", 0.0, "PASS")])
    page = write_dashboard(reports)
    html, history = page.read_text(), (reports / "history.html").read_text()
    for text in (html, history):  # nothing fetched from a network: no CDN script, style, font or image
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text) and "@import" not in text
    for href in re.findall(r'href="(runs/[^"]+)"', html + history):
        assert (reports / href).is_file(), href
    assert 'href="runs/20260104T000000.000000Z-dddddd/summary.md"' in html  # runs without one link results only
    assert history.count('<tr class="run-row">') == 4
    newest = history.index("20260103T000000.000000Z-cccccc")
    assert newest < history.index("20260101T000000.000000Z-aaaaaa")
    assert "676f6f64676f" in history and "goodgoodgood" in history and 'class="FAIL">FAIL' in history


def test_an_out_elsewhere_links_back_to_the_runs(tmp_path: Path) -> None:
    reports = _reports(tmp_path)
    page = write_dashboard(reports, tmp_path / "site" / "nightly.html")
    html = page.read_text()
    assert (tmp_path / "site" / "nightly-history.html").is_file() and 'href="nightly-history.html"' in html
    for run in ("20260103T000000.000000Z-cccccc", "20260102T000000.000000Z-bbbbbb"):
        assert f'href="../reports/runs/{run}/results.json"' in html


def test_the_difference_is_highlighted_by_word_and_escaped() -> None:
    left, right = diff_pair("The capital is <Lima>.", "The capital is Quito.")
    assert str(left) == "The capital is <del>&lt;Lima&gt;</del>."
    assert str(right) == "The capital is <ins>Quito</ins>."
    assert str(diff_pair(None, "x")[0]) == '<span class="none">not recorded</span>'


def test_slices_render_whatever_their_keys_and_their_absence_is_tolerated(tmp_path: Path) -> None:
    slices = [{"category": "geo", "n": 3, "estimate": -0.25}, {"category": "math", "verdict": "PASS"}]
    assert slice_table(slices) == (
        ["category", "n", "estimate", "verdict"],
        [["geo", "3", "-0.250", "—"], ["math", "—", "—", "PASS"]],
    )
    assert slice_table(None) == ([], []) and slice_table("junk") == ([], [])
    reports = tmp_path / "reports"
    recorded = [slice_record("geo", 30, -0.25, "FAIL", gated=True), slice_record("math", 30, 0.0, "PASS")]
    write_run(reports, "20260101T000000.000000Z-aaaaaa", "m", [gate("task_baseline", -0.1, "FAIL", slices=recorded)])
    write_run(reports, "20260102T000000.000000Z-bbbbbb", "n", [gate("task_baseline", 0.0, "PASS")])
    html = write_dashboard(reports).read_text()
    assert (
        html.count("task_baseline: slices by category") == 1
        and '<td class="">category=geo</td>' in html
        and '<td class="FAIL">FAIL</td>' in html
    )


def test_slices_as_the_gates_record_them_become_one_row_each() -> None:
    check = {"n": 40, "candidate_value": 0.5, "reference_value": 0.9, "estimate": -0.4, "ci_low": -0.55,
             "ci_high": -0.2, "p_value": 0.001, "p_adjusted": 0.003, "verdict": "FAIL", "details": {}}  # fmt: skip
    small = {**check, "n": 4, "verdict": "INCONCLUSIVE", "details": {"required_n": 31}}
    slices = [
        {"of": "accuracy", "by": "topic", "value": "geo", "gated": True, "check": check},
        {"of": "accuracy", "by": "topic", "value": "math", "gated": False, "check": small},
    ]
    columns, rows = slice_table(slices)
    assert columns[:2] == ["check", "slice"] and columns[-2:] == ["needs n", "verdict"]
    assert rows[0][1] == "topic=geo" and rows[0][-1] == "FAIL" and "[-0.550, -0.200]" in rows[0]
    assert rows[0][columns.index("p (Holm)")] == "0.003"
    assert rows[1][-1] == "reported: INCONCLUSIVE" and rows[1][-2] == "31"


def test_the_page_stays_bounded_with_200_runs(tmp_path: Path) -> None:
    """Details only for each model's latest run; the trends and the history grow by a few hundred bytes a run."""
    reports = tmp_path / "reports"
    synthetic_history(reports, 200)
    html = write_dashboard(reports).read_text()
    assert html.count('class="trend-plot"') == 4 and html.count('<section class="model"') == 2
    assert html.count("<circle") == 800
    assert len(html.encode()) < 600_000, len(html.encode())
    assert len((reports / "history.html").read_bytes()) < 400_000
