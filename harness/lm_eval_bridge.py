"""Run lm-eval tasks on an already-loaded model and keep lm-eval's per-sample scores as ScoreTables.

    ModelBackend --lm_eval_model() (HFLM wraps it: no reload)--> simple_evaluate(log_samples) --by doc id--> TaskResult

One row per evaluated document: id = the doc's own "id" field (else ``doc-<n>``), score = the task's metric
for that doc. The rows' mean must reproduce lm-eval's own aggregate; a mismatch means the alignment is wrong
and is an error, never a silent number.

The world's tasks ship in harness/data/lm_eval (``world_capitals_mc``: multiple choice by log-likelihood;
``world_arithmetic_gen``: generation scored by exact match). Any other task name the installed lm-eval
resolves (or a directory added to ``include_paths``) works the same way.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import math
import numbers
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from harness.backends import ModelBackend
from harness.batchsize import BatchSize
from harness.batchsize import check as check_batch_size
from harness.errors import ConfigError, DataError
from harness.models import LoadedModel
from harness.resources import lm_eval_dir
from harness.scores import ScoreRow, ScoreTable

WORLD_TASKS_DIR = lm_eval_dir()  # package data: harness/data/lm_eval
TOLERANCE = 1e-9  # per-sample mean vs lm-eval's aggregate: both are means of the same floats


@dataclass(frozen=True)
class TaskResult:
    task: str
    metric: str  # e.g. "acc", "exact_match"
    table: ScoreTable  # one row per document, provenance included (log_<metric> rows for a corpus perplexity)
    aggregate: float  # lm-eval's own reported value for ``metric``
    higher_is_better: bool

    @property
    def n(self) -> int:
        return len(self.table)


def run_tasks(
    loaded: ModelBackend | LoadedModel,
    tasks: Sequence[str],
    *,
    include_paths: Sequence[Path] = (WORLD_TASKS_DIR,),
    limit: int | None = None,
    batch_size: BatchSize = 16,
    seed: int = 0,
    apply_chat_template: bool | None = None,
    metrics: Mapping[str, str] | None = None,
    world_dir: Path | None = None,
) -> dict[str, TaskResult]:
    """Evaluate ``loaded`` on lm-eval ``tasks`` (names, groups or YAML paths); one result per leaf task.

    ``apply_chat_template=None`` uses the tokenizer's chat template when it has one: prompts become
    ``<|user|>question<|end|><|assistant|>`` and options follow the assistant tag with no delimiter.
    ``metrics`` picks a task's metric ("acc_norm", or "exact_match,flexible-extract" to pick the filter too);
    the default is the task's first metric under its first filter. ``world_dir`` points the world tasks at
    another world (otherwise $HARNESS_WORLD_DIR or the packaged world).
    """
    names = [tasks] if isinstance(tasks, str) else list(tasks)  # a bare name is one task, not its letters
    if not names:
        raise ConfigError("no lm-eval tasks given: name at least one (e.g. world_capitals_mc)")
    if limit is not None and limit < 1:
        raise ConfigError(f"limit={limit} must be at least 1 document (or None for all)")
    check_batch_size(batch_size)
    from lm_eval import simple_evaluate  # lazy: importing lm-eval takes seconds

    from harness.backends.hf import as_backend

    model = as_backend(loaded)  # a plain LoadedModel is the transformers backend
    chat = model.has_chat_template if apply_chat_template is None else apply_chat_template
    metadata = {"world_dir": str(world_dir)} if world_dir is not None else {}
    manager = _task_manager(names, include_paths, metadata)
    built = _build_tasks(manager, names)
    if unknown := sorted(set(metrics or {}) - built.keys()):
        raise ConfigError(f"metrics= names {unknown}, which are not among the tasks run {sorted(built)}: fix the keys")
    results = simple_evaluate(
        model=model.lm_eval_model(batch_size),  # the same model: HFLM around it, or the backend's own LM
        tasks=list(built.values()),
        task_manager=manager,  # else simple_evaluate indexes every built-in task again (~10 s)
        limit=limit,
        log_samples=True,
        bootstrap_iters=0,  # lm-eval's stderrs are not used: the gate's paired statistics replace them
        apply_chat_template=chat,
        fewshot_as_multiturn=chat,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
    )
    if results is None:  # only non-zero ranks of a distributed run get None; a wrapped model is rank 0
        raise DataError("lm-eval returned no results: run the gate in a single process (no accelerate launch)")
    run: dict[str, Any] = {
        "model": model.name,
        "model_hash": model.content_hash,
        "limit": limit,
        "seed": seed,
        "chat": chat,
    }
    return {name: _task_result(name, task, results, (metrics or {}).get(name), run) for name, task in built.items()}


def _task_manager(tasks: Sequence[str], include_paths: Sequence[Path], metadata: dict[str, Any]) -> Any:
    """A TaskManager that resolves every name; lm-eval's own ~15k tasks are indexed only when needed."""
    from lm_eval.tasks import TaskManager

    paths = [str(Path(p).resolve()) for p in include_paths]
    for path in paths:
        if not Path(path).is_dir():
            raise ConfigError(f"lm-eval include path {path} is not a directory: fix include_paths")
    local = TaskManager(include_path=paths, include_defaults=False, metadata=metadata)
    if all(_resolves(local, name) for name in tasks):
        return local
    manager = TaskManager(include_path=paths, metadata=metadata)
    unknown = [name for name in tasks if not _resolves(manager, name)]
    if unknown:
        import difflib

        hints = {name: difflib.get_close_matches(name, manager.all_tasks, n=3) for name in unknown}
        raise ConfigError(
            f"lm-eval cannot resolve task(s) {unknown} (close matches: {hints}): check the spelling "
            f"(`lm_eval ls tasks`), or add the directory holding the task's YAML to include_paths ({paths})"
        )
    return manager


