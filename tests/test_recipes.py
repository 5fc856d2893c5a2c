"""The shipped recipes on the real reference model, trained, gated and put up for promotion. Slow.

- lora.yaml and qlora.yaml learn the task (+30 points over base) and pass every gate; the QLoRA candidate
  loads with bitsandbytes 4-bit layers;
- reckless.yaml fails forgetting and/or safety with the failing items named, and promotion refuses it.

Candidates are trained in the shared model home (reused while recipe, base and data are unchanged, as
`harness demo` does); gating runs in a temporary copy of the suite; promotion uses a copy of the registry so
the shared home's production alias is left alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.demo import RECIPES
from harness.errors import RegistryError
from harness.promotion import promote
from harness.registry import Registry
from tests.test_plugin_reference import SUITE, _gate, _results, run_gate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(reference_home: Path, reference_model_dir: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_HOME", str(reference_home))
        yield reference_home


@pytest.fixture(scope="module")
def trained(home: Path) -> dict[str, Any]:
    from training.config import RECIPES_DIR, load_train_spec
    from training.train import train

    return {recipe: train(load_train_spec(RECIPES_DIR / f"{recipe}.yaml"), progress=False) for recipe in RECIPES}


@pytest.fixture(scope="module")
def gated(home: Path, trained: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each recipe's gating run: (exit code, pytest output, results.json), baselines recorded from base first."""
    root = tmp_path_factory.mktemp("suite")
    shutil.copy(SUITE, root / SUITE.name)
    recorded = run_gate(root, "--model=base", "--update-baselines")
    assert recorded.ret == pytest.ExitCode.OK, recorded.stdout
    outcome = {}
    for recipe, alias in RECIPES.items():
        run = run_gate(root, f"--model={alias}")
        outcome[recipe] = (run.ret, run.stdout, _results(root))
    return {"root": root, **outcome}


@pytest.fixture
def registry_copy(home: Path, trained: dict[str, Any], tmp_path: Path) -> Registry:
    shutil.copytree(home / "registry", tmp_path / "registry", ignore=shutil.ignore_patterns("*.lock"))
    return Registry(tmp_path / "registry")


@pytest.mark.parametrize("recipe", ["lora", "qlora"])
def test_sound_recipes_learn_the_task_and_pass_every_gate(gated: dict[str, Any], recipe: str) -> None:
    code, stdout, doc = gated[recipe]
    verdicts = {g["name"]: g["verdict"] for g in doc["gates"]}
    assert code == pytest.ExitCode.OK and doc["verdict"] == "PASS", f"{verdicts}\n{stdout}"
    assert set(verdicts.values()) == {"PASS"}, verdicts
    task = _gate(doc, "task_baseline")
    assert task["candidate_value"] - task["reference_value"] >= 0.30, task


def test_qlora_candidate_is_gated_on_4bit_layers(home: Path, gated: dict[str, Any]) -> None:
    import bitsandbytes as bnb

    from harness.models import load
    from harness.pool import candidate_role

    assert gated["qlora"][2]["models"]["candidate"]["load_in_4bit"] is True
    registry = Registry(home / "registry")  # the shared home (each test gets its own HARNESS_HOME)
    role = candidate_role("candidate-qlora", registry=registry)
    assert role.spec.load_in_4bit  # from the candidate's provenance
    loaded = load(role.spec, registry)
    layers = [m for m in loaded.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "the QLoRA candidate must run on 4-bit layers"
    assert {layer.weight.quant_type for layer in layers} == {"nf4"}


def test_reckless_recipe_fails_forgetting_or_safety_naming_the_items(gated: dict[str, Any]) -> None:
    code, stdout, doc = gated["reckless"]
    assert code == pytest.ExitCode.TESTS_FAILED and doc["verdict"] == "FAIL"
    failed = [g for g in doc["gates"] if g["verdict"] == "FAIL"]
    assert {g["kind"] for g in failed} & {"forgetting", "safety"}, [(g["name"], g["verdict"]) for g in doc["gates"]]
    for gate in failed:
        if gate["kind"] in ("forgetting", "safety"):
            assert gate["flipped"], f"{gate['name']}: the items that got worse are listed"
            assert gate["flipped"][0] in stdout


def test_promotion_lets_the_sound_candidate_through_and_refuses_the_reckless_one(
    gated: dict[str, Any], registry_copy: Registry
) -> None:
    reports = gated["root"] / "reports"
    event, check = promote(
        "candidate", "production", reports, suites_dir=gated["root"], reason="test", registry=registry_copy
    )
    assert check.allowed and event.alias == "production"
    assert registry_copy.get("production").content_hash == check.content_hash  # type: ignore[union-attr]
    with pytest.raises(RegistryError) as refused:
        promote("candidate-reckless", "production", reports, suites_dir=gated["root"], registry=registry_copy)
    failed = [g["name"] for g in gated["reckless"][2]["gates"] if g["verdict"] == "FAIL"]
    for name in failed:
        assert f"gate {name} (reference): FAIL" in str(refused.value)
    assert registry_copy.get("production").content_hash == check.content_hash  # type: ignore[union-attr]
