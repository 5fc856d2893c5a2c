"""Benchmark retention: an lm-eval task for the candidate and the base model, per sample, aligned by doc id.

The retention ratio candidate / base must stay above ``min_ratio``. It is decided as a paired
non-inferiority test with margin (1 - min_ratio) x base score, so a ratio that merely looks fine on a small
sample is not a PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib.metadata import version
from typing import Literal

from harness.cache import cache_key, paths_hash
from harness.errors import ConfigError
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import GateResult
from harness.lm_eval_bridge import WORLD_TASKS_DIR, run_tasks
from harness.scores import ScoreTable
from harness.spec import SuiteSpec
from harness.yamlspec import check_fraction


@dataclass(frozen=True)
class RetentionGate:
    """lm-eval tasks: candidate / base score above ``min_ratio``, decided by a paired test."""

    kind: Literal["retention"]
    tasks: tuple[str, ...]
    min_ratio: float = 0.95
    metrics: dict[str, str] = field(default_factory=dict)  # task -> metric ("acc_norm"), default: the task's first
    include: tuple[str, ...] = ()  # extra lm-eval task directories, relative to the suite file
    limit: int | None = None

    def __post_init__(self) -> None:
        if not self.tasks:
            raise ConfigError("tasks is empty: name at least one lm-eval task")
        if len(set(self.tasks)) != len(self.tasks):
            raise ConfigError(f"tasks {list(self.tasks)} names a task twice: list each task once")
        check_fraction("min_ratio", self.min_ratio, open_low=True)
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit={self.limit} must be at least 1 (items per task), or left out for all")


def task_table(role: str, task: str, spec: RetentionGate, suite: SuiteSpec, ctx: RunContext) -> ScoreTable:
    """The per-sample table of ``role`` on ``task``, from the cache when model, task files and world match."""
    includes = [WORLD_TASKS_DIR, *(suite.resolve(p) for p in spec.include)]
    world = ctx.world(suite)
    key = cache_key(
        what="lm-eval",
        model=ctx.pool.role(role).content_hash,
        task=task,
        metric=spec.metrics.get(task),
        limit=spec.limit,
        seed=ctx.seed,
        lm_eval=version("lm_eval"),
        tasks=paths_hash(includes),
        world=world.content_hash(),
    )

    def run() -> dict:
        result = run_tasks(
            ctx.pool.load(role),
            [task],
            include_paths=includes,
            limit=spec.limit,
            seed=ctx.seed,
            metrics={task: spec.metrics[task]} if task in spec.metrics else None,
            world_dir=world.root,
        )[task]
        return result.table.to_dict()

    before = ctx.cache.misses
    raw = ctx.cache.get_or_compute(key, run)
    table = ScoreTable.from_dict(raw, where=f"cached lm-eval result of {task}")
    (ctx.computed if ctx.cache.misses > before else ctx.reused)[role] += len(table)
    return table


def evaluate(case: GateCase[RetentionGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    task = str(case.param)  # one test item per task
    candidate = task_table("candidate", task, spec, suite, ctx)
    base = task_table("base", task, spec, suite, ctx)
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, "base", base)
    base_mean = base.mean()
    if base_mean <= 0:
        return GateResult(
            name,
            suite.name,
            "retention",
            candidate.metric,
            failure=f"the base model scores {base_mean:g} on {task}: a retention ratio is undefined; remove the task "
            "from the suite or pick a task the base model can do",
        )
    outcome = compare_tables(
        f"retention of {task} vs base (ratio >= {spec.min_ratio:g})",
        candidate,
        base,
        margin=(1 - spec.min_ratio) * base_mean,
        alpha=suite.alpha,
        seed=ctx.seed,
    )
    check = outcome.check
    ratio = candidate.mean() / base_mean
    ratio_ci = [None if b is None else 1 + b / base_mean for b in (check.ci_low, check.ci_high)]
    details = {**check.details, "ratio": ratio, "ratio_ci": ratio_ci, "min_ratio": spec.min_ratio, "task": task}
    check = replace(check, details=details)
    note = (
        f"retention ratio {ratio:.3f} (interval {ratio_ci[0]:.3f} to {ratio_ci[1]:.3f}) against a floor of "
        f"{spec.min_ratio:g}; lm-eval {candidate.metric}: candidate {candidate.mean():.3f}, base {base_mean:.3f}."
        if None not in ratio_ci
        else f"retention ratio {ratio:.3f} against a floor of {spec.min_ratio:g}."
    )
    return GateResult(
        name, suite.name, "retention", candidate.metric, (check,), outcome.flipped, outcome.improved, notes=(note,)
    )


register(
    GateKind(
        "retention",
        RetentionGate,
        evaluate,
        "lm-eval benchmark retention, candidate vs --base-model",
        params=lambda spec: spec.tasks,
    )
)
