"""`harness train SPEC.yaml`: a LoRA, QLoRA or full fine-tuning run with HF Trainer -> a candidate with
provenance, registered under the spec's alias (``candidate`` by default).

The candidate directory is named by a hash of what determines it (spec, base model, training data), under
$HARNESS_HOME/candidates/, so an identical run is reused and ``--resume`` finds the run's checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.cases import Case
from harness.errors import ConfigError, HarnessError
from harness.evalsets import evaluation_sets
from harness.home import harness_home
from harness.models import SET_KEYS, ModelSpec, Resolved, content_hash, load, resolve
from harness.paths import write_atomic
from harness.pool import PROVENANCE_FILE
from harness.provenance import TRAINING_PACKAGES, environment, package_versions
from harness.registry import Registry
from harness.world import default_world_dir, load_manifest
from training import distributed
from training.config import TrainSpec, training_arguments
from training.data import Example, PreparedData, encode, load_replay_pool, preflight, prepare
from training.data.distill import distill_replay, is_replay
from training.distributed import World
from training.model import base_dtype, load_for_training, parameter_counts
from training.monitor import Monitor, detect_overfitting


class TrainingError(HarnessError):
    """The run could not produce a sound candidate (diverged, nothing to resume, ...)."""


class DivergedError(TrainingError):
    """The loss turned NaN or exploded; carries the monitor with the curves up to that point."""

    def __init__(self, monitor: Monitor, message: str) -> None:
        super().__init__(message)
        self.monitor = monitor


@dataclass(frozen=True)
class TrainResult:
    candidate_dir: Path
    provenance: dict[str, Any]
    reused: bool
    rank: int = 0  # in a multi-process run, only rank 0 wrote the candidate and registered it


def _data_hash(examples: list[Example]) -> str:
    payload = [[e.id, list(e.messages)] for e in examples]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def prepare_data(spec: TrainSpec, tokenizer: Any, base: Resolved | None = None) -> PreparedData:
    """The training and validation data of ``spec``; with ``replay_replies: base``, the replay examples answered
    by ``base`` (required then)."""
    suites = spec.leakage_paths()
    replay: list[Example] = []
    if spec.data.replay_fraction > 0:
        replay = load_replay_pool(load_manifest(default_world_dir()))
    data = prepare(
        spec.train_paths(),
        tokenizer,
        max_length=spec.data.max_length,
        eval_cases=evaluation_sets(suites) if suites else {},
        validation_path=spec.resolve(spec.data.validation) if spec.data.validation else None,
        validation_fraction=spec.data.validation_fraction,
        format=spec.data.format,
        stratify_by=spec.data.stratify_by,
        replay=replay,
        replay_fraction=spec.data.replay_fraction,
        replay_weights=spec.data.replay_weights,
        replay_holdout=spec.data.replay_holdout,
        seed=spec.training.seed,
        near_threshold=spec.data.near_duplicate_threshold,
        leakage_n=spec.data.leakage_n,
    )
    if spec.data.replay_replies != "base":
        return data
    if base is None:
        raise ConfigError(f"{spec.path}: replay_replies: base needs the base model to answer the replay examples")
    return _distilled(spec, data, tokenizer, base)


def _distilled(spec: TrainSpec, data: PreparedData, tokenizer: Any, base: Resolved) -> PreparedData:
    """``data`` with its replay examples answered by the base model itself (cached by its content hash)."""
    from harness.cache import ResultCache, cache_key
    from harness.run import DecodingSettings, generate

    budget = spec.data.replay_reply_tokens
    digest = content_hash(base, load_in_4bit=False)
    settings = DecodingSettings(max_new_tokens=budget, batch_size=32)

    def answer(cases: list[Case]) -> list[str]:
        key = cache_key(kind="replay-replies", model=digest, prompts=[c.messages for c in cases], budget=budget)

        def compute() -> list[str]:
            model = load(ModelSpec(spec.base_model), resolved=base, digest=digest)
            return list(generate(model, cases, settings))

        return list(ResultCache().get_or_compute(key, compute))

    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    keep = spec.data.replay_keep
    train, dropped = distill_replay(data.train, answer, count_tokens=count, budget=budget, keep=keep)
    asked = Counter(str(e.stratum) for e in data.train if is_replay(e, keep))
    gone = set(dropped)
    lost = Counter(str(e.stratum) for e in data.train if e.id in gone)
    answered = tuple((category, asked[category], lost[category]) for category in sorted(asked))
    return replace(
        data,
        train=tuple(train),
        n_replay=data.n_replay - len(dropped),
        replay_dropped=tuple(dropped),
        replay_answered=answered,
    )


def _base(spec: TrainSpec, registry: Registry) -> Resolved:
    base = resolve(ModelSpec(spec.base_model), registry)
    if base.kind != "model":
        raise ConfigError(
            f"{spec.path}: base_model {spec.base_model!r} is a PEFT adapter; train from a full model (merge the "
            "adapter first with `harness merge`)"
        )
    return base


def _last_checkpoint(directory: Path) -> Path | None:
    checkpoints = sorted(directory.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]))
    return checkpoints[-1] if checkpoints else None


def run_training(
    spec: TrainSpec,
    out: Path,
    data: PreparedData,
    tokenizer: Any,
    base: Resolved,
    *,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] = print,
    world: World | None = None,
) -> tuple[Any, Monitor, dict[str, Any]]:
    """Train ``spec`` on ``data`` into ``out`` (checkpoints under it); returns (model, monitor, preflight).
    In a multi-process run (``world``) every process calls this; only rank 0 touches the checkpoints."""
    from transformers import DataCollatorForSeq2Seq, EarlyStoppingCallback, PrinterCallback, Trainer

    tokenizer.padding_side = "right"  # training pads on the right; generation later pads on the left
    train_set = [e.__dict__ for e in encode(data.train, tokenizer, max_length=spec.data.max_length)]
    eval_set = [e.__dict__ for e in encode(data.validation, tokenizer, max_length=spec.data.max_length)]
    world = world or World()
    placement = spec.placement()
    model = load_for_training(spec, base.path, placement)
    trainable, total = parameter_counts(model)
    config = model.config
    check = preflight(
        len(train_set),
        len(eval_set),
        total_params=total,
        trainable_params=trainable,
        mean_tokens=sum(len(e["input_ids"]) for e in train_set) / len(train_set),
        batch_size=world.per_device_batch(spec.training.batch_size),
        hidden_size=config.hidden_size,
        num_layers=config.num_hidden_layers,
        gradient_checkpointing=spec.training.gradient_checkpointing,
        load_dtype_bytes=2.0 if base_dtype(spec, placement) != "float32" else 4.0,
    )
    log(check.format())
    monitor = Monitor(explosion_factor=spec.training.explosion_factor)
    callbacks: list[Any] = [monitor]
    if spec.training.early_stopping is not None:
        early = spec.training.early_stopping
        callbacks.append(EarlyStoppingCallback(early.patience, early.threshold))
    checkpoints = out / "checkpoints"
    resume_from = None
    if not resume and world.main:
        shutil.rmtree(checkpoints, ignore_errors=True)  # a later --resume must not pick up an older run's state
    if resume:
        resume_from = _last_checkpoint(checkpoints)
        if resume_from is None:
            raise TrainingError(f"--resume: no checkpoint in {checkpoints}; run without --resume to start over")
        log(f"resuming from {resume_from}")
    trainer = Trainer(
        model=model,
        args=training_arguments(spec, checkpoints, progress=progress, placement=placement, processes=world.size),
        train_dataset=train_set,
        eval_dataset=eval_set,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100),
        callbacks=callbacks,
    )
    if not progress:
        trainer.remove_callback(PrinterCallback)  # its raw log dicts drown the summary below
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    tokenizer.padding_side = "left"
    if not monitor.diverged:
        monitor.adopt_history(trainer.state.log_history)
    log(monitor.summary())
    if monitor.diverged:
        raise DivergedError(
            monitor,
            f"{spec.name}: {monitor.diverged}. The run is stopped and no candidate is registered: lower "
            f"training.learning_rate (now {spec.training.learning_rate:g}), raise training.warmup, or keep "
            "training.max_grad_norm clipping on",
        )
    return trainer.model, monitor, check.__dict__


def _provenance(
    spec: TrainSpec,
    base: Resolved,
    data: PreparedData,
    monitor: Monitor,
    preflight_info: dict[str, Any],
    processes: dict[str, Any],
) -> dict[str, Any]:
    overfit = detect_overfitting(monitor.train, monitor.evals)
    return {
        "name": spec.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "method": spec.method,
        "load_in_4bit": spec.method == "qlora",
        "placement": spec.placement().describe(),  # where it trained and in what (mixed) precision
        "distributed": processes,  # world size, backend, per-device and global batch
        "base_model": {
            "spec": spec.base_model,
            "path": str(base.path),
            "content_hash": content_hash(base, load_in_4bit=False),
        },
        "data": {
            "hash": _data_hash([*data.train, *data.validation]),
            "n_train": len(data.train),
            "n_validation": len(data.validation),
            "n_replay": data.n_replay,
            "replay_replies": spec.data.replay_replies,
            "replay_dropped": list(data.replay_dropped),
            "replay_held_out": len(data.replay_held_out),
            "replay_answered": {c: {"answered": n, "dropped": d} for c, n, d in data.replay_answered},
            "pii": data.pii.counts,
            "duplicates_removed": sum(len(v) for v in data.duplicates_removed.values()),
        },
        "config": spec.to_dict(),
        "seed": spec.training.seed,
        "curves": monitor.curves(),
        "overfitting": overfit.describe() if overfit else None,
        "preflight": {k: v for k, v in preflight_info.items() if isinstance(v, int | float | str | dict)},
        **environment(),
    }


def _check_not_in_use(out: Path, spec: TrainSpec, registry: Registry) -> None:
    """--force deletes the candidate directory: refuse while an alias other than the recipe's own uses it."""
    users = [a for a, e in registry.aliases().items() if a != spec.register_as and Path(e.path) == out]
    if users:
        raise TrainingError(
            f"--force would delete {out}, but {', '.join(users)} points to it; give the recipe another "
            f"`name:` in {spec.path.name} (a new directory) or move those aliases first"
        )


