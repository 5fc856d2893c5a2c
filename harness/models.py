"""Resolve a model spec (registry alias, local directory, hub id, PEFT adapter) and load it.

    ModelSpec --resolve--> Resolved --load--> LoadedModel

Weights are read from safetensors only and ``trust_remote_code`` is off unless the spec asks for it. Every
loaded model carries a content hash over its weights, adapter, config and tokenizer files (plus the 4-bit
flag, since the same files quantised are a different model, and the placement: device kind and dtype, see
harness.device), used for cache keys and provenance. JSON files are hashed normalised (canonical JSON,
set-valued lists sorted, paths and loader flags dropped), so the same weights saved on two machines or by two
runs get the same hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from safetensors import SafetensorError

from harness.device import Placement, default_placement, device_placement_map
from harness.errors import ModelLoadError
from harness.registry import RESERVED, Registry
from harness.threads import configure as configure_threads

# Files that determine a model's outputs; anything else in the directory (provenance, READMEs,
# checkpoints) does not change the hash.
HASHED_PATTERNS = (
    "*.safetensors",
    "config.json",
    "generation_config.json",
    "adapter_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    "vocab*",
    "merges.txt",
    "*.model",
)
# JSON files are hashed as canonical JSON: keys sorted, these keys dropped (where the files were saved or
# loaded from, loader flags: not the model) and these lists sorted (sets, which peft writes in set order).
MACHINE_KEYS = frozenset(
    {"base_model_name_or_path", "name_or_path", "_name_or_path", "local_files_only", "cache_dir", "_commit_hash"}
)
SET_KEYS = frozenset({"target_modules", "modules_to_save", "exclude_modules"})
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSpec:
    """What the user asked for: ``ref`` is an alias, a directory, a hub id or an adapter directory."""

    ref: str
    base: str | None = None  # overrides an adapter's base model (itself any spec but an adapter)
    load_in_4bit: bool = False
    trust_remote_code: bool = False
    revision: str | None = None
    placement: Placement | None = None  # None: --device/--dtype auto, resolved once per process

    def __post_init__(self) -> None:
        if not self.ref or not self.ref.strip():
            raise ModelLoadError(
                "empty model spec: pass an alias (base, candidate, production), a directory or a hub id"
            )

    def resolved_placement(self) -> Placement:
        return self.placement if self.placement is not None else default_placement()


@dataclass(frozen=True)
class Resolved:
    kind: Literal["model", "adapter"]
    path: Path  # a local directory (hub ids are resolved to their snapshot directory)
    alias: str | None
    base: Resolved | None  # for adapters


@dataclass(frozen=True, eq=False)
class LoadedModel:
    spec: ModelSpec
    resolved: Resolved
    model: Any  # transformers PreTrainedModel or peft PeftModel
    tokenizer: Any  # transformers PreTrainedTokenizerBase
    content_hash: str

    @property
    def name(self) -> str:
        return self.spec.ref

    def describe(self) -> dict[str, Any]:
        return describe(self.spec, self.resolved, self.content_hash, self.model)


def describe(spec: ModelSpec, resolved: Resolved, digest: str, model: Any = None) -> dict[str, Any]:
    """Provenance of a model for reports, score tables and caches (loaded, or only resolved: no device map)."""
    placement = spec.resolved_placement().describe()
    layout = device_placement_map(model) if model is not None and placement["device_map"] else None
    if layout is not None:
        placement["hf_device_map"] = layout
    return {
        "spec": spec.ref,
        "kind": resolved.kind,
        "path": str(resolved.path),
        "base_path": str(resolved.base.path) if resolved.base else None,
        "load_in_4bit": spec.load_in_4bit,
        "content_hash": digest,
        "placement": placement,
    }


def _is_adapter(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


def _hub_snapshot(repo_id: str, revision: str | None) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    try:
        return Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(HASHED_PATTERNS)))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled) as exc:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        why = "HF_HUB_OFFLINE is set" if offline else "the hub could not be reached"
        raise ModelLoadError(
            f"hub model {repo_id!r} is not in the local Hugging Face cache and {why}: download it where the hub "
            f"is reachable (`hf download {repo_id}`), or pass a local directory instead ({type(exc).__name__})"
        ) from None
    except Exception as exc:  # RepositoryNotFoundError, HTTP errors, ...
        raise ModelLoadError(f"hub model {repo_id!r} could not be fetched: {exc}") from None


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``; ModelLoadError names the file and the fix when it is not one."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise ModelLoadError(f"{path} is not valid JSON ({why}): {what}") from None
    if not isinstance(raw, dict):
        raise ModelLoadError(f"{path} holds a JSON {type(raw).__name__}, not an object: {what}")
    return raw


def _resolve_path(path: Path, spec: ModelSpec, alias: str | None, registry: Registry) -> Resolved:
    if _is_adapter(path):
        config = path / "adapter_config.json"
        fix = "write it again with the adapter's save_pretrained, or restore it from the training run"
        from_config = read_json_file(config, fix).get("base_model_name_or_path")
        base_ref = spec.base or from_config
        if not base_ref:
            raise ModelLoadError(
                f"adapter {path} names no base model in adapter_config.json: pass the base explicitly (--base-model)"
            )
        try:
            base = resolve(ModelSpec(str(base_ref), revision=spec.revision), registry)
        except ModelLoadError as exc:
            if spec.base:
                raise
            raise ModelLoadError(
                f"the base model of adapter {path}, {base_ref!r} (base_model_name_or_path in {config}), cannot be "
                f"used: {exc}. Pass the base explicitly (--base-model), or fix base_model_name_or_path"
            ) from None
        if base.kind == "adapter":
            raise ModelLoadError(f"the base of adapter {path} is itself an adapter ({base.path}): merge it first")
        return Resolved("adapter", path, alias, base)
    if (path / "config.json").is_file():
        return Resolved("model", path, alias, None)
    raise ModelLoadError(
        f"{path} is neither a model directory (no config.json) nor a PEFT adapter (no adapter_config.json): "
        "pass a directory written by save_pretrained"
    )


def resolve(spec: ModelSpec, registry: Registry | None = None) -> Resolved:
    registry = registry or Registry()
    ref = spec.ref.strip()
    event = registry.get(ref) if "/" not in ref and not ref.startswith(".") else None
    if event is not None:
        path = Path(event.path)
        if not path.is_dir():
            raise ModelLoadError(
                f"alias {ref!r} points at {path}, which no longer exists: re-register it or roll it back "
                f"(`harness rollback {ref}`)"
            )
        return _resolve_path(path, spec, ref, registry)
    if ref in RESERVED:
        registry.require(ref)  # raises with the command that registers it
    path = Path(ref).expanduser()
    if path.is_dir():
        return _resolve_path(path.resolve(), spec, None, registry)
    if _HUB_ID.match(ref) and not path.exists():
        return _resolve_path(_hub_snapshot(ref, spec.revision), spec, None, registry)
    known = ", ".join(registry.aliases()) or "none registered"
    raise ModelLoadError(
        f"model spec {ref!r} is not a registered alias ({known}), an existing directory, or a hub id "
        "('org/name'): check the spelling or the path"
    )


def content_hash(resolved: Resolved, *, load_in_4bit: bool, placement: Placement | None = None) -> str:
    """sha256 over the model's files, the 4-bit flag and the placement (device kind and dtype; the CPU in
    float32, and ``placement=None``, add nothing: that is the weights' own identity)."""
    digest = hashlib.sha256(f"4bit={load_in_4bit}{placement.hash_tag() if placement else ''}".encode())
    for part in (resolved.base, resolved):
        if part is None:
            continue
        files = sorted({f for pattern in HASHED_PATTERNS for f in part.path.glob(pattern) if f.is_file()})
        if not any(f.suffix == ".safetensors" for f in files):
            raise ModelLoadError(
                f"{part.path} has no *.safetensors weights: only safetensors are loaded; convert the checkpoint "
                "with save_pretrained(..., safe_serialization=True)"
            )
        for file in files:
            digest.update(file.name.encode())
            digest.update(_json_digest(file) if file.suffix == ".json" else _file_digest(file))
    return digest.hexdigest()


