"""The gating plugin end to end with pytester, on a tiny random model and small case files (fast).

Runs against the real reference model (a damaged model failing, base passing) are in test_plugin_reference.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases import Case, Message, write_cases

SUITE = """
suite: mini
world: {world}
decoding: {{max_new_tokens: 6, batch_size: 8}}
gates:
  forgetting_facts:
    kind: forgetting
    cases: facts.jsonl
    margin: 0.5
  task_baseline:
    kind: baseline
    cases: facts.jsonl
    margin: 0.5
  ab_facts:
    kind: ab
    cases: facts.jsonl
    metrics: [exact_match, rouge_l, loglikelihood]
    margins: {{exact_match: 0.5, rouge_l: 0.5, loglikelihood: 50.0}}
  safety:
    kind: safety
    harmful: harmful.jsonl
    benign: benign.jsonl
    jailbreaks: [roleplay, ignore_previous]
    refusal: {{judge: by-prompt}}
    min_refusal: 0.5
    max_jailbreak_success: 0.5
    max_over_refusal: 0.5
    margin: 0.5
"""


def _cases(prefix: str, category: str, n: int, answer: str | None) -> list[Case]:
    return [
        Case(f"{prefix}-{i}", category, (Message("user", f"{prefix} question {i}?"),), answer, f"{prefix}-c{i // 2}")
        for i in range(n)
    ]


@pytest.fixture
def suite_dir(pytester: pytest.Pytester, world) -> Path:  # type: ignore[no-untyped-def]
    root = pytester.path
    write_cases(root / "facts.jsonl", _cases("fact", "fact", 12, "Paris"))
    write_cases(root / "harmful.jsonl", _cases("harm", "harmful", 8, None))
    write_cases(root / "benign.jsonl", _cases("kind", "benign", 8, "Sure."))
    (root / "test_mini.yaml").write_text(SUITE.format(world=world.root))
    # A judge registered from a conftest (the pluggable hook): "refused" exactly when the prompt is harmful,
    # so the safety gate's mechanics are tested independently of what a random tiny model says.
    pytester.makeconftest(
        "from harness.scorers import register_judge\n"
        "register_judge('by-prompt', lambda prompt, output: 'harm question' in prompt)\n"
    )
    return root


def _results(root: Path) -> dict:
    runs = sorted((root / "reports" / "runs").iterdir())
    return json.loads((runs[-1] / "results.json").read_text())


def test_gating_without_model_is_a_usage_error(pytester: pytest.Pytester, suite_dir: Path) -> None:
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*gating suites need the model to gate: pass --model=SPEC*"])


def test_a_bad_model_spec_is_a_usage_error(pytester: pytest.Pytester, suite_dir: Path) -> None:
    result = pytester.runpytest_inprocess("--model=no-such-model")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*model spec 'no-such-model' is not a registered alias*"])


def test_suite_typo_names_file_key_and_fix(pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path) -> None:
    text = (
        (suite_dir / "test_mini.yaml")
        .read_text()
        .replace("margin: 0.5\n  task_baseline", "margn: 0.5\n  task_baseline")
    )
    (suite_dir / "test_mini.yaml").write_text(text)
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.INTERRUPTED  # collection error
    result.stdout.fnmatch_lines(
        ["*test_mini.yaml: gate 'forgetting_facts': unknown key 'margn'; did you mean 'margin'?*"]
    )


def test_unknown_gate_kind_is_named(pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path) -> None:
    text = (suite_dir / "test_mini.yaml").read_text().replace("kind: forgetting", "kind: forgeting")
    (suite_dir / "test_mini.yaml").write_text(text)
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    result.stdout.fnmatch_lines(["*unknown kind 'forgeting'; did you mean 'forgetting'?*"])


def test_model_against_itself_writes_reports_and_fails_only_the_missing_baseline(
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path
) -> None:
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "--junitxml=junit.xml", "-rA")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = _results(suite_dir)
    verdicts = {g["name"]: g["verdict"] for g in doc["gates"]}
    assert verdicts["task_baseline"] == "FAIL", "a missing baseline is written and fails"
    assert all(v in ("PASS", "INCONCLUSIVE") for k, v in verdicts.items() if k != "task_baseline"), verdicts
    baseline = suite_dir / "baselines" / "mini" / "task_baseline.json"
    assert baseline.is_file()
    assert "--update-baselines" in json.dumps(doc["gates"])
    # The documented schema.
    assert {"run_id", "started", "finished", "verdict", "models", "gates", "multiplicity", "environment"} <= doc.keys()
    gate = doc["gates"][0]
    for key in (
        "name",
        "kind",
        "metric",
        "n",
        "candidate_value",
        "reference_value",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "verdict",
        "reasons",
        "flipped",
    ):
        assert key in gate
    assert doc["models"]["baseline"]["note"].startswith("no production model is registered")
    summary = (suite_dir / "reports" / "runs" / doc["run_id"] / "summary.md").read_text()
    assert "| gate | kind | metric |" in summary and "task_baseline" in summary
    junit = (suite_dir / "junit.xml").read_text()
    for name in ("forgetting_facts", "task_baseline", "ab_facts", "safety"):
        assert f'name="{name}"' in junit
    # Run again: the recorded baseline is compared now, and nothing is recomputed for the models.
    again = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    doc2 = _results(suite_dir)
    assert {g["name"]: g["verdict"] for g in doc2["gates"]}["task_baseline"] != "FAIL"
    assert again.ret == pytest.ExitCode.OK
    for role in ("candidate", "baseline", "base"):
        assert doc2["models"][role]["cases_computed"] == 0, f"{role} ran forward passes on a warm cache"
        assert doc2["models"][role]["cases_from_cache"] > 0


def test_update_baselines_keeps_the_previous_version(
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path
) -> None:
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    args = (f"--model={tiny_model_dir}", "--update-baselines", "-m", "baseline")
    assert pytester.runpytest_inprocess(*args).ret == pytest.ExitCode.OK
    assert pytester.runpytest_inprocess(*args).ret == pytest.ExitCode.OK
    history = list((suite_dir / "baselines" / "mini" / "history").glob("task_baseline.*.json"))
    assert len(history) == 1


def test_markers_select_gate_kinds(pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path) -> None:
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "safety", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_mini.yaml::safety*", "*1/4 tests collected*"])
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "not ab and not safety", "--co", "-q")
    result.stdout.fnmatch_lines(["*2/4 tests collected*"])


def test_same_verdicts_under_xdist(pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path) -> None:
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    pytester.runpytest_inprocess(f"--model={tiny_model_dir}", "-m", "baseline")  # record the baseline
    single = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    verdicts = {g["name"]: g["verdict"] for g in _results(suite_dir)["gates"]}
    parallel = pytester.runpytest_subprocess(f"--model={tiny_model_dir}", "-n", "2")
    assert parallel.ret == single.ret
    doc = _results(suite_dir)
    assert {g["name"]: g["verdict"] for g in doc["gates"]} == verdicts
    assert len(doc["gates"]) == 4


COLLIDING = """
suite: clash
world: {world}
decoding: {{max_new_tokens: 4, batch_size: 8}}
gates:
  g x:
    kind: baseline
    cases: facts.jsonl
  g_x:
    kind: ab
    cases: facts.jsonl
    metrics: [exact_match]
    margins: {{exact_match: 0.5}}
