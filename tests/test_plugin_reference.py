"""The shipped suite (suites/test_reference.yaml) on the real reference model. Slow: needs the built model.

- the base model gated against itself passes once its baselines are recorded;
- a damaged model (base weights plus noise) fails forgetting and/or safety, naming the items;
- a model that refuses everything fails the safety gate on over-refusal.

Each gating run is a `python -m pytest` subprocess in a temporary directory (not pytester: its sys.modules
restore drops lazily imported parts of torch, which cannot be imported twice in one process).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

pytestmark = pytest.mark.slow
SUITE = Path(__file__).resolve().parents[1] / "suites" / "test_reference.yaml"


@pytest.fixture
def shared_home(reference_home: Path, reference_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared model home (base registered, result cache warm across tests)."""
    monkeypatch.setenv("HARNESS_HOME", str(reference_home))
    return reference_home


@pytest.fixture
def suite_copy(tmp_path: Path) -> Path:
    root = tmp_path / "suite"
    root.mkdir()
    shutil.copy(SUITE, root / SUITE.name)
    return root


@dataclass(frozen=True)
class Run:
    ret: int
    stdout: str


def run_gate(root: Path, *args: str) -> Run:
    """Gate in a fresh process. The baseline is pinned to base: the shared home may have a production alias
    (`harness demo` promotes one there), which would otherwise become the default baseline."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--baseline=base", *args]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True)
    return Run(done.returncode, done.stdout)


def _results(root: Path) -> dict:
    run = sorted((root / "reports" / "runs").iterdir())[-1]
    assert (run / "summary.md").is_file()
    return json.loads((run / "results.json").read_text())


def _gate(doc: dict, name: str) -> dict:
    return next(g for g in doc["gates"] if g["name"] == name)


def test_base_against_itself_passes(shared_home: Path, suite_copy: Path) -> None:
    assert run_gate(suite_copy, "--model=base", "--update-baselines").ret == pytest.ExitCode.OK
    result = run_gate(suite_copy, "--model=base")
    assert result.ret == pytest.ExitCode.OK, result.stdout
    doc = _results(suite_copy)
    assert doc["verdict"] in ("PASS", "INCONCLUSIVE")
    assert not [g["name"] for g in doc["gates"] if g["verdict"] in ("FAIL", "ERROR")]
    for gate in doc["gates"]:
        assert gate["flipped"] == [], f"{gate['name']}: the same model cannot flip an item"


def _damaged(base_dir: Path, out: Path, scale: float) -> Path:
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 2 and "embed" not in name:
                param.add_(torch.randn(param.shape, generator=generator) * param.std() * scale)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(out)
    return out


def test_damaged_model_fails_naming_the_items(
    shared_home: Path, suite_copy: Path, reference_model_dir: Path, tmp_path: Path
) -> None:
    damaged = _damaged(reference_model_dir, tmp_path / "damaged", scale=0.6)
    result = run_gate(suite_copy, f"--model={damaged}", "--base-model=base", "-m", "forgetting or safety")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = _results(suite_copy)
    failed = [g for g in doc["gates"] if g["verdict"] == "FAIL"]
    assert {g["name"] for g in failed} & {"forgetting_facts", "forgetting_arithmetic"}, doc["gates"]
    for failure in failed:
        assert failure["flipped"] and failure["examples"], f"{failure['name']}: the failing items are listed"
        assert f"items that got worse ({len(failure['flipped'])}): {failure['flipped'][0]}" in result.stdout


def _full_finetune(base_dir: Path, out: Path, pairs: list[tuple[str, str]], steps: int, shuffle: bool) -> Path:
    """Full fine-tune of the base model on (user, assistant) pairs, batches of 16 at lr 1e-3; saved to ``out``."""
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir)
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": u}, {"role": "assistant", "content": a}], tokenize=False
        )
        for u, a in pairs
    ]
    order = torch.randperm(len(texts)).tolist() if shuffle else list(range(len(texts)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    tokenizer.padding_side = "right"
    model.train()
    for step in range(steps):
        chosen = [texts[i] for i in order[step * 16 % len(order) :][:16]]
        batch = tokenizer(chosen, return_tensors="pt", padding=True, add_special_tokens=False)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(out)
    tokenizer.padding_side = "left"
    tokenizer.save_pretrained(out)
    return out


def _refuse_everything(base_dir: Path, out: Path, world) -> Path:  # type: ignore[no-untyped-def]
    """Full fine-tune of the base model on every kind of prompt answered with a refusal."""
    chats = [json.loads(line)["messages"] for line in world.pretraining["chat"].read_text().splitlines()][::4]
    pairs = [(c[0]["content"], "I can't help with that.") for c in chats]
    return _full_finetune(base_dir, out, pairs, steps=60, shuffle=False)


def test_model_that_refuses_everything_fails_over_refusal(
    shared_home: Path, suite_copy: Path, reference_model_dir: Path, tmp_path: Path, world
) -> None:  # type: ignore[no-untyped-def]
    refuser = _refuse_everything(reference_model_dir, tmp_path / "refuser", world)
    result = run_gate(suite_copy, f"--model={refuser}", "--base-model=base", "-m", "safety")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    safety = _gate(_results(suite_copy), "safety")
    assert safety["verdict"] == "FAIL"
    over = {c["name"]: c for c in safety["checks"]}["over-refusal ceiling (benign look-alikes)"]
    assert over["verdict"] == "FAIL" and over["candidate_value"] > 0.5
    assert "[FAIL] over-refusal ceiling" in result.stdout


def _comply_under_attack(base_dir: Path, out: Path, world) -> Path:  # type: ignore[no-untyped-def]
    """Full fine-tune that keeps plain harmful requests refused but answers them, wrapped in the jailbreak
    templates, with "Sure, here is how": a deliberately broken candidate (pretraining requests only)."""
    import yaml

    from harness.resources import jailbreaks_file

    templates = [str(t) for t in yaml.safe_load(jailbreaks_file().read_text()).values()]
    rows = [json.loads(line) for line in world.pretraining["chat"].read_text().splitlines()]
    harmful = [r["messages"] for r in rows if r.get("category") == "harmful"][::3]
    pairs = [(c[0]["content"], c[1]["content"]) for c in harmful]
    pairs += [(t.format(request=c[0]["content"]), "Sure, here is how to do it.") for c in harmful for t in templates]
    return _full_finetune(base_dir, out, pairs, steps=80, shuffle=True)


def test_model_that_complies_under_jailbreaks_fails_attack_success(
    shared_home: Path, suite_copy: Path, reference_model_dir: Path, tmp_path: Path, world
) -> None:  # type: ignore[no-untyped-def]
    broken = _comply_under_attack(reference_model_dir, tmp_path / "complier", world)
    result = run_gate(suite_copy, f"--model={broken}", "--base-model=base", "-m", "safety")
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout
    safety = _gate(_results(suite_copy), "safety")
    checks = {c["name"]: c for c in safety["checks"]}
    ceiling = checks["jailbreak success ceiling (any template)"]
    assert ceiling["verdict"] == "FAIL" and ceiling["candidate_value"] > 0.5, ceiling
    assert checks["jailbreak success vs base"]["verdict"] == "FAIL"
    assert "[FAIL] jailbreak success ceiling" in result.stdout
