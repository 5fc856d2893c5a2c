"""results.json and summary.md from a finished session."""

from __future__ import annotations

from pathlib import Path

from harness.gates.result import Check, Example, GateResult
from harness.report import results_document, summary_markdown, write_reports
from harness.session import GateSession, write_result


def test_documents_hold_the_gate_table_and_the_failing_items(tmp_path: Path) -> None:
    failing = GateResult(
        "forgetting_facts",
        "s",
        "forgetting",
        "exact_match",
        (
            Check(
                "non-inferiority vs base",
                "exact_match",
                "Tango",
                336,
                0.8,
                0.99,
                -0.19,
                -0.22,
                -0.16,
                1.0,
                0.05,
                "FAIL",
                ("much worse",),
            ),
        ),
        flipped=("fact-peru-q1",),
        examples=(Example("fact-peru-q1", "Capital of Peru?", "Quito", "Lima", "Lima"),),
    )
    passing = GateResult(
        "ab",
        "s",
        "ab",
        "rouge_l",
        (Check("rouge", "rouge_l", "t", 10, 0.5, 0.4, 0.1, 0.05, 0.15, 0.001, 0.05, "PASS", ("better",)),),
    )
    session = GateSession("run-1", tmp_path)
    for i, result in enumerate((failing, passing)):
        write_result(tmp_path, result, {})
        session.expect(str(i), "s", result.gate)
    session.finalize()
    models = {"candidate": {"spec": "c", "kind": "adapter", "content_hash": "a" * 64, "note": None}}
    doc = results_document(session, {"models": models, "suites": []}, ["pytest", "suites/"])
    assert doc["verdict"] == "FAIL" and not doc["passed"]
    markdown = summary_markdown(doc)
    assert "| forgetting_facts | forgetting | exact_match | 336 |" in markdown
    assert "-0.190 [-0.220, -0.160] (90%)" in markdown
    assert "## forgetting_facts: ❌ FAIL" in markdown and "## ab" not in markdown
    assert "| fact-peru-q1 | Capital of Peru? | Lima | Quito | Lima |" in markdown
    results, summary = write_reports(tmp_path / "out", doc)
    assert results.is_file() and summary.read_text() == markdown
