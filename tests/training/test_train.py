"""harness train end to end on a tiny random base model: LoRA, QLoRA and full fine-tuning, provenance,
registration, reuse, --resume, divergence, and merge. Seconds each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.models import ModelSpec, load
from harness.registry import Registry
from training.config import load_train_spec
from training.train import TrainingError, train

NAMES = ["Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lu", "Mo", "Ned", "Oz", "Pia"]


def _rows(names: list[str], prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "messages": [
                {"role": "user", "content": f"Greet {n}, guest {i}, please."},
                {"role": "assistant", "content": f"Hello {n}, guest {i}!"},
            ],
        }
        for i, n in enumerate(names)
    ]


def write_spec(
    root: Path, base: Path, *, method: str = "lora", extra: str = "", lr: float = 0.01, steps: int = 6
) -> Path:
    (root / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows((NAMES * 3)[:40], "t")))
    (root / "val.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows(["Quin", "Rex", "Sol", "Tia"], "v")))
    spec = root / f"{method}.yaml"
    spec.write_text(
        f"name: tiny-{method}\nbase_model: {base}\nmethod: {method}\n"
        "data: {train: train.jsonl, validation: val.jsonl, max_length: 64, near_duplicate_threshold: null}\n"
        f"lora: {{r: 4, alpha: 8, target_modules: [q_proj, v_proj]}}\n"
        f"training: {{max_steps: {steps}, learning_rate: {lr}, batch_size: 8, eval_every: 2, early_stopping: null}}\n"
        + extra
    )
    return spec


@pytest.fixture
def base(tiny_model_dir: Path) -> Path:
    return tiny_model_dir


def test_lora_candidate_has_adapter_provenance_and_alias(tmp_path: Path, base: Path) -> None:
    spec = load_train_spec(write_spec(tmp_path, base))
    result = train(spec, progress=False, log=lambda _: None)
    out = result.candidate_dir
    assert (out / "adapter_model.safetensors").is_file() and (out / "adapter_config.json").is_file()
    prov = json.loads((out / "candidate.json").read_text())
    assert prov["base_model"]["path"] == str(base) and prov["method"] == "lora" and not prov["load_in_4bit"]
    for key in ("data", "config", "seed", "curves", "preflight", "packages", "git_commit"):
        assert key in prov
    assert prov["data"]["n_train"] == 40 and len(prov["data"]["hash"]) == 64
    assert prov["curves"]["train"] and prov["curves"]["validation"]
    assert "memory_gib" in prov["preflight"]
    event = Registry().require("candidate")
    assert event.path == str(out)
    loaded = load(ModelSpec("candidate"))
    assert loaded.resolved.kind == "adapter" and loaded.content_hash == event.content_hash


def test_an_identical_run_is_reused_and_resume_continues(tmp_path: Path, base: Path) -> None:
    spec = load_train_spec(write_spec(tmp_path, base))
    first = train(spec, progress=False, log=lambda _: None)
    assert train(spec, progress=False, log=lambda _: None).reused
    logs: list[str] = []
    resumed = train(spec, resume=True, progress=False, log=logs.append)
    assert not resumed.reused and resumed.candidate_dir == first.candidate_dir
    assert any(line.startswith("resuming from") and "checkpoint-" in line for line in logs)
    # the curves cover the whole run, not only the part after the checkpoint
    assert resumed.provenance["curves"]["train"][0] == first.provenance["curves"]["train"][0]
    assert len(resumed.provenance["curves"]["validation"]) >= len(first.provenance["curves"]["validation"])


def test_force_will_not_retrain_a_directory_another_alias_points_to(tmp_path: Path, base: Path) -> None:
    spec = load_train_spec(write_spec(tmp_path, base))
    first = train(spec, progress=False, log=lambda _: None)
    Registry().set("production", first.candidate_dir, content_hash=None, reason="test")
    with pytest.raises(TrainingError, match=r"production points to it; give the recipe another `name:`"):
        train(spec, force=True, progress=False, log=lambda _: None)
    assert (first.candidate_dir / "candidate.json").is_file(), "nothing was deleted"


def test_resume_without_checkpoints_says_so(tmp_path: Path, base: Path) -> None:
    spec = load_train_spec(write_spec(tmp_path, base))
    with pytest.raises(TrainingError, match=r"no checkpoint in .*run without --resume"):
        train(spec, resume=True, progress=False, log=lambda _: None)


def test_an_exploding_run_stops_with_a_clear_message_and_registers_nothing(tmp_path: Path, base: Path) -> None:
    unstable = (
        "training: {max_steps: 12, learning_rate: 50.0, batch_size: 8, eval_every: 2, early_stopping: null, "
        "max_grad_norm: 0.0, explosion_factor: 2.0}\n"
    )
    spec = load_train_spec(write_spec(tmp_path, base, method="full", lr=50.0, steps=12, extra=unstable))
    with pytest.raises(
        TrainingError, match=r"(exploded|became nan|became inf).*lower training.learning_rate \(now 50\)"
    ):
        train(spec, progress=False, log=lambda _: None)
    assert Registry().get("candidate") is None


def test_qlora_trains_on_4bit_layers_and_records_it(tmp_path: Path, base: Path) -> None:
    import bitsandbytes as bnb

    spec = load_train_spec(write_spec(tmp_path, base, method="qlora"))
    result = train(spec, progress=False, log=lambda _: None)
    assert result.provenance["load_in_4bit"]
    loaded = load(ModelSpec(str(result.candidate_dir), load_in_4bit=True))
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in loaded.model.modules())
    curve = [v for _, v in result.provenance["curves"]["train"]]
    assert curve[-1] < curve[0], "QLoRA learns"


def test_full_fine_tuning_saves_a_whole_model(tmp_path: Path, base: Path) -> None:
    result = train(load_train_spec(write_spec(tmp_path, base, method="full")), progress=False, log=lambda _: None)
    assert (result.candidate_dir / "model.safetensors").is_file()
    assert load(ModelSpec(str(result.candidate_dir))).resolved.kind == "model"


def test_cli_train_prints_the_candidate_directory_last(
    tmp_path: Path, base: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(write_spec(tmp_path, base)), "--quiet"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert Path(lines[-1]).is_dir() and (Path(lines[-1]) / "candidate.json").is_file()
    assert any("advice:" in line for line in lines), "the preflight summary is printed before training"


def test_merge_writes_a_plain_model_with_the_adapters_outputs(tmp_path: Path, base: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    result = train(load_train_spec(write_spec(tmp_path, base)), progress=False, log=lambda _: None)
    assert main(["merge", "candidate", "--out", str(tmp_path / "merged")]) == 0
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "merged")
    adapter = load(ModelSpec(str(result.candidate_dir)))
    ids = adapter.tokenizer("Greet Ada please.", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(merged(ids).logits, adapter.model(ids).logits, atol=1e-4)
    assert main(["merge", "candidate", "--out", str(tmp_path / "merged")]) == 2, "a non-empty target is refused"


def test_replay_answered_by_the_base_model_is_what_the_base_says(tmp_path: Path, base: Path) -> None:
    from transformers import AutoTokenizer

    from harness.models import resolve
    from harness.run import DecodingSettings, generate
    from harness.world import default_world_dir, load_manifest
    from training.data.distill import is_replay, prompt_case
    from training.data.replay import load_replay_pool
    from training.train import prepare_data

    path = write_spec(tmp_path, base)
    replay = "replay_fraction: 0.25, replay_replies: base, replay_reply_tokens: 12}"
    path.write_text(
        path.read_text().replace("near_duplicate_threshold: null}", f"near_duplicate_threshold: null, {replay}")
    )
    spec = load_train_spec(path)
    data = prepare_data(spec, AutoTokenizer.from_pretrained(str(base)), resolve(ModelSpec(spec.base_model)))
    replayed = [e for e in data.train if is_replay(e)]
    assert len(replayed) + len(data.replay_dropped) == 10  # 0.25 of the 40 task examples
    pool = {e.id: e for e in load_replay_pool(load_manifest(default_world_dir()))}
    said = generate(
        load(ModelSpec(spec.base_model)), [prompt_case(e) for e in replayed], DecodingSettings(max_new_tokens=12)
    )
    assert [e.messages[-1][1] for e in replayed] == [s.strip() for s in said]
    assert all(e.messages[:-1] == pool[e.id].messages[:-1] for e in replayed), "the prompts are the pool's"
    result = train(spec, progress=False, log=lambda _: None)
    prov = json.loads((result.candidate_dir / "candidate.json").read_text())
    assert prov["data"]["replay_replies"] == "base"
    assert prov["data"]["n_replay"] == len(replayed) and prov["data"]["replay_dropped"] == list(data.replay_dropped)
    answered = prov["data"]["replay_answered"]  # per category: asked of the base, and dropped unfinished
    assert sum(c["answered"] for c in answered.values()) == 10
    assert sum(c["dropped"] for c in answered.values()) == len(data.replay_dropped)
