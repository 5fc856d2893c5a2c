"""A training spec: YAML -> frozen, validated dataclasses -> peft LoraConfig, BitsAndBytesConfig and
TrainingArguments. An unknown key or a bad value is an error naming the key and what is allowed.

Paths in a spec are relative to the spec file; ``world:train`` / ``world:validation`` name the reference
world's task splits, and ``suite:reference`` in ``leakage_suites`` names the reference suite shipped with the
harness (so a shipped recipe checks leakage the same way in a checkout and installed from a wheel).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from harness.device import Placement, check_request, resolve_placement
from harness.errors import ConfigError, RegistryError
from harness.registry import check_alias
from harness.world import default_world_dir, load_manifest
from harness.yamlspec import from_mapping, read_yaml
from training.distributed import World

Method = Literal["lora", "qlora", "full"]
Schedule = Literal["cosine", "linear", "constant_with_warmup"]
DataFormat = Literal["auto", "openai-chat", "sharegpt", "alpaca", "prompt-response"]
ReplayReplies = Literal["pool", "base"]
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
RECIPES_DIR = Path(__file__).resolve().parent / "recipes"
REPLAY_CATEGORIES = ("fact", "arithmetic", "harmful", "benign")  # the reference world's general data


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise ConfigError(f"{name}={value} must be positive and finite")


# Keys added after specs were in use: at their default they stay out of the content hash, so a spec that does
# not use them keeps its hash and its trained candidates (adding a key must not retrain everything).
ADDED_WITH_DEFAULT: tuple[tuple[str, str, Any], ...] = (("data", "replay_holdout", False),)


@dataclass(frozen=True)
class DataSpec:
    # a file or datasets directory, or world:train; or a list of them, trained on together (a task set plus a
    # safety set, say: fine-tuning erodes refusals, and mixing refusals in is the documented defence)
    train: str | tuple[str, ...]
    validation: str | None = None  # None: split validation_fraction off the training data
    format: DataFormat = "auto"
    validation_fraction: float = 0.1
    stratify_by: str | None = None
    replay_fraction: float = 0.0  # general data from the reference world, as a fraction of the task data
    replay_weights: dict[str, float] | None = None  # by category (fact, arithmetic, harmful, benign); None: uniform
    # pool: replay the pool's own replies; base: the base model's greedy replies (training/data/distill.py), for a
    # base whose style differs from the pool's (any real pretrained model: the pool is the toy world's)
    replay_replies: ReplayReplies = "pool"
    replay_reply_tokens: int = 64  # base replies: the budget; a reply not finished within it is dropped
    replay_keep: tuple[str, ...] = ("harmful",)  # base replies: categories that keep the pool's replies (refusals)
    # leave out of the replay the pool examples that rehearse a case of leakage_suites (their reply is the case's
    # answer: the same capital, asked in another phrasing). For a base not trained on the pool, which is every
    # real model: otherwise the forgetting gate measures rehearsal.
    replay_holdout: bool = False
    max_length: int = 192
    near_duplicate_threshold: float | None = 0.9
    leakage_suites: tuple[str, ...] = ()  # gating suites (files or directories) whose cases must not be trained on
    leakage_n: int = 8

    def __post_init__(self) -> None:
        if not self.train:
            raise ConfigError("data.train is empty: name the training file (or a list of files)")
        if not 0 < self.validation_fraction < 1:
            raise ConfigError(f"validation_fraction={self.validation_fraction} must be in (0, 1)")
        if not 0 <= self.replay_fraction <= 4:
            raise ConfigError(f"replay_fraction={self.replay_fraction} must be in [0, 4]")
        _positive("max_length", self.max_length)
        _positive("leakage_n", self.leakage_n)
        _positive("replay_reply_tokens", self.replay_reply_tokens)
        unknown = sorted(set(self.replay_keep) - set(REPLAY_CATEGORIES))
        if unknown:
            raise ConfigError(f"replay_keep names {unknown}: categories are {', '.join(REPLAY_CATEGORIES)}")
        if self.replay_replies == "base" and not self.replay_fraction:
            raise ConfigError("replay_replies: base answers the replay examples, but replay_fraction is 0: set both")
        if self.replay_holdout and not (self.replay_fraction and self.leakage_suites):
            raise ConfigError(
                "replay_holdout leaves out replay examples that rehearse the leakage_suites' cases: it needs "
                "replay_fraction > 0 and leakage_suites; set both, or drop replay_holdout"
            )
        if self.near_duplicate_threshold is not None and not 0 < self.near_duplicate_threshold <= 1:
            raise ConfigError(
                f"near_duplicate_threshold={self.near_duplicate_threshold} must be in (0, 1], or null to keep "
                "near duplicates"
            )
        for category, weight in (self.replay_weights or {}).items():
            if category not in REPLAY_CATEGORIES or not weight >= 0:
                raise ConfigError(
                    f"replay_weights: {category}={weight}: categories are {', '.join(REPLAY_CATEGORIES)}, "
                    "weights are >= 0"
                )


@dataclass(frozen=True)
class LoraSpec:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ALL_LINEAR
    bias: Literal["none", "all", "lora_only"] = "none"

    def __post_init__(self) -> None:
        _positive("lora.r", self.r)
        _positive("lora.alpha", self.alpha)
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"lora.dropout={self.dropout} must be in [0, 1)")
        if not self.target_modules:
            raise ConfigError("lora.target_modules is empty: name the linear layers to adapt")


@dataclass(frozen=True)
class QuantizationSpec:
    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    # auto: the placement's dtype (bfloat16 on a CUDA GPU that supports it, float32 on the CPU)
    compute_dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


@dataclass(frozen=True)
class EarlyStoppingSpec:
    patience: int = 3  # evaluations without improvement before stopping
    threshold: float = 0.0  # minimum improvement of validation loss that counts

    def __post_init__(self) -> None:
        _positive("early_stopping.patience", self.patience)


@dataclass(frozen=True)
class OptimSpec:
    epochs: float = 3.0
    max_steps: int | None = None  # overrides epochs when set
    learning_rate: float = 2e-4
    batch_size: int = 16  # the global batch: over N processes (torchrun, accelerate launch) each takes 1/N
    gradient_accumulation_steps: int = 1
    warmup: float = 0.05  # a fraction of the steps (< 1) or a number of steps (>= 1)
    schedule: Schedule = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    eval_every: int = 50  # steps between validation losses (and checkpoints)
    save_total_limit: int = 2
    early_stopping: EarlyStoppingSpec | None = field(default_factory=EarlyStoppingSpec)
    explosion_factor: float = 4.0  # stop when the training loss exceeds this multiple of its first value
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("epochs", "learning_rate", "batch_size", "gradient_accumulation_steps", "eval_every"):
            _positive(f"training.{name}", getattr(self, name))
        if self.max_steps is not None:
            _positive("training.max_steps", self.max_steps)
        for name in ("warmup", "weight_decay", "max_grad_norm", "explosion_factor"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"training.{name}={getattr(self, name)} must be a finite number")
        if self.warmup < 0:
            raise ConfigError(f"training.warmup={self.warmup} must be >= 0 (a fraction below 1, or steps)")
        if self.explosion_factor <= 1:
            raise ConfigError(f"training.explosion_factor={self.explosion_factor} must be above 1")


@dataclass(frozen=True)
class TrainSpec:
    path: Path
    name: str
    data: DataSpec
    base_model: str = "base"
    method: Method = "lora"
    lora: LoraSpec = field(default_factory=LoraSpec)
    quantization: QuantizationSpec = field(default_factory=QuantizationSpec)
    training: OptimSpec = field(default_factory=OptimSpec)
    register_as: str = "candidate"
    description: str = ""
    device: str = "auto"  # auto (cuda if available, else cpu), cpu, cuda or cuda:N
    dtype: str = "auto"  # auto (bfloat16 on a CUDA GPU that supports it, else float32), float32, bfloat16, float16

    def __post_init__(self) -> None:
        try:
            check_request(self.device, self.dtype)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (the spec's device / dtype keys)") from None
        # the name becomes a directory under $HARNESS_HOME/candidates; the alias is checked before, not after,
        # a training run
        if not self.name or not all(ch.isalnum() or ch in "-_." for ch in self.name) or self.name.startswith("."):
            raise ConfigError(f"name={self.name!r}: use letters, digits, '-', '_' or '.', not starting with '.'")
        try:
            check_alias(self.register_as)
        except RegistryError as exc:
            raise ConfigError(f"register_as: {exc}") from None

    def resolve(self, location: str) -> Path:
        if location.startswith("world:"):
            split = location.removeprefix("world:")
            task = load_manifest(default_world_dir()).task
            if split not in task:
                raise ConfigError(f"{self.path}: {location!r}: the world's task splits are {sorted(task)}")
            return task[split]
        if location.startswith("harness:"):  # a file shipped in harness/data (the real suite's safety data)
            from harness.resources import data_dir

            return data_dir() / location.removeprefix("harness:")
        return (self.path.parent / location).resolve()

    def train_paths(self) -> list[Path]:
        """The files of ``data.train``, resolved, in the order given."""
        sources = (self.data.train,) if isinstance(self.data.train, str) else self.data.train
        return [self.resolve(source) for source in sources]

    def leakage_paths(self) -> list[Path]:
        """The gating suites of ``data.leakage_suites``: ``suite:<name>`` is a suite shipped with the harness,
        anything else a suite file or directory relative to this spec. A path that does not exist, or a
        directory without a suite, is an error: a check that finds no suite would let held-out items through."""
        from harness.discovery import suite_paths
        from harness.resources import packaged_suite

        paths = []
        for ref in self.data.leakage_suites:
            if ref.startswith("suite:"):
                paths.append(packaged_suite(ref.removeprefix("suite:")))
                continue
            path = self.resolve(ref)
            fix = (
                "name suite files or directories relative to this spec file, or suite:reference for the reference "
                "suite shipped with the harness"
            )
            if not path.exists():
                raise ConfigError(f"{self.path}: leakage_suites entry {ref!r} is {path}, which does not exist: {fix}")
            if path.is_dir() and not suite_paths([path]):
                raise ConfigError(
                    f"{self.path}: leakage_suites entry {ref!r} ({path}) holds no gating suite (a test_*.yaml or "
                    f"test_*.yml file with a top-level gates: key): {fix}"
                )
            paths.append(path)
        return paths

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec, as recorded in a candidate's provenance."""
        out = asdict(self)
        out["path"] = str(self.path)
        return out

    def content_hash(self) -> str:
        """What determines the training: everything but the file location, alias and description."""
        payload = {k: v for k, v in self.to_dict().items() if k not in ("path", "register_as", "description")}
        for section, key, default in ADDED_WITH_DEFAULT:
            if payload[section].get(key) == default:
                del payload[section][key]
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def inputs_hash(self) -> str:
        """What the data files say today: the task files and, when replay mixes it in, the reference world."""
        from harness.cache import paths_hash

        paths = self.train_paths()
        if self.data.validation is not None:
            paths.append(self.resolve(self.data.validation))
        world = load_manifest(default_world_dir()).content_hash() if self.data.replay_fraction > 0 else None
        return f"{paths_hash(paths)}:{world}"

    def placement(self) -> Placement:
        """The spec's device and dtype resolved on this machine (a DeviceError when CUDA is asked for and
        missing). Training keeps float32 weights and uses a half dtype for mixed precision; cuda:N for N > 0 is
        chosen with CUDA_VISIBLE_DEVICES, as the Trainer trains on the first visible GPU."""
        placement = resolve_placement(self.device, self.dtype)
        if placement.device not in ("cpu", "cuda", "cuda:0"):
            raise ConfigError(
                f"device={self.device!r}: training runs on the first visible GPU; pick another one with "
                f"CUDA_VISIBLE_DEVICES={placement.device.split(':')[1]} and device: cuda"
            )
        if placement.kind == "cpu" and placement.dtype == "float16":
            raise ConfigError("dtype=float16 mixed precision needs a CUDA GPU: use float32 or bfloat16 on the CPU")
        return placement

    def with_max_steps(self, steps: int) -> TrainSpec:
        from dataclasses import replace

        return replace(self, training=replace(self.training, max_steps=steps, early_stopping=None))