def _resolves(manager: Any, name: str) -> bool:
    return name in manager.all_tasks or (name.endswith(".yaml") and Path(name).is_file())


def _build_tasks(manager: Any, names: Sequence[str]) -> dict[str, Any]:
    """Leaf task objects by name (groups and tags expand to their tasks), built one name at a time."""
    built: dict[str, Any] = {}
    for name in names:
        try:
            built.update(manager.load([name])["tasks"])
        except Exception as exc:  # a missing dataset, a bad YAML, a !function that fails: name the task
            offline = os.environ.get("HF_DATASETS_OFFLINE", "") not in ("", "0")
            hint = " (HF_DATASETS_OFFLINE is set: a hub dataset must be in the local cache)" if offline else ""
            raise ConfigError(
                f"lm-eval task {name!r} could not be built: {type(exc).__name__}: {exc}. Fix its YAML or its "
                f"dataset{hint}"
            ) from exc
    return built


def _task_result(
    name: str, task: Any, results: Mapping[str, Any], choice: str | None, run: dict[str, Any]
) -> TaskResult:
    metric, key = _metric_key(name, task, results, choice)
    samples = [s for s in results["samples"][name] if s["filter"] == key.split(",", 1)[1]]
    n = int(results["n-samples"][name]["effective"])
    by_doc = _by_doc_id(name, samples, n)
    rows = tuple(_row(name, metric, task, by_doc[i], i) for i in range(n))
    _check_unique(name, rows)
    aggregate = float(results["results"][name][key])
    if metric in CORPUS_METRICS:
        # the aggregate is over the corpus (exp of a weighted mean): recompute it from the logged pairs
        mean = CORPUS_METRICS[metric].corpus_value([_pair(name, metric, by_doc[i], i) for i in range(n)])
        close = math.isclose(mean, aggregate, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    else:
        mean = math.fsum(row.score for row in rows) / n
        close = abs(mean - aggregate) <= TOLERANCE
    if not close:
        raise DataError(
            f"lm-eval task {name!r}: the {n} per-sample {key!r} scores give {mean!r} but lm-eval "
            f"reports {aggregate!r}: either samples are misaligned (a bug here: report it) or {metric!r} is not "
            "a mean of per-document scores: pick a per-document metric with metrics={task: metric}"
        )
    digest = hashlib.sha256("".join(by_doc[i]["doc_hash"] + by_doc[i]["target_hash"] for i in range(n)).encode())
    provenance = {
        "source": "lm-eval",
        "task": name,
        "metric": metric,
        "filter": key.split(",", 1)[1],
        "lm_eval_version": version("lm_eval"),
        "task_config_hash": _config_hash(task),
        "docs_hash": digest.hexdigest(),
        "num_fewshot": results["n-shot"].get(name),
        **run,
    }
    higher = bool(results["higher_is_better"][name][metric])
    provenance["higher_is_better"] = higher
    row_metric = metric
    if metric in CORPUS_METRICS:
        row_metric = CORPUS_METRICS[metric].row_metric(metric)
        provenance["per_document"] = (
            f"{row_metric} of each document alone; lm-eval's {metric} over the corpus is {aggregate:g}"
        )
    return TaskResult(name, metric, ScoreTable(row_metric, rows, provenance), aggregate, higher)


def _metric_key(name: str, task: Any, results: Mapping[str, Any], choice: str | None) -> tuple[str, str]:
    """(metric, "metric,filter") for this task: the requested one, else first metric under first filter."""
    reported = [k for k in results["results"][name] if "," in k and "_stderr," not in k]
    wanted = choice or next(iter(task.higher_is_better()))
    key = wanted if "," in wanted else next((k for k in reported if k.split(",", 1)[0] == wanted), wanted)
    if key not in reported:
        raise ConfigError(
            f"lm-eval task {name!r} reports no metric {wanted!r}: choose one of {reported} "
            "in metrics={task: 'metric' or 'metric,filter'}"
        )
    return key.split(",", 1)[0], key


def _by_doc_id(name: str, samples: Sequence[Mapping[str, Any]], n: int) -> dict[int, Mapping[str, Any]]:
    by_doc: dict[int, Mapping[str, Any]] = {}
    for sample in samples:
        doc_id = int(sample["doc_id"])
        if doc_id in by_doc:
            raise DataError(
                f"lm-eval task {name!r} logged doc {doc_id} twice under one filter: per-sample scores "
                "cannot be aligned; run it without repeats or distributed ranks"
            )
        by_doc[doc_id] = sample
    missing = sorted(set(range(n)) - by_doc.keys())
    extra = sorted(by_doc.keys() - set(range(n)))
    if missing or extra:
        raise DataError(
            f"lm-eval task {name!r} evaluated {n} docs but log_samples has {len(by_doc)}: missing doc ids "
            f"{missing[:10]}, unexpected {extra[:10]}. Run it in a single process with log_samples and no "
            "`samples=` selection"
        )
    return by_doc


def _pair(name: str, metric: str, sample: Mapping[str, Any], doc_id: int) -> tuple[float, float]:
    """(log-likelihood, weight) that lm-eval logs for a corpus perplexity metric (weight 1 for ``perplexity``)."""
    value = sample.get(metric)
    if isinstance(value, numbers.Real):
        return float(value), 1.0
    if isinstance(value, Sequence) and len(value) == 2 and all(isinstance(v, numbers.Real) for v in value):
        ll, weight = float(value[0]), float(value[1])
        if weight > 0:
            return ll, weight
    raise DataError(
        f"lm-eval task {name!r} doc {doc_id}: metric {metric!r} logged {value!r}, not a log-likelihood and a "
        "positive word or byte count: the document may be empty; remove it from the task's data"
    )


@dataclass(frozen=True)
class CorpusMetric:
    """An lm-eval metric it aggregates over the whole corpus from per-document (log-likelihood, weight) pairs:
    ``-sum(ll) / sum(weight) * scale`` (nats or bits per word, byte or document), exponentiated for a
    perplexity. Lower is better.

    A row holds the same loss for its document alone, on the log scale (``log_word_perplexity``: nats per
    word): per-document perplexities are heavy-tailed (one odd line can be a million times another), their
    logs average and pair well. The rows are checked against lm-eval's corpus value by recomputing that value
    from the logged pairs."""

    scale: float
    exponentiate: bool

    def loss(self, pairs: Sequence[tuple[float, float]]) -> float:
        return -math.fsum(p[0] for p in pairs) / math.fsum(p[1] for p in pairs) * self.scale

    def corpus_value(self, pairs: Sequence[tuple[float, float]]) -> float:
        return math.exp(self.loss(pairs)) if self.exponentiate else self.loss(pairs)

    def row_metric(self, metric: str) -> str:
        return f"log_{metric}" if self.exponentiate else metric


CORPUS_METRICS = {
    "perplexity": CorpusMetric(1.0, exponentiate=True),  # loglikelihood tasks: weight 1 per document
    "word_perplexity": CorpusMetric(1.0, exponentiate=True),
    "byte_perplexity": CorpusMetric(1.0, exponentiate=True),
    "bits_per_byte": CorpusMetric(1 / math.log(2), exponentiate=False),
}


def _row(name: str, metric: str, task: Any, sample: Mapping[str, Any], doc_id: int) -> ScoreRow:
    doc = sample["doc"] if isinstance(sample["doc"], Mapping) else {}
    value = sample.get(metric)
    if metric in CORPUS_METRICS:
        value = CORPUS_METRICS[metric].loss([_pair(name, metric, sample, doc_id)])
    if not isinstance(value, numbers.Real):  # numpy scalars included; f1/bleu log (gold, pred) tuples
        raise DataError(
            f"lm-eval task {name!r} doc {doc_id}: metric {metric!r} is {value!r}, not a per-document number "
            "(it is aggregated over the corpus): pick a per-document metric with metrics={task: metric}"
        )
    own_id = doc.get("id")
    row_id = str(own_id) if own_id not in (None, "") else f"doc-{doc_id}"
    cluster = doc.get("cluster")
    return ScoreRow(row_id, float(value), _output(task, sample), str(cluster) if cluster is not None else None)


def _output(task: Any, sample: Mapping[str, Any]) -> str | None:
    """The filtered generation, or the option with the highest log-likelihood for multiple choice."""
    responses = sample["filtered_resps"]
    if task.OUTPUT_TYPE == "multiple_choice":
        choices = task.doc_to_choice(sample["doc"])
        lls = [float(resp[0]) for resp in responses][: len(choices)]  # acc_mutual_info appends unconditional lls
        return str(choices[max(range(len(lls)), key=lls.__getitem__)])  # first maximum, like lm-eval's argmax
    first = responses[0] if responses else None
    return first if isinstance(first, str) else None


def _check_unique(name: str, rows: Sequence[ScoreRow]) -> None:
    dupes = sorted(row_id for row_id, count in Counter(row.id for row in rows).items() if count > 1)
    if dupes:
        raise DataError(
            f"lm-eval task {name!r}: the dataset's 'id' field repeats {dupes[:5]}: paired statistics need one "
            "row per item: make the ids unique in the task's data (or drop the field to use doc positions)"
        )


def _config_hash(task: Any) -> str:
    """sha256 of the task's resolved config (functions by source), without where it was found on disk."""
    config = task.dump_config()
    config["metadata"] = {"version": (config.get("metadata") or {}).get("version")}  # paths are not content
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=_stable).encode()).hexdigest()


def _stable(value: Any) -> str:
    """JSON for what json cannot encode: functions by their source, anything else by its repr without the
    memory address that would make the hash differ from run to run."""
    if callable(value):
        try:
            return inspect.getsource(value)
        except (OSError, TypeError):
            pass
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(value))
