"""A sequential A/B gate end to end with pytester, on a tiny random model: it stops early and says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases import Case, Message, write_cases

SUITE = """
suite: seq
world: {world}
decoding: {{max_new_tokens: 4, batch_size: 8}}
gates:
  ab_seq:
    kind: ab
    cases: facts.jsonl
    metrics: [exact_match, rouge_l]
    margins: {{exact_match: 0.5, rouge_l: 0.5}}
    sequential: true
    chunk: 10
"""


def test_identical_models_pass_before_the_last_item(  # type: ignore[no-untyped-def]
    pytester: pytest.Pytester, tiny_model_dir: Path, world
) -> None:
    from harness.registry import Registry

    cases = [Case(f"f-{i}", "fact", (Message("user", f"question {i}?"),), "Paris", None) for i in range(60)]
    write_cases(pytester.path / "facts.jsonl", cases)
    (pytester.path / "test_seq.yaml").write_text(SUITE.format(world=world.root))
    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.OK
    run = sorted((pytester.path / "reports" / "runs").iterdir())[-1]
    gate = json.loads((run / "results.json").read_text())["gates"][0]
    assert gate["verdict"] == "PASS"
    # Every difference is 0; the wealth against "worse by 0.5" grows by log(1 + 0.5 * 0.25) per item and passes
    # 1/alpha = 20 at item 26, so the gate stops at the third look, 30 of 60 items.
    for check in gate["checks"]:
        assert check["test"].startswith("betting confidence sequence")
        assert (check["details"]["n_used"], check["details"]["n_total"]) == (30, 60)
        assert check["n"] == 30 and check["p_value"] < 0.05
    assert any("stopped after 30 of 60 items" in reason for reason in gate["reasons"])
    summary = (run / "summary.md").read_text()
    assert "| ab_seq | ab | exact_match | 30 of 60 (sequential) |" in summary