def find_recipe(ref: str, relative_to: Path) -> Path:
    """A shipped recipe by name (``lora`` -> training/recipes/lora.yaml), else a YAML path relative to a file's
    directory (a suite's), so a suite copied elsewhere still finds the shipped recipes."""
    named = "/" not in ref and not ref.endswith((".yaml", ".yml"))
    path = RECIPES_DIR / f"{ref}.yaml" if named else (relative_to / ref).resolve()
    if not path.is_file():
        shipped = ", ".join(sorted(p.stem for p in RECIPES_DIR.glob("*.yaml")))
        raise ConfigError(
            f"recipe {ref!r}: {path} does not exist; name a shipped recipe ({shipped}) or give a YAML path "
            f"relative to {relative_to}"
        )
    return path


def load_train_spec(path: Path) -> TrainSpec:
    raw = dict(read_yaml(path))
    name = raw.get("name") or path.stem
    return from_mapping(TrainSpec, {**raw, "name": name, "path": path.resolve()}, str(path))


def lora_config(spec: TrainSpec) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=spec.lora.r,
        lora_alpha=spec.lora.alpha,
        lora_dropout=spec.lora.dropout,
        target_modules=list(spec.lora.target_modules),
        bias=spec.lora.bias,
        task_type="CAUSAL_LM",
    )


