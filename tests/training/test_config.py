"""Training specs: the shipped recipes parse; mistakes name the key and the allowed values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, DataError
from harness.resources import packaged_suite
from training.config import RECIPES_DIR, bnb_config, load_train_spec, lora_config, training_arguments

RECIPES = RECIPES_DIR


@pytest.mark.parametrize("name, method", [("lora", "lora"), ("qlora", "qlora"), ("reckless", "full")])
def test_shipped_recipes_load(name: str, method: str) -> None:
    spec = load_train_spec(RECIPES / f"{name}.yaml")
    assert spec.method == method and spec.name == name
    assert spec.resolve(spec.data.train).name == "train.jsonl"
    # the packaged reference suite: the same in a checkout and installed from a wheel
    assert spec.leakage_paths() == [packaged_suite("reference")]


def test_train_may_list_several_files_and_one_file_keeps_its_hash(tmp_path: Path) -> None:
    one = tmp_path / "one.yaml"
    one.write_text("base_model: base\nmethod: lora\ndata: {train: task.jsonl}\n")
    spec = load_train_spec(one)
    assert spec.data.train == "task.jsonl" and spec.train_paths() == [tmp_path / "task.jsonl"]
    listed = tmp_path / "two.yaml"
    listed.write_text("base_model: base\nmethod: lora\ndata: {train: [task.jsonl, safety.jsonl]}\n")
    both = load_train_spec(listed)
    assert both.train_paths() == [tmp_path / "task.jsonl", tmp_path / "safety.jsonl"]
    assert both.content_hash() != spec.content_hash()
    # a spec naming one file hashes as before the list form existed (its candidates are not retrained)
    assert '"train": "task.jsonl"' in json.dumps(spec.to_dict()["data"])
    empty = tmp_path / "empty.yaml"
    empty.write_text("base_model: base\nmethod: lora\ndata: {train: []}\n")
    with pytest.raises(ConfigError, match=r"data\.train is empty"):
        load_train_spec(empty)


def test_leakage_suites_use_the_suite_rule_and_a_missing_path_is_named(tmp_path: Path, tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    from training.train import prepare_data

    private = tmp_path / "private"
    private.mkdir()
    question = {"role": "user", "content": "Name the secret city of the world."}
    held_out = {"id": "p1", "category": "task", "messages": [question], "answer": "Zorba"}
    (private / "cases.jsonl").write_text(json.dumps(held_out) + "\n")
    (private / "test_priv.yml").write_text("suite: priv\ngates:\n  f: {kind: forgetting, cases: cases.jsonl}\n")
    train = tmp_path / "train.jsonl"
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Question {i} about the weather?"},
                {"role": "assistant", "content": "Sunny."},
            ]
        }
        for i in range(6)
    ]
    leak = {
        "messages": [
            {"role": "user", "content": "Name the secret city of the world."},
            {"role": "assistant", "content": "Zorba"},
        ]
    }
    train.write_text("".join(json.dumps(r) + "\n" for r in [*rows, leak]))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "base_model: base\nmethod: lora\ndata: {train: train.jsonl, replay_fraction: 0, leakage_suites: [private]}\n"
    )
    spec = load_train_spec(recipe)
    assert spec.leakage_paths() == [private.resolve()]
    with pytest.raises(DataError, match=r"test_priv|cases.jsonl"):  # the .yml suite's cases are checked
        prepare_data(spec, tiny_tokenizer)

    recipe.write_text("base_model: base\nmethod: lora\ndata: {train: train.jsonl, leakage_suites: [../../suites]}\n")
    with pytest.raises(
        ConfigError, match=r"leakage_suites entry '../../suites' is .* which does not exist: .*suite:reference"
    ):
        load_train_spec(recipe).leakage_paths()
    (tmp_path / "empty").mkdir()
    recipe.write_text("base_model: base\nmethod: lora\ndata: {train: train.jsonl, leakage_suites: [empty]}\n")
    with pytest.raises(ConfigError, match=r"holds no gating suite"):
        load_train_spec(recipe).leakage_paths()
    recipe.write_text("base_model: base\nmethod: lora\ndata: {train: train.jsonl, leakage_suites: ['suite:nope']}\n")
    with pytest.raises(ConfigError, match=r"no shipped suite 'nope'.*shipped suites: .*reference"):
        load_train_spec(recipe).leakage_paths()


def test_recipes_map_onto_peft_bitsandbytes_and_trainer(tmp_path: Path) -> None:
    spec = load_train_spec(RECIPES / "qlora.yaml")
    lora = lora_config(spec)
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (16, 32, 0.05) and "down_proj" in lora.target_modules
    quant = bnb_config(spec)
    assert quant.load_in_4bit and quant.bnb_4bit_quant_type == "nf4" and quant.bnb_4bit_use_double_quant
    args = training_arguments(spec, tmp_path)
    assert args.eval_steps == args.save_steps == 40 and args.load_best_model_at_end
    assert args.lr_scheduler_type.value == "cosine" and args.learning_rate == 0.002
    reckless = training_arguments(load_train_spec(RECIPES / "reckless.yaml"), tmp_path)
    assert not reckless.load_best_model_at_end, "no early stopping in the reckless recipe"


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text, message",
    [
        ("data: {train: t.jsonl}\nmethod: qlora4\n", r"'qlora4' is not allowed; use one of 'lora', 'qlora', 'full'"),
        ("data: {train: t.jsonl}\ntraining: {learnin_rate: 0.1}\n", r"'learnin_rate'; did you mean 'learning_rate'"),
        ("data: {train: t.jsonl}\ntraining: {schedule: step}\n", r"'step' is not allowed; use one of 'cosine'"),
        ("data: {train: t.jsonl}\nlora: {r: 0}\n", r"lora.r=0 must be positive"),
        ("data: {train: t.jsonl}\ntraining: {batch_size: many}\n", r"training.batch_size: expected a whole number"),
        ("method: lora\n", r"missing required key 'data'"),
        ("data: {train: t.jsonl, replay_weights: {facts: 1}}\n", r"replay_weights: facts=1.0: categories are fact"),
        ("data: {train: t.jsonl, near_duplicate_threshold: 90}\n", r"near_duplicate_threshold=90.0 must be in \(0, 1"),
        ("data: {train: t.jsonl}\ntraining: {warmup: -1}\n", r"training.warmup=-1.0 must be >= 0"),
        ("data: {train: t.jsonl}\ntraining: {epochs: .inf}\n", r"training.epochs=inf must be positive and finite"),
        ("data: {train: t.jsonl}\ntraining: {max_grad_norm: .inf}\n", r"training.max_grad_norm=inf must be a finite"),
        ("data: {train: t.jsonl}\nname: ../escape\n", r"name='../escape': use letters"),
        ("data: {train: t.jsonl}\nregister_as: Prod\n", r"register_as: alias 'Prod' is not valid"),
        ("data: {train: t.jsonl, replay_replies: base}\n", r"replay_replies: base answers .* but replay_fraction is 0"),
        ("data: {train: t.jsonl, replay_keep: [refusals]}\n", r"replay_keep names \['refusals'\]: categories are fact"),
        ("data: {train: t.jsonl, replay_replies: model}\n", r"replay_replies.*pool.*base"),
        (
            "data: {train: t.jsonl, replay_fraction: 0.5, replay_holdout: true}\n",
            r"replay_holdout .* needs .*leakage_suites",
        ),
        ("data: {train: world:tarin}\n", None),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, message: str | None) -> None:
    path = _spec(tmp_path, text)
    if message is None:  # a bad world split is caught when the path is resolved
        spec = load_train_spec(path)
        with pytest.raises(ConfigError, match=r"world:tarin.*task splits are \['test', 'train', 'validation'\]"):
            spec.resolve(spec.data.train)
        return
    with pytest.raises(ConfigError, match=message) as info:
        load_train_spec(path)
    assert str(path) in str(info.value)


def test_content_hash_ignores_location_and_alias(tmp_path: Path) -> None:
    text = (RECIPES / "lora.yaml").read_text()
    a = load_train_spec(_spec(tmp_path, text))
    (tmp_path / "b").mkdir()
    b = load_train_spec(_spec(tmp_path / "b", text.replace("name: lora", "name: lora\nregister_as: other")))
    assert a.content_hash() == b.content_hash()
    assert a.with_max_steps(10).content_hash() != a.content_hash()


def test_a_key_added_later_keeps_the_hash_of_specs_that_leave_it_at_its_default(tmp_path: Path) -> None:
    text = (RECIPES / "lora.yaml").read_text()
    # the lora recipe's hash from before data.replay_holdout existed: its trained candidates stay valid
    assert load_train_spec(RECIPES / "lora.yaml").content_hash().startswith("410410a13a35fa36")
    held = load_train_spec(
        _spec(tmp_path, text.replace("  replay_fraction:", "  replay_holdout: true\n  replay_fraction:"))
    )
    assert held.data.replay_holdout and held.content_hash() != load_train_spec(RECIPES / "lora.yaml").content_hash()
