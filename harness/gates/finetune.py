"""Fine-tuning run gate: a short real training run of a recipe, as a test case. Its training loss must fall
by a stated fraction, with no NaN or explosion, and the overfitting detector (validation loss rising while
training loss falls) must stay quiet. The run is cached by recipe, data files, base model and training
package versions and placement (device kind, dtype): an unchanged recipe is not retrained on every gating run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from harness.cache import cache_key
from harness.errors import ConfigError
from harness.gates.context import RunContext
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import Check, GateResult
from harness.models import ModelSpec, content_hash, resolve
from harness.provenance import TRAINING_PACKAGES, package_versions
from harness.yamlspec import check_fraction


@dataclass(frozen=True)
class FinetuneGate:
    """A short real training run of a recipe: its loss must fall, with no NaN and no overfitting."""

    kind: Literal["finetune"]
    recipe: str  # a shipped recipe's name (lora) or a training spec YAML relative to the suite file
    max_steps: int = 40
    eval_every: int = 8
    min_loss_drop: float = 0.5  # the training loss must fall by at least this fraction of its first value
    overfit_patience: int = 2  # evaluations of rising validation loss (while training loss falls) that fail it

    def __post_init__(self) -> None:
        check_fraction("min_loss_drop", self.min_loss_drop, open_low=True)
        for key in ("max_steps", "eval_every", "overfit_patience"):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}={getattr(self, key)} must be at least 1")
        needed = (self.overfit_patience + 1) * self.eval_every
        if self.max_steps < needed:
            # fewer evaluations than patience + 1 and the overfitting check could never fail
            raise ConfigError(
                f"max_steps={self.max_steps} allows {self.max_steps // self.eval_every} evaluation(s); the "
                f"overfitting check needs overfit_patience + 1 = {self.overfit_patience + 1}: raise max_steps to "
                f"{needed} or lower eval_every"
            )


def evaluate(case: GateCase[FinetuneGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    from training import api

    recipe = api.load_train_spec(api.find_recipe(spec.recipe, suite.root)).with_max_steps(spec.max_steps)
    recipe = replace(recipe, training=replace(recipe.training, eval_every=spec.eval_every))
    base = resolve(ModelSpec(recipe.base_model), ctx.pool.registry)
    placement = recipe.placement()  # the recipe's device / dtype as resolved here (auto: cuda + bfloat16 on a GPU)
    key = cache_key(
        what="finetune",
        # a bfloat16 GPU run never reuses a float32 CPU run's curves (the recipe's own hash has only "auto")
        placement={"kind": placement.kind, "dtype": placement.dtype},
        recipe=recipe.content_hash(),
        inputs=recipe.inputs_hash(),
        base=content_hash(base, load_in_4bit=False),
        packages=package_versions(TRAINING_PACKAGES),
    )
    run = ctx.cache.get_or_compute(key, lambda: api.short_run(recipe, registry=ctx.pool.registry))
    train = [(int(s), float(v)) for s, v in run["curves"]["train"]]
    evals = [(int(s), float(v)) for s, v in run["curves"]["validation"]]
    if len(train) < 2:
        return GateResult(
            name,
            suite.name,
            "finetune",
            "training loss",
            error=f"the run of {spec.recipe} logged {len(train)} training loss(es): nothing to judge",
        )
    first, last = train[0][1], train[-1][1]
    drop = 1 - last / first if first > 0 else 0.0
    overfit = api.detect_overfitting(train, evals, patience=spec.overfit_patience)
    checks = (
        Check.threshold(
            f"training loss falls by >= {spec.min_loss_drop:.0%}",
            "training loss",
            drop,
            spec.min_loss_drop,
            drop >= spec.min_loss_drop,
            f"training loss went from {first:.4f} to {last:.4f} over {train[-1][0]} steps: a drop of {drop:.1%} "
            f"(needed {spec.min_loss_drop:.0%}).",
        ),
        Check.threshold(
            "no NaN or exploding loss",
            "training loss",
            0.0 if run["diverged"] else 1.0,
            None,
            not run["diverged"],
            run["diverged"] or "every logged loss and gradient norm was finite and below the explosion bound.",
        ),
        Check.threshold(
            "no overfitting",
            "validation loss",
            evals[-1][1] if evals else float("nan"),
            None,
            overfit is None,
            f"overfitting: {overfit.describe()}."
            if overfit
            else f"validation loss did not rise for {spec.overfit_patience} evaluations while training loss fell "
            f"({len(evals)} evaluations).",
        ),
    )
    notes = (f"recipe {spec.recipe} ({recipe.method}), {spec.max_steps} steps from {recipe.base_model}.",)
    return GateResult(name, suite.name, "finetune", "training loss", checks, notes=notes)


register(
    GateKind(
        "finetune",
        FinetuneGate,
        evaluate,
        "a short real fine-tuning run of a recipe: loss falls, no NaN, no overfitting",
    )
)