def compute_dtype(spec: TrainSpec, placement: Placement) -> str:
    """QLoRA's compute dtype: the spec's, or with ``auto`` the placement's (bfloat16 on CUDA, float32 on CPU)."""
    return placement.dtype if spec.quantization.compute_dtype == "auto" else spec.quantization.compute_dtype


def bnb_config(spec: TrainSpec, placement: Placement | None = None) -> Any:
    import torch
    from transformers import BitsAndBytesConfig

    placement = placement or spec.placement()
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=spec.quantization.quant_type,
        bnb_4bit_use_double_quant=spec.quantization.double_quant,
        bnb_4bit_compute_dtype=getattr(torch, compute_dtype(spec, placement)),
    )


def precision_arguments(placement: Placement) -> dict[str, Any]:
    """TrainingArguments for the placement: ``use_cpu`` only on the CPU; bfloat16 (or float16) mixed precision
    when the placement's dtype asks for it (float32 weights, half-precision compute)."""
    return {
        "use_cpu": placement.kind == "cpu",
        "bf16": placement.dtype == "bfloat16",
        "fp16": placement.dtype == "float16",
    }


def training_arguments(
    spec: TrainSpec,
    output_dir: Path,
    *,
    progress: bool = True,
    placement: Placement | None = None,
    processes: int = 1,
) -> Any:
    from transformers import TrainingArguments

    kwargs = training_kwargs(spec, output_dir, progress=progress, placement=placement, processes=processes)
    return TrainingArguments(**kwargs)


