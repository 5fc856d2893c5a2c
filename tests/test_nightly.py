"""`harness nightly`: production against its stored baselines decides the exit status; candidates are only
reported. End to end on tiny models (each gating run is a pytest subprocess, as in CI)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.cases import Case, Message, write_cases
from harness.cli import main
from harness.nightly import candidate_aliases, production_regression
from harness.registry import Registry

SUITE = """
suite: mini
world: {world}
decoding: {{max_new_tokens: 4, batch_size: 8}}
multiplicity: none
gates:
  task_baseline:
    kind: baseline
    cases: facts.jsonl
    margin: 0.1
  safety:
    kind: safety
    harmful: harmful.jsonl
    refusal: {{judge: never-refuses}}
    min_refusal: 0.5
"""


def _gate(name: str, kind: str, verdict: str) -> dict[str, Any]:
    return {"name": name, "kind": kind, "verdict": verdict, "reasons": [f"[{verdict}] {name} said so"]}


def test_candidate_aliases_are_candidate_and_its_dashed_or_underscored_variants() -> None:
    aliases = ["base", "production", "candidate", "candidate-qlora", "candidate_b", "candidates", "staging"]
    assert candidate_aliases(aliases) == ["candidate", "candidate-qlora", "candidate_b"]


@pytest.mark.parametrize(
    "gates, status",
    [
        ([_gate("task", "baseline", "PASS"), _gate("safety", "safety", "FAIL")], 0),  # not against its baselines
        ([_gate("task", "baseline", "INCONCLUSIVE")], 0),  # no regression shown
        ([_gate("task", "baseline", "PASS"), _gate("task2", "baseline", "FAIL")], 1),
        ([_gate("task", "baseline", "ERROR")], 1),  # could not compare: fails closed
        ([_gate("forgetting", "forgetting", "PASS")], 2),  # nothing compared production with its baselines
    ],
)
def test_only_productions_baseline_gates_decide_the_status(gates: list[dict[str, Any]], status: int) -> None:
    assert production_regression({"gates": gates}).status == status


def test_a_production_run_without_results_fails_closed() -> None:
    outcome = production_regression(None)
    assert outcome.status == 2 and "wrote no results.json" in outcome.lines[0]


def test_without_a_production_alias_nightly_says_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "suites").mkdir()
    assert main(["nightly", "--suites", str(tmp_path / "suites"), "--report-dir", str(tmp_path / "r")]) == 2
    assert "no production alias is registered" in capsys.readouterr().err


def _suites(root: Path, world: Any) -> Path:
    suites = root / "suites"
    suites.mkdir()
    facts = [Case(f"fact-{i}", "fact", (Message("user", f"fact question {i}?"),), "Paris") for i in range(10)]
    write_cases(suites / "facts.jsonl", facts)
    harm = [Case(f"harm-{i}", "harmful", (Message("user", f"harm question {i}?"),), None) for i in range(6)]
    write_cases(suites / "harmful.jsonl", harm)
    (suites / "test_mini.yaml").write_text(SUITE.format(world=world.root))
    (suites / "conftest.py").write_text(
        "from harness.scorers import register_judge\nregister_judge('never-refuses', lambda prompt, output: False)\n"
    )
    return suites


def test_nightly_fails_only_when_production_regresses_against_its_stored_baselines(  # type: ignore[no-untyped-def]
    tmp_path: Path, world, tiny_model_dir: Path, tiny_adapter_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = Registry()
    for alias, path in (("base", tiny_model_dir), ("production", tiny_model_dir), ("candidate", tiny_adapter_dir)):
        registry.set(alias, path, content_hash=None, reason="test")
    registry.set("staging", tiny_adapter_dir, content_hash=None, reason="test: not a candidate alias")
    suites, reports = _suites(tmp_path, world), tmp_path / "reports"
    args = ["nightly", "--suites", str(suites), "--report-dir", str(reports)]

    # 1. no stored baseline yet: production could not be compared; one is recorded from production
    assert main([*args, "production"]) == 1
    assert "production regressed against its stored baselines: task_baseline" in capsys.readouterr().err
    assert (suites / "baselines" / "mini" / "task_baseline.json").is_file()

    # 2. production holds against it; every model fails the safety floor, the candidate is gated too: still 0
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "production holds against its stored baselines" in out and "staging" not in out
    runs = [json.loads(p.read_text()) for p in sorted(reports.glob("runs/*/results.json"))]
    latest = {run["models"]["candidate"]["spec"]: run for run in runs[1:]}
    assert set(latest) == {"production", "candidate"}
    assert latest["production"]["models"]["baseline"]["spec"] == "production"
    assert {g["name"]: g["verdict"] for g in latest["production"]["gates"]}["safety"] == "FAIL"
    assert latest["candidate"]["verdict"] == "FAIL"
    html = (reports / "index.html").read_text()
    assert "production (" in html and "candidate (" in html
    assert (reports / "history.html").read_text().count('<tr class="run-row">') == 3

    # 3. production now does worse than its stored record: a regression, exit 1
    stored = suites / "baselines" / "mini" / "task_baseline.json"
    table = json.loads(stored.read_text())
    table["rows"] = [{**row, "score": 1.0} for row in table["rows"]]
    stored.write_text(json.dumps(table))
    assert main([*args, "production"]) == 1
    err = capsys.readouterr().err
    assert "production task_baseline: FAIL" in err and "regressed against its stored baselines" in err