def _sort_adapter_sets(config: Path) -> None:
    """peft writes target_modules in set order; sorted, two identical runs write identical files."""
    if config.is_file():
        raw = json.loads(config.read_text(encoding="utf-8"))
        raw.update({k: sorted(v) for k, v in raw.items() if k in SET_KEYS and isinstance(v, list)})
        write_atomic(config, json.dumps(raw, indent=2, sort_keys=True) + "\n")


def _quiet(_: str) -> None:
    """The log of ranks other than 0: one copy of every line is enough."""


def train(
    spec: TrainSpec,
    *,
    resume: bool = False,
    force: bool = False,
    progress: bool = True,
    registry: Registry | None = None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Train ``spec`` into a candidate and register it. Under torchrun / accelerate launch every process calls
    this and trains its share (DDP); only rank 0 writes the candidate, its provenance and the registry entry,
    and the others return once it has (see training/distributed.py)."""
    from transformers import AutoTokenizer

    world = distributed.current()
    placement = spec.placement()  # CUDA asked for where there is none: say so before preparing any data
    world.per_device_batch(spec.training.batch_size)  # a batch that does not split: say so before anything
    backend = distributed.start(world, placement)
    log = log if world.main else _quiet
    registry = registry or Registry()
    base = _base(spec, registry)
    tokenizer = AutoTokenizer.from_pretrained(str(base.path))
    data = prepare_data(spec, tokenizer, base)
    log(data.format())
    inputs = [
        spec.content_hash(),
        content_hash(base, load_in_4bit=False),
        _data_hash([*data.train, *data.validation]),
        json.dumps(package_versions(TRAINING_PACKAGES), sort_keys=True),  # a new peft or torch trains anew
        *([tag] if (tag := placement.hash_tag()) else []),  # a GPU / bf16 run is another candidate
        *([f"processes={world.size}"] if world.distributed else []),  # DDP sums gradients in another order
    ]
    key = hashlib.sha256(":".join(inputs).encode()).hexdigest()
    out = harness_home() / "candidates" / f"{spec.name}-{key[:12]}"
    reused = (out / PROVENANCE_FILE).is_file() and not force and not resume
    # one decision for all: the same run (spec, base, data, packages) and the same reuse of a finished one
    distributed.agree(world, (key, reused), "the training run's key and whether it is reused")
    if not reused:
        if world.main:
            if force:
                _check_not_in_use(out, spec, registry)
                shutil.rmtree(out, ignore_errors=True)
            out.mkdir(parents=True, exist_ok=True)
        distributed.barrier(world)  # the others train into the directory rank 0 has just prepared
        started = time.perf_counter()
        model, monitor, preflight_info = run_training(
            spec, out, data, tokenizer, base, resume=resume, progress=progress, log=log, world=world
        )
        seconds = round(time.perf_counter() - started, 1)
        if world.main:
            model.save_pretrained(str(out), safe_serialization=True)
            _sort_adapter_sets(out / "adapter_config.json")
            tokenizer.save_pretrained(str(out))
            processes = distributed.describe(
                world, backend, spec.training.batch_size, spec.training.gradient_accumulation_steps
            )
            provenance = {
                **_provenance(spec, base, data, monitor, preflight_info, processes),
                "train_seconds": seconds,
            }
            write_atomic(out / PROVENANCE_FILE, json.dumps(provenance, indent=2) + "\n")
    if world.main:
        _register(spec, out, registry)
    distributed.barrier(world)  # the others return once the candidate is written and registered
    provenance = json.loads((out / PROVENANCE_FILE).read_text(encoding="utf-8"))
    return TrainResult(out, provenance, reused, rank=world.rank)


def _register(spec: TrainSpec, out: Path, registry: Registry) -> None:
    """Point the spec's alias at the candidate in ``out`` (unless it already points at these exact files)."""
    provenance = json.loads((out / PROVENANCE_FILE).read_text(encoding="utf-8"))
    candidate = resolve(ModelSpec(str(out)), registry)
    digest = content_hash(candidate, load_in_4bit=bool(provenance["load_in_4bit"]))
    current = registry.get(spec.register_as)
    if current is None or current.content_hash != digest:
        registry.set(spec.register_as, out, content_hash=digest, reason=f"harness train {spec.path.name}")


def short_run(spec: TrainSpec, *, registry: Registry | None = None) -> dict[str, Any]:
    """Train ``spec`` (usually capped with ``with_max_steps``) into a scratch directory and report how the
    run went: the loss curves and whether it diverged. Nothing is saved or registered."""
    import tempfile

    from transformers import AutoTokenizer

    registry = registry or Registry()
    base = _base(spec, registry)
    tokenizer = AutoTokenizer.from_pretrained(str(base.path))
    data = prepare_data(spec, tokenizer, base)
    monitor: Monitor | None = None
    diverged = None
    with tempfile.TemporaryDirectory(prefix="finetune-gate-") as scratch:
        try:
            _, monitor, _ = run_training(spec, Path(scratch), data, tokenizer, base, progress=False, log=lambda _: None)
        except DivergedError as exc:
            monitor, diverged = exc.monitor, str(exc)
    curves = monitor.curves() if monitor else {"train": [], "validation": []}
    return {"curves": curves, "diverged": diverged, "base_hash": content_hash(base, load_in_4bit=False)}
