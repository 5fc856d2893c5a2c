"""`harness init` and the package data it and the gates read (found with importlib.resources, not the checkout)."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest

import harness
from harness.cli import main
from harness.errors import ConfigError
from harness.evalsets import evaluation_sets
from harness.lm_eval_bridge import WORLD_TASKS_DIR
from harness.resources import data_dir, jailbreaks_file, packaged_suite, packaged_world_dir
from harness.spec import load_suite
from harness.world import default_world_dir, load_manifest
from harness.yamlspec import read_yaml

CHECKOUT = Path(__file__).resolve().parents[1]


def test_runtime_data_resolves_inside_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    package = Path(str(importlib.resources.files("harness")))
    assert data_dir() == package / "data" and Path(harness.__file__).parent == package
    monkeypatch.delenv("HARNESS_WORLD_DIR", raising=False)
    assert default_world_dir() == packaged_world_dir()
    manifest = load_manifest(default_world_dir())
    assert {"fact", "arithmetic", "harmful", "benign", "task"} <= set(manifest.heldout)
    assert "roleplay" in read_yaml(jailbreaks_file())
    assert data_dir() / "lm_eval" == WORLD_TASKS_DIR and (WORLD_TASKS_DIR / "world_tasks.py").is_file()
    monkeypatch.setenv("HARNESS_WORLD_DIR", "/elsewhere")
    assert default_world_dir() == Path("/elsewhere")


def test_the_shipped_reference_suite_is_the_checkouts() -> None:
    shipped = packaged_suite("reference")
    assert shipped.read_bytes() == (CHECKOUT / "suites" / "test_reference.yaml").read_bytes(), (
        "suites/test_reference.yaml and harness/data/suites/test_reference.yaml differ: edit the checkout's and "
        "copy it with `cp suites/test_reference.yaml harness/data/suites/`"
    )


def test_world_generate_checks_the_packaged_world(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["world", "generate", "--check"]) == 0
    assert str(packaged_world_dir()) in capsys.readouterr().out


def test_init_scaffolds_a_repository_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    assert main(["init", str(repo), "--name", "shop"]) == 0
    out = capsys.readouterr().out
    written = {
        "suites/test_reference.yaml",
        "suites/test_shop.yaml",
        "suites/cases/shop.csv",
        "suites/cases/shop_general.jsonl",
        "suites/lm_eval/shop_choice.yaml",
        "suites/lm_eval/shop_choice.jsonl",
        "suites/lm_eval/shop_perplexity.yaml",
        "suites/lm_eval/shop_text.jsonl",
        "suites/lm_eval/tasks.py",
        "conftest.py",
        ".github/workflows/gate.yml",
    }
    assert {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()} == written
    assert all(f"wrote {repo / name}" in out for name in written)
    assert (repo / "suites" / "test_reference.yaml").read_bytes() == packaged_suite("reference").read_bytes()
    user = load_suite(repo / "suites" / "test_shop.yaml")
    assert user.name == "shop" and set(user.gates) == {"quality", "general", "retention"}
    assert "${name}" not in "".join(p.read_text() for p in repo.rglob("*") if p.is_file())
    sets = evaluation_sets([repo / "suites"])  # the CSV and JSONL cases, and the world's sets of the reference suite
    assert len(sets[str(repo / "suites" / "cases" / "shop.csv")]) == 8
    assert str(repo / "suites" / "cases" / "shop_general.jsonl") in sets
    workflow = read_yaml(repo / ".github" / "workflows" / "gate.yml")
    assert "pytest suites/ --model=candidate" in str(workflow["jobs"]["gate"]["steps"])


def test_the_workflow_gates_pull_requests_and_runs_the_nightly_job_with_caches(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    workflow = read_yaml(tmp_path / ".github" / "workflows" / "gate.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the key `on` as True
    assert {"pull_request", "schedule", "workflow_dispatch"} <= set(triggers)
    gate, nightly = workflow["jobs"]["gate"], workflow["jobs"]["nightly"]
    assert gate["if"] == "github.event_name == 'pull_request'"
    assert nightly["if"] == "github.event_name != 'pull_request'"

    def runs(job: dict) -> list[str]:
        return [step["run"] for step in job["steps"] if "run" in step]

    def cached(job: dict) -> dict[str, str]:
        return {step["with"]["path"]: step["uses"] for step in job["steps"] if "actions/cache" in step.get("uses", "")}

    assert any(r.startswith("pytest suites/ --model=candidate") and "--junitxml=" in r for r in runs(gate))
    assert "harness nightly --report-dir=reports" in runs(nightly)
    # the result cache and the baselines: restored for a pull request (which must not save baselines), saved nightly
    assert cached(gate) == {".harness": "actions/cache@v4", "suites/baselines": "actions/cache/restore@v4"}
    assert cached(nightly)[".harness"] == cached(nightly)["suites/baselines"] == "actions/cache@v4"
    assert workflow["env"]["HARNESS_HOME"] == ".harness"


def test_init_keeps_existing_files_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suites" / "test_reference.yaml"
    suite.parent.mkdir()
    suite.write_text("mine\n")
    assert main(["init", str(tmp_path)]) == 0
    assert suite.read_text() == "mine\n"
    assert f"kept {suite} (exists; --force overwrites it)" in capsys.readouterr().out
    assert (tmp_path / "suites" / "test_my_task.yaml").is_file()
    assert main(["init", str(tmp_path), "--force"]) == 0
    assert suite.read_bytes() == packaged_suite("reference").read_bytes()
    assert f"overwrote {suite}" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["My Task", "reference", "1st", "a/b"])
def test_init_refuses_bad_names(tmp_path: Path, name: str) -> None:
    from harness.scaffold import init

    with pytest.raises(ConfigError, match="suite name"):
        init(tmp_path, name)
