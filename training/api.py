"""The one door from ``harness`` into ``training``.

harness reaches training only through this module, and only from inside the functions that train (``harness
world build``, the finetune gate, ``harness train`` / ``merge``, the demo): ``from training import api``. So
importing harness (the pytest plugin, the spec loader, the gates) never imports training, torch or
transformers. The dependency runs one way: training uses harness's public modules (errors, cases, models,
registry, world, evalsets), and nothing in harness imports training at module level.
"""

from __future__ import annotations

from training.config import RECIPES_DIR, TrainSpec, find_recipe, load_train_spec
from training.merge import merge
from training.monitor import Overfit, detect_overfitting
from training.pretrain import PretrainConfig, pretrain
from training.train import TrainResult, short_run, train

__all__ = [
    "RECIPES_DIR",
    "Overfit",
    "PretrainConfig",
    "TrainResult",
    "TrainSpec",
    "detect_overfitting",
    "find_recipe",
    "load_train_spec",
    "merge",
    "pretrain",
    "short_run",
    "train",
]
