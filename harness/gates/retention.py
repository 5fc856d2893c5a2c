"""Benchmark retention: an lm-eval task for the candidate and the base model, per sample, aligned by doc id.

The retention ratio must stay above ``min_ratio``. It follows the metric's direction (lm-eval's
``higher_is_better``): candidate / base for a score (accuracy), base / candidate for a loss (perplexity), so
a ratio below 1 always means the candidate retained less. It is decided as a paired non-inferiority test on
candidate - base, with margin (1 - min_ratio) x base for a score and (1 / min_ratio - 1) x base for a loss
(the same ratio floor, written as a difference), so a ratio that merely looks fine on a small sample is not a
PASS.
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
        schema=2,  # tables record higher_is_better
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
    higher = direction(candidate, base, task)
    if isinstance(higher, str):
        return GateResult(name, suite.name, "retention", candidate.metric, failure=higher)
    if base_mean <= 0 or (not higher and candidate.mean() <= 0):
        which = "base model" if base_mean <= 0 else "candidate"
        score = base_mean if base_mean <= 0 else candidate.mean()
        return GateResult(
            name,
            suite.name,
            "retention",
            candidate.metric,
            failure=f"the {which} scores {score:g} on {task}: a retention ratio is undefined; remove the task "
            "from the suite or pick a task the base model can do",
        )
    margin = (1 - spec.min_ratio) * base_mean if higher else (1 / spec.min_ratio - 1) * base_mean
    way = "candidate / base" if higher else f"base / candidate: lower {candidate.metric} is better"
    outcome = compare_tables(
        f"retention of {task} vs base ({way}, ratio >= {spec.min_ratio:g})",
        candidate,
        base,
        margin=margin,
        alpha=suite.alpha,
        higher_is_better=higher,
        seed=ctx.seed,
    )
    check = outcome.check
    ratio = retention_ratio(candidate.mean(), base_mean, higher)
    # the interval of candidate - base, mapped through the ratio (increasing in the difference for a score,
    # decreasing for a loss; a bound where the candidate's mean would be <= 0 maps to no finite ratio)
    low, high = (
        None if b is None else _ratio_of_difference(b, base_mean, higher) for b in (check.ci_low, check.ci_high)
    )
    ratio_ci = [high, low] if low is not None and high is not None and low > high else [low, high]
    details = {
        **check.details,
        "ratio": ratio,
        "ratio_ci": ratio_ci,
        "min_ratio": spec.min_ratio,
        "task": task,
        "higher_is_better": higher,
    }
    check = replace(check, details=details)
    direction_note = (
        f"higher {candidate.metric} is better: ratio = candidate / base"
        if higher
        else f"lower {candidate.metric} is better: ratio = base / candidate"
    )
    per_doc = candidate.provenance.get("per_document")
    measured = f"lm-eval {candidate.metric}" + (f" ({per_doc})" if per_doc else "")
    note = (
        f"retention ratio {ratio:.3f} (interval {ratio_ci[0]:.3f} to {ratio_ci[1]:.3f}) against a floor of "
        f"{spec.min_ratio:g} ({direction_note}); {measured}: candidate {candidate.mean():.4g}, base {base_mean:.4g}."
        if None not in ratio_ci
        else f"retention ratio {ratio:.3f} against a floor of {spec.min_ratio:g} ({direction_note})."
    )
    return GateResult(
        name, suite.name, "retention", candidate.metric, (check,), outcome.flipped, outcome.improved, notes=(note,)
    )


def direction(candidate: ScoreTable, base: ScoreTable, task: str) -> bool | str:
    """lm-eval's higher_is_better for the task's metric, recorded in both tables; a failure message if the two
    disagree or it is missing (an unknown direction must not be guessed)."""
    sides = {t.provenance.get("higher_is_better") for t in (candidate, base)}
    if len(sides) == 1 and isinstance(next(iter(sides)), bool):
        return bool(next(iter(sides)))
    return (
        f"lm-eval did not report one direction (higher_is_better) for {task}'s {candidate.metric}: candidate "
        f"{candidate.provenance.get('higher_is_better')!r}, base {base.provenance.get('higher_is_better')!r}; "
        "clear the result cache ($HARNESS_HOME/cache) and gate again"
    )


def retention_ratio(candidate: float, base: float, higher_is_better: bool) -> float:
    """How much of the base model's level the candidate keeps: below 1 is worse, whatever the direction."""
    return candidate / base if higher_is_better else base / candidate


def _ratio_of_difference(difference: float, base: float, higher_is_better: bool) -> float | None:
    candidate = base + difference
    if not higher_is_better and candidate <= 0:
        return None
    return retention_ratio(candidate, base, higher_is_better)


register(
    GateKind(
        "retention",
        RetentionGate,
        evaluate,
        "lm-eval benchmark retention, candidate vs --base-model",
        params=lambda spec: spec.tasks,
    )
)
