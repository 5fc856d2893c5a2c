"""`harness ab analyze`: validation of the log, the split check, the outcome and latency tests, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.abtest import ABConfig, analyze, read_log
from harness.cli import main
from harness.errors import DataError


def _log(
    path: Path,
    n: tuple[int, int] = (1500, 1500),
    rate: tuple[float, float] = (0.8, 0.8),
    latency: tuple[float, float] = (200.0, 200.0),
    seed: int = 0,
) -> Path:
    rng = np.random.default_rng(seed)
    rows = []
    for arm, count, p, ms in zip(("A", "B"), n, rate, latency, strict=True):
        for i in range(count):
            rows.append(
                {
                    "request_id": f"{arm}-{i}",
                    "variant": arm,
                    "outcome": int(rng.random() < p),
                    "latency_ms": float(rng.gamma(9.0, ms / 9.0)),
                }
            )
    rng.shuffle(rows)  # type: ignore[arg-type]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_equal_arms_pass(tmp_path: Path) -> None:
    report = analyze(_log(tmp_path / "log.jsonl"), ABConfig(margin=0.05, latency_margin=0.10))
    assert report["verdict"] == "PASS", report["reasons"]
    assert [c["verdict"] for c in report["checks"]] == ["PASS", "PASS", "PASS"]
    assert report["checks"][0]["test"].startswith("Newcombe")


def test_a_worse_treatment_fails_on_outcome_and_latency(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl", rate=(0.8, 0.6), latency=(200.0, 300.0))
    report = analyze(log, ABConfig(margin=0.05, latency_margin=0.10))
    assert report["verdict"] == "FAIL"
    assert [c["verdict"] for c in report["checks"]] == ["FAIL", "FAIL", "FAIL"]
    assert report["checks"][1]["difference_ms"] > 50


def test_sample_ratio_mismatch_refuses_a_verdict(tmp_path: Path) -> None:
    report = analyze(_log(tmp_path / "log.jsonl", n=(1500, 1200)), ABConfig(margin=0.05))
    assert report["verdict"] == "ERROR" and report["split"]["mismatch"] and not report["checks"]
    assert "Sample ratio mismatch" in report["reasons"][0]
    # The same counts are fine when that split was declared.
    assert not analyze(tmp_path / "log.jsonl", ABConfig(margin=0.05, split=(5, 4)))["split"]["mismatch"]


def test_a_small_test_is_inconclusive_and_says_how_many_rows_are_needed(tmp_path: Path) -> None:
    report = analyze(_log(tmp_path / "log.jsonl", n=(60, 60), rate=(0.8, 0.8)), ABConfig(margin=0.05))
    outcome = report["checks"][0]
    assert outcome["verdict"] == "INCONCLUSIVE" and report["verdict"] == "INCONCLUSIVE"
    assert outcome["rows_needed"] > 0 and outcome["rows_total"] == outcome["rows_needed"] + 120


def test_ratings_use_welch(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = [
        {"request_id": f"r{i}", "variant": "control" if i % 2 else "treatment", "rating": int(rng.integers(3, 6))}
        for i in range(2000)
    ]
    (tmp_path / "r.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = analyze(tmp_path / "r.jsonl", ABConfig(margin=0.2))
    assert report["checks"][0]["test"] == "Welch t" and "mann_whitney_p_two_sided" in report["checks"][0]["secondary"]
    assert report["verdict"] == "PASS" and len(report["checks"]) == 1  # no latency in this log


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"request_id": "a", "variant": "A", "outcome": 1}, {"request_id": "a", "variant": "B", "outcome": 0}],
            r"log.jsonl:2: duplicate request_id 'a' \(first at .*log.jsonl:1\)",
        ),
        ([{"request_id": "a", "variant": "A", "outcome": 2}], r"log.jsonl:1: outcome=2 must be 0, 1"),
        (
            [{"request_id": "a", "variant": "A", "outcome": 1}, {"request_id": "b", "variant": "B", "rating": 3}],
            r"log.jsonl:2: has 'rating' but earlier rows have 'outcome'",
        ),
        (
            [{"request_id": "a", "variant": "A", "outcome": 1, "latency_ms": -3}],
            r"log.jsonl:1: latency_ms=-3.0 must be > 0",
        ),
        (
            [{"request_id": "a", "variant": "A", "outcome": 1, "latncy_ms": 3}],
            r"log.jsonl:1: unknown field\(s\) \['latncy_ms'\]",
        ),
        ([{"variant": "A", "outcome": 1}], r"log.jsonl:1: 'request_id' is missing"),
    ],
)
def test_bad_rows_name_the_line_and_the_fix(tmp_path: Path, rows: list[dict[str, object]], message: str) -> None:
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=message):
        read_log(tmp_path / "log.jsonl")


def test_unknown_variants_ask_for_control_and_treatment(tmp_path: Path) -> None:
    rows = [{"request_id": str(i), "variant": "old" if i % 2 else "new", "outcome": 1} for i in range(10)]
    (tmp_path / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"variants are \['new', 'old'\]: pass --control NAME --treatment NAME"):
        analyze(tmp_path / "log.jsonl", ABConfig())
    assert analyze(tmp_path / "log.jsonl", ABConfig(control="old", treatment="new"))["treatment"] == "new"


def test_cli_exit_codes_and_summaries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _log(tmp_path / "good.jsonl")
    assert main(["ab", "analyze", str(good), "--margin", "0.05", "--out", str(tmp_path / "out")]) == 0
    assert json.loads((tmp_path / "out" / "ab.json").read_text())["verdict"] == "PASS"
    assert "**PASS**" in (tmp_path / "out" / "ab.md").read_text()
    bad = _log(tmp_path / "bad.jsonl", rate=(0.8, 0.6))
    assert main(["ab", "analyze", str(bad), "--margin", "0.05", "--out", str(tmp_path / "out2")]) == 1
    assert main(["ab", "analyze", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["ab", "analyze", str(good), "--split", "fifty"]) == 2
    assert "--split 'fifty' is not two positive numbers" in capsys.readouterr().err