def normalised_config(value: Any) -> Any:
    """A JSON value without machine-specific keys, with set-valued lists sorted, recursively."""
    if isinstance(value, dict):
        return {
            key: sorted(item, key=str) if key in SET_KEYS and isinstance(item, list) else normalised_config(item)
            for key, item in value.items()
            if key not in MACHINE_KEYS
        }
    if isinstance(value, list):
        return [normalised_config(item) for item in value]
    return value


def _json_digest(path: Path) -> bytes:
    """The digest of a JSON file's normalised content; a file that is not JSON is hashed as bytes."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _file_digest(path)
    canonical = json.dumps(normalised_config(value), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(b"json:" + canonical.encode("utf-8")).digest()


def _file_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.digest()


def _quantization_config(placement: Placement) -> Any:
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=placement.torch_dtype(),  # bfloat16 on a CUDA GPU (auto), float32 on the CPU
    )


def load_kwargs(spec: ModelSpec) -> dict[str, Any]:
    """from_pretrained arguments: the placement's device (or device map) and dtype; 4-bit loads go to the
    same device with the placement's dtype as bitsandbytes' compute dtype."""
    placement = spec.resolved_placement()
    kwargs: dict[str, Any] = {"use_safetensors": True, "trust_remote_code": spec.trust_remote_code}
    if spec.load_in_4bit:
        device_map = placement.device_map or placement.device
        kwargs.update(quantization_config=_quantization_config(placement), device_map=device_map)
        if placement.kind == "cuda":  # the layers bitsandbytes leaves unquantised (embeddings, norms) too
            kwargs["dtype"] = placement.torch_dtype()
    else:
        kwargs.update(placement.load_kwargs())
    return kwargs


def _load_weights(path: Path, spec: ModelSpec) -> Any:
    from transformers import AutoModelForCausalLM

    kwargs = load_kwargs(spec)
    try:
        return AutoModelForCausalLM.from_pretrained(str(path), **kwargs)
    except (OSError, ValueError, SafetensorError) as exc:
        raise ModelLoadError(
            f"could not load model weights from {path} ({type(exc).__name__}: {exc}): the files may be truncated "
            "or from another model; save the model again with save_pretrained, or rebuild it"
        ) from None


def _load_tokenizer(resolved: Resolved, spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    own = any(resolved.path.glob("tokenizer*"))
    source = resolved.path if own or resolved.base is None else resolved.base.path
    tokenizer = AutoTokenizer.from_pretrained(str(source), trust_remote_code=spec.trust_remote_code)
    tokenizer.padding_side = "left"  # batched generation appends on the right
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _first_cause(exc: BaseException) -> str:
    """The telling line of a loader error: the first size mismatch if there is one, else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [type(exc).__name__]
    return next((line for line in lines if "size mismatch" in line), lines[0]).rstrip(".")[:300]


