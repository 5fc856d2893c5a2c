"""Watching a training run: loss curves, divergence (NaN or exploding loss) and overfitting.

Overfitting is the classic signature: the validation loss has risen for ``patience`` evaluations in a row
above its best value while the training loss kept falling over the same stretch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from transformers import TrainerCallback


@dataclass(frozen=True)
class Overfit:
    best_step: int
    best_eval_loss: float
    last_step: int
    last_eval_loss: float
    train_loss_at_best: float
    train_loss_last: float

    def describe(self) -> str:
        return (
            f"validation loss rose from {self.best_eval_loss:.4f} (step {self.best_step}) to "
            f"{self.last_eval_loss:.4f} (step {self.last_step}) while training loss fell from "
            f"{self.train_loss_at_best:.4f} to {self.train_loss_last:.4f}"
        )


def _train_loss_near(train: list[tuple[int, float]], step: int) -> float | None:
    """The last training loss logged at or before ``step``."""
    before = [loss for s, loss in train if s <= step]
    return before[-1] if before else None


def detect_overfitting(
    train: list[tuple[int, float]], evals: list[tuple[int, float]], *, patience: int = 2, threshold: float = 0.0
) -> Overfit | None:
    """``train`` and ``evals`` are (step, loss) curves; None unless the signature holds at the end."""
    if len(evals) < patience + 1:
        return None
    best_index = min(range(len(evals)), key=lambda i: evals[i][1])
    best = evals[best_index][1]
    # The last `patience` evaluations all worse than the best (as EarlyStoppingCallback counts them); a dip
    # in between does not hide it.
    if best_index >= len(evals) - patience or not all(loss > best + threshold for _, loss in evals[-patience:]):
        return None
    train_at_best = _train_loss_near(train, evals[best_index][0])
    train_last = _train_loss_near(train, evals[-1][0])
    if train_at_best is None or train_last is None or not train_last < train_at_best:
        return None
    return Overfit(evals[best_index][0], evals[best_index][1], evals[-1][0], evals[-1][1], train_at_best, train_last)


@dataclass
class Monitor(TrainerCallback):
    """Records the loss curves and stops the run when the loss turns NaN/inf or explodes."""

    explosion_factor: float = 4.0
    train: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float]] = field(default_factory=list)
    diverged: str | None = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        if "eval_loss" in logs:
            self.evals.append((state.global_step, float(logs["eval_loss"])))
            if not math.isfinite(self.evals[-1][1]):
                self.diverged = f"the validation loss became {self.evals[-1][1]} at step {state.global_step}"
                control.should_training_stop = True
        if "loss" not in logs:
            return
        loss, grad_norm = float(logs["loss"]), float(logs.get("grad_norm", 0.0))
        first = self.train[0][1] if self.train else None
        self.train.append((state.global_step, loss))
        if not math.isfinite(loss):
            self.diverged = f"the training loss became {loss} at step {state.global_step}"
        elif not math.isfinite(grad_norm):
            self.diverged = f"the gradient norm became {grad_norm} at step {state.global_step} (loss {loss:.4g})"
        elif first is not None and loss > self.explosion_factor * first:
            self.diverged = (
                f"the training loss exploded to {loss:.4g} at step {state.global_step}, over "
                f"{self.explosion_factor:g} times its first value {first:.4g}"
            )
        if self.diverged:
            control.should_training_stop = True

    def adopt_history(self, history: list[dict[str, Any]]) -> None:
        """Take the curves from the trainer's whole log history: a resumed run restores the part logged before
        its checkpoint, which this callback never saw."""
        self.train = [(int(h["step"]), float(h["loss"])) for h in history if "loss" in h and "step" in h]
        self.evals = [(int(h["step"]), float(h["eval_loss"])) for h in history if "eval_loss" in h and "step" in h]

    def summary(self) -> str:
        """One line: how far the run went and where its losses ended."""
        if not self.train:
            return "no training step was logged"
        line = f"{self.train[-1][0]} steps, training loss {self.train[0][1]:.4g} -> {self.train[-1][1]:.4g}"
        if self.evals:
            best = min(self.evals, key=lambda e: e[1])
            line += f", validation loss {self.evals[-1][1]:.4g} (best {best[1]:.4g} at step {best[0]})"
        return line

    def curves(self) -> dict[str, list[list[float]]]:
        return {"train": [[s, v] for s, v in self.train], "validation": [[s, v] for s, v in self.evals]}