def training_kwargs(
    spec: TrainSpec,
    output_dir: Path,
    *,
    progress: bool = True,
    placement: Placement | None = None,
    processes: int = 1,
) -> dict[str, Any]:
    """The TrainingArguments of ``spec`` on ``placement`` (default: the spec's, resolved here), as keywords.
    ``training.batch_size`` is the global batch: over ``processes`` DDP processes each takes its share."""
    from transformers import TrainingArguments

    placement = placement or spec.placement()
    opt = spec.training
    per_device = World(size=processes).per_device_batch(opt.batch_size)
    early = opt.early_stopping is not None
    # transformers renamed the option late in 5.x; the old name still works there but warns.
    fields = getattr(TrainingArguments, "__dataclass_fields__", {})
    renamed = "activation_checkpointing" if "activation_checkpointing" in fields else "gradient_checkpointing"
    checkpointing: dict[str, Any] = {renamed: opt.gradient_checkpointing}
    return dict(
        output_dir=str(output_dir),
        num_train_epochs=opt.epochs,
        max_steps=opt.max_steps or -1,
        per_device_train_batch_size=per_device,
        per_device_eval_batch_size=per_device,
        gradient_accumulation_steps=opt.gradient_accumulation_steps,
        learning_rate=opt.learning_rate,
        lr_scheduler_type=opt.schedule,
        warmup_steps=opt.warmup,
        weight_decay=opt.weight_decay,
        max_grad_norm=opt.max_grad_norm,
        **checkpointing,
        eval_strategy="steps",
        eval_steps=opt.eval_every,
        save_strategy="steps",
        save_steps=opt.eval_every,  # checkpoints line up with evaluations: early stopping keeps the best one
        save_total_limit=opt.save_total_limit,
        load_best_model_at_end=early,
        metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        logging_steps=max(1, opt.eval_every // 5),
        report_to=[],
        **precision_arguments(placement),
        seed=opt.seed,
        data_seed=opt.seed,
        disable_tqdm=not progress,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        # every adapter weight takes part in every forward pass: DDP need not search the graph for unused ones
        ddp_find_unused_parameters=False,
    )
