"""The report as a person sees it: `harness report` rendered by headless Chromium (Debian's chromium package,
driven by Playwright over CDP; no browser is downloaded). Three runs of two models; the screenshot is kept.

Skipped only when no Chromium is installed (`./dev test` installs it with apt-get where it can).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from tests.report_runs import gate, slice_record, write_run

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTEFACT = Path(__file__).resolve().parents[1] / "reports" / "browser-test" / "report.png"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM}: install Debian's chromium (apt-get install chromium)"
)


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh --user-data-dir
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _three_runs_of_two_models(reports: Path) -> None:
    flip = {"id": "fact-peru", "prompt": "Capital of Peru?", "reference": "The capital is Lima.",
            "candidate": "The capital is Quito.", "answer": "Lima"}  # fmt: skip
    slices = [slice_record("geography", 30, -0.2, "FAIL", gated=True), slice_record("people", 30, 0.0, "PASS")]
    write_run(
        reports,
        "20260101T000000.000000Z-aaaaaa",
        "production",
        [gate("task_baseline", 0.0, "PASS"), gate("forgetting_facts", 0.01, "PASS")],
    )
    write_run(
        reports,
        "20260102T000000.000000Z-bbbbbb",
        "candidate",
        [gate("task_baseline", -0.01, "PASS"), gate("forgetting_facts", -0.02, "INCONCLUSIVE")],
    )
    write_run(
        reports,
        "20260103T000000.000000Z-cccccc",
        "candidate",
        [
            gate("task_baseline", 0.02, "PASS"),
            gate("forgetting_facts", -0.2, "FAIL", examples=[flip], slices=slices),
        ],
        outputs={"baseline": {"fact-peru": "Lima, on the coast."}},
    )


def test_the_report_shows_verdicts_trends_and_working_filters_in_chromium(tmp_path: Path, page: Any) -> None:
    reports = tmp_path / "reports"
    _three_runs_of_two_models(reports)
    assert main(["report", "--report-dir", str(reports)]) == 0
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    page.goto((reports / "index.html").as_uri())
    page.wait_for_load_state("load")

    # the latest verdict of each model, and each latest run's gate table
    latest = page.locator("#latest tr").all_inner_texts()[1:]
    assert len(latest) == 2
    assert any("production" in row and "PASS" in row for row in latest)
    assert any("candidate" in row and "FAIL" in row and "20260103" in row for row in latest)
    rows = page.locator("tr.gate-row")
    assert rows.count() == 4  # two gates in each model's latest run
    assert "[-0.260, -0.150]" in page.locator("section#run-2 tr.gate-row", has_text="forgetting_facts").inner_text()

    # one trend plot per gate, drawn, with one point per run that gated it
    plots = page.locator("figure.trend-plot svg")
    assert plots.count() == 2
    for i in range(2):
        box = plots.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 150
        assert plots.nth(i).locator("circle.pt").count() == 3
    assert page.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length") == 0

    # the flipped item side by side: base, reference and candidate, the difference highlighted
    side = page.locator("table.side tr", has_text="fact-peru")
    cells = side.locator("td").all_inner_texts()
    assert cells[3:] == ["The capital is Lima.", "Lima, on the coast.", "The capital is Quito."]  # forgetting: vs base
    assert side.locator("del").inner_text() == "Lima" and side.locator("ins").inner_text() == "Quito"
    assert page.locator(".slices tr", has_text="geography").is_visible()

    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    ARTEFACT.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp_path / "report.png", ARTEFACT)
    print(f"screenshot: {tmp_path / 'report.png'} (copied to {ARTEFACT})")

    # filters: verdict, gate, flipped only; each hides what it should and says how many rows are left
    page.select_option("#f-verdict", "FAIL")
    assert [rows.nth(i).is_visible() for i in range(4)] == [False, False, False, True]
    assert page.locator("#f-count").inner_text() == "1 of 4 gate rows shown"
    page.select_option("#f-verdict", "")
    page.select_option("#f-gate", "task_baseline")
    assert [rows.nth(i).is_visible() for i in range(4)] == [True, False, True, False]
    assert page.locator("figure.trend-plot:visible").count() == 1
    assert not page.locator("table.side").is_visible()
    page.select_option("#f-gate", "")
    page.check("#f-flipped")
    assert [rows.nth(i).is_visible() for i in range(4)] == [False, False, False, True]
    assert "flipped=1" in page.url

    # the history page: every run, newest first, with its models' hashes and verdict; links resolve
    page.click("text=run history")
    history = page.locator("tr.run-row").all_inner_texts()
    assert len(history) == 3 and "20260103" in history[0] and "FAIL" in history[0]
    assert "63616e646964" in history[0]  # the candidate's content hash, as the synthetic run wrote it
    page.click("tr.run-row >> nth=0 >> text=results.json")
    assert '"run_id": "20260103T000000.000000Z-cccccc"' in page.content()

    assert errors == []
    assert all(url.startswith("file://") for url in requests), requests
