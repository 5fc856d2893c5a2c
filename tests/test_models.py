"""Model specs of every kind resolve and load: alias, directory, hub id, PEFT adapter, 4-bit."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.errors import HarnessError, ModelLoadError, RegistryError
from harness.models import ModelSpec, content_hash, load, resolve
from harness.registry import Registry
from tests.conftest import save_tiny_llama


def _logits(loaded, text: str = "What is 2 plus 3?"):  # type: ignore[no-untyped-def]
    import torch

    enc = loaded.tokenizer(text, return_tensors="pt")
    with torch.no_grad():
        return loaded.model(**enc).logits


def test_local_directory_loads_in_eval_mode_with_its_tokenizer(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    assert loaded.resolved.kind == "model"
    assert not loaded.model.training
    assert loaded.tokenizer.padding_side == "left"
    assert loaded.tokenizer.chat_template
    assert loaded.describe()["content_hash"] == loaded.content_hash
    assert len(loaded.content_hash) == 64


def test_registry_alias_resolves_to_its_directory(tiny_model_dir: Path) -> None:
    Registry().set("base", tiny_model_dir, content_hash=None, reason="test")
    loaded = load(ModelSpec("base"))
    assert loaded.resolved.alias == "base"
    assert loaded.resolved.path == tiny_model_dir


def test_unregistered_alias_and_unknown_spec_say_what_to_do() -> None:
    with pytest.raises(RegistryError, match="harness promote candidate --to production"):
        load(ModelSpec("production"))
    with pytest.raises(ModelLoadError, match="not a registered alias"):
        load(ModelSpec("no-such-model-anywhere"))
    with pytest.raises(HarnessError, match="empty model spec"):
        ModelSpec("  ")


def test_alias_pointing_at_a_deleted_directory_is_reported(tmp_path: Path, tiny_model_dir: Path) -> None:
    gone = tmp_path / "gone"
    shutil.copytree(tiny_model_dir, gone)
    Registry().set("candidate", gone, content_hash=None, reason="test")
    shutil.rmtree(gone)
    with pytest.raises(ModelLoadError, match="no longer exists"):
        load(ModelSpec("candidate"))


def test_hub_id_offline_and_not_cached_fails_clearly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelLoadError, match=r"not in the local Hugging Face cache and HF_HUB_OFFLINE is set"):
        load(ModelSpec("some-org/some-model"))


def test_hub_id_in_the_local_cache_loads_offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, tiny_model_dir: Path
) -> None:
    import huggingface_hub.constants

    cache = tmp_path / "hub"
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--acme--tiny-llama"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    loaded = load(ModelSpec("acme/tiny-llama"))
    assert loaded.resolved.path == repo / "snapshots" / revision
    assert loaded.content_hash == load(ModelSpec(str(tiny_model_dir))).content_hash


def test_adapter_takes_its_base_from_the_adapter_config(tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    from peft import PeftModel

    loaded = load(ModelSpec(str(tiny_adapter_dir)))
    assert loaded.resolved.kind == "adapter"
    assert loaded.resolved.base is not None and loaded.resolved.base.path == tiny_model_dir
    assert isinstance(loaded.model, PeftModel)
    base = load(ModelSpec(str(tiny_model_dir)))
    assert loaded.content_hash != base.content_hash
    assert not _logits(loaded).allclose(_logits(base)), "the adapter changes the outputs"


def test_adapter_base_can_be_overridden(tmp_path: Path, tiny_tokenizer, tiny_adapter_dir: Path) -> None:  # type: ignore[no-untyped-def]
    other_base = save_tiny_llama(tmp_path / "other-base", tiny_tokenizer, seed=7)
    loaded = load(ModelSpec(str(tiny_adapter_dir), base=str(other_base)))
    assert loaded.resolved.base is not None and loaded.resolved.base.path == other_base
    default = load(ModelSpec(str(tiny_adapter_dir)))
    assert loaded.content_hash != default.content_hash


def test_4bit_loading_uses_bitsandbytes_nf4_layers(tiny_model_dir: Path) -> None:
    import bitsandbytes as bnb

    loaded = load(ModelSpec(str(tiny_model_dir), load_in_4bit=True))
    layers = [m for m in loaded.model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert layers, "linear layers are quantised"
    assert layers[0].weight.quant_type == "nf4"
    assert loaded.content_hash != load(ModelSpec(str(tiny_model_dir))).content_hash
    assert _logits(loaded).isfinite().all()


def test_only_safetensors_weights_are_accepted(tmp_path: Path, tiny_model_dir: Path) -> None:
    legacy = tmp_path / "legacy"
    shutil.copytree(tiny_model_dir, legacy)
    (legacy / "model.safetensors").rename(legacy / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="only safetensors are loaded"):
        load(ModelSpec(str(legacy)))


def test_directory_that_is_not_a_model_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="neither a model directory"):
        resolve(ModelSpec(str(tmp_path)))


def test_remote_code_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    seen: list[bool] = []
    original = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(kwargs["trust_remote_code"])
        assert kwargs["use_safetensors"] is True
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    load(ModelSpec(str(tiny_model_dir)))
    load(ModelSpec(str(tiny_model_dir), trust_remote_code=True))
    assert seen == [False, True]


def test_content_hash_covers_weights_and_tokenizer(tmp_path: Path, tiny_model_dir: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    spec = ModelSpec(str(copy))
    before = content_hash(resolve(spec), load_in_4bit=False)
    (copy / "build-notes.md").write_text("provenance does not change the model")
    assert content_hash(resolve(spec), load_in_4bit=False) == before
    config = (copy / "tokenizer_config.json").read_text()
    (copy / "tokenizer_config.json").write_text(config.replace('"left"', '"right"'))
    assert content_hash(resolve(spec), load_in_4bit=False) != before


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _set_json(path: Path, **changes: object) -> None:
    import json

    raw = json.loads(path.read_text())
    raw.update(changes)
    path.write_text(json.dumps(raw, indent=2))


def test_a_truncated_safetensors_file_names_the_directory_and_the_fix(tmp_path: Path, tiny_model_dir: Path) -> None:
    broken = _copy(tiny_model_dir, tmp_path / "broken")
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(
        ModelLoadError, match=rf"could not load model weights from {broken} .*truncated.*save_pretrained"
    ):
        load(ModelSpec(str(broken)))


def test_an_adapter_whose_configured_base_is_missing_says_where_the_base_came_from(
    tmp_path: Path, tiny_adapter_dir: Path
) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    _set_json(adapter / "adapter_config.json", base_model_name_or_path=str(tmp_path / "gone"))
    with pytest.raises(ModelLoadError, match=r"base_model_name_or_path in .*adapter_config.json.*--base-model"):
        resolve(ModelSpec(str(adapter)))


def test_an_adapter_on_a_base_of_another_hidden_size_is_named(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(tiny_model_dir)
    config.hidden_size, config.intermediate_size = 32, 64
    other = tmp_path / "narrow"
    AutoModelForCausalLM.from_config(config).save_pretrained(other, safe_serialization=True)
    for file in tiny_model_dir.glob("tokenizer*"):
        shutil.copy(file, other / file.name)
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    _set_json(adapter / "adapter_config.json", base_model_name_or_path=str(other))
    with pytest.raises(
        ModelLoadError, match=rf"adapter {adapter} does not fit its base model {other} \(from base_model"
    ):
        load(ModelSpec(str(adapter)))


def test_an_adapter_config_that_is_not_json_is_named(tmp_path: Path, tiny_adapter_dir: Path) -> None:
    adapter = _copy(tiny_adapter_dir, tmp_path / "adapter")
    (adapter / "adapter_config.json").write_text('{"r": 4,')
    with pytest.raises(ModelLoadError, match=r"adapter_config.json is not valid JSON .*save_pretrained"):
        resolve(ModelSpec(str(adapter)))


def test_identical_adapter_weights_get_one_hash_whatever_the_config_order_and_paths(
    tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    import json

    base_copy = _copy(tiny_model_dir, tmp_path / "elsewhere" / "base")
    one = _copy(tiny_adapter_dir, tmp_path / "one")
    two = _copy(tiny_adapter_dir, tmp_path / "two")
    _set_json(one / "adapter_config.json", target_modules=["q_proj", "v_proj"])
    _set_json(two / "adapter_config.json", target_modules=["v_proj", "q_proj"], base_model_name_or_path=str(base_copy))
    for adapter, flag in ((one, True), (two, False)):
        (adapter / "tokenizer_config.json").write_text(
            json.dumps({**json.loads((tiny_model_dir / "tokenizer_config.json").read_text()), "local_files_only": flag})
        )

    def digest(path: Path) -> str:
        return content_hash(resolve(ModelSpec(str(path))), load_in_4bit=False)

    assert digest(one) == digest(two)
    rank = _copy(one, tmp_path / "rank")
    _set_json(rank / "adapter_config.json", r=8)
    assert digest(rank) != digest(one)
    weight = _copy(one, tmp_path / "weight")
    data = bytearray((weight / "adapter_model.safetensors").read_bytes())
    data[-1] ^= 1
    (weight / "adapter_model.safetensors").write_bytes(bytes(data))
    assert digest(weight) != digest(one)