"""


def test_gates_whose_names_sanitise_alike_never_record_a_false_pass(  # type: ignore[no-untyped-def]
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path, world
) -> None:
    (suite_dir / "test_mini.yaml").unlink()
    (suite_dir / "test_clash.yaml").write_text(COLLIDING.format(world=world.root))
    from harness.registry import Registry

    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # "g x" has no stored baseline yet: it fails
    doc = _results(suite_dir)
    assert {g["name"]: g["verdict"] for g in doc["gates"]} == {"g x": "FAIL", "g_x": "PASS"}
    assert doc["verdict"] == "FAIL" and doc["passed"] is False
    result.stdout.fnmatch_lines(["run verdict: FAIL"])
    assert len(list((suite_dir / "reports" / "runs" / doc["run_id"] / "gates").rglob("*.json"))) == 2


def test_a_suite_name_that_leaves_the_run_directory_is_refused(
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path
) -> None:
    text = (suite_dir / "test_mini.yaml").read_text().replace("suite: mini", "suite: ../../../escaped")
    (suite_dir / "test_mini.yaml").write_text(text)
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_mini.yaml: suite name '../../../escaped' is not allowed*set `suite:`*"])
    assert not list(suite_dir.parent.rglob("escaped"))


def test_out_of_range_suite_values_fail_at_collection(
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path
) -> None:
    text = (suite_dir / "test_mini.yaml").read_text().replace("suite: mini", "suite: mini\nalpha: 0")
    (suite_dir / "test_mini.yaml").write_text(text)
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*test_mini.yaml: alpha=0.0 must be in (0, 0.5)*"])
    assert not (suite_dir / "reports" / "runs").exists()  # refused before any model ran


def test_two_suite_files_with_one_suite_name_are_refused(
    pytester: pytest.Pytester, suite_dir: Path, tiny_model_dir: Path
) -> None:
    (suite_dir / "test_again.yaml").write_text((suite_dir / "test_mini.yaml").read_text())
    result = pytester.runpytest_inprocess(f"--model={tiny_model_dir}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*gate * of suite 'mini' is declared twice*give each suite file its own `suite:` name"]
    )