def load(
    spec: ModelSpec, registry: Registry | None = None, *, resolved: Resolved | None = None, digest: str | None = None
) -> LoadedModel:
    """Resolve and load ``spec`` for inference (eval mode); a role already resolved and hashed passes both
    (``resolved``, ``digest``) so its files are not hashed again."""
    resolved = resolved or resolve(spec, registry)
    digest = digest or content_hash(resolved, load_in_4bit=spec.load_in_4bit, placement=spec.resolved_placement())
    if resolved.kind == "adapter":
        from peft import PeftModel

        assert resolved.base is not None
        base = _load_weights(resolved.base.path, spec)
        try:
            model = PeftModel.from_pretrained(base, str(resolved.path), is_trainable=False)
        except (OSError, ValueError, RuntimeError, KeyError, SafetensorError) as exc:
            source = (
                "--base-model" if spec.base else f"base_model_name_or_path in {resolved.path / 'adapter_config.json'}"
            )
            raise ModelLoadError(
                f"adapter {resolved.path} does not fit its base model {resolved.base.path} (from {source}): "
                f"{type(exc).__name__}: {_first_cause(exc)}. The base must be the model the "
                "adapter was trained on (same architecture and hidden size), and the adapter's files must be whole; "
                "pass the right base with --base-model, or train the adapter again"
            ) from None
    else:
        model = _load_weights(resolved.path, spec)
    model.eval()
    configure_threads(model)
    return LoadedModel(spec, resolved, model, _load_tokenizer(resolved, spec), digest)
