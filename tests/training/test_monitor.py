"""The overfitting detector and the divergence guard."""

from __future__ import annotations

from types import SimpleNamespace

from training.monitor import Monitor, detect_overfitting


def test_overfitting_is_rising_validation_loss_while_training_loss_falls() -> None:
    train = [(s, 2.0 - s / 100) for s in range(0, 100, 10)]
    evals = [(20, 1.0), (40, 0.8), (60, 0.85), (80, 0.9)]
    found = detect_overfitting(train, evals, patience=2)
    assert found is not None and (found.best_step, found.last_step) == (40, 80)
    assert "rose from 0.8000 (step 40) to 0.9000 (step 80)" in found.describe()


def test_a_dip_after_the_best_does_not_hide_overfitting() -> None:
    train = [(s, 2.0 - s / 100) for s in range(0, 130, 10)]
    evals = [(20, 1.0), (40, 0.8), (60, 0.9), (80, 1.0), (100, 0.99), (120, 1.1)]
    found = detect_overfitting(train, evals, patience=2)
    assert found is not None and (found.best_step, found.last_step) == (40, 120)
    assert detect_overfitting(train, [*evals[:-1], (120, 0.7)], patience=2) is None  # a new best: recovered


def test_no_overfitting_when_validation_improves_or_training_loss_rises_too() -> None:
    train = [(s, 2.0 - s / 100) for s in range(0, 100, 10)]
    assert detect_overfitting(train, [(20, 1.0), (40, 0.8), (60, 0.7), (80, 0.75)], patience=2) is None
    assert detect_overfitting(train, [(20, 1.0), (40, 0.8)], patience=2) is None  # too few evaluations
    rising_train = [(s, 1.0 + s / 100) for s in range(0, 100, 10)]
    assert detect_overfitting(rising_train, [(20, 1.0), (40, 0.8), (60, 0.85), (80, 0.9)], patience=2) is None


def _log(monitor: Monitor, step: int, **logs: float) -> SimpleNamespace:
    control = SimpleNamespace(should_training_stop=False)
    monitor.on_log(None, SimpleNamespace(global_step=step), control, logs=logs)
    return control


def test_nan_or_exploding_loss_stops_the_run() -> None:
    monitor = Monitor(explosion_factor=4.0)
    assert not _log(monitor, 1, loss=2.0, grad_norm=1.0).should_training_stop
    assert not _log(monitor, 2, loss=7.9).should_training_stop
    assert _log(monitor, 3, loss=8.5).should_training_stop
    assert "exploded to 8.5 at step 3" in str(monitor.diverged)
    nan = Monitor()
    _log(nan, 1, loss=2.0)
    assert _log(nan, 2, loss=float("nan")).should_training_stop and "nan" in str(nan.diverged)


def test_curves_are_recorded() -> None:
    monitor = Monitor()
    _log(monitor, 5, loss=1.5)
    _log(monitor, 5, eval_loss=1.7)
    assert monitor.curves() == {"train": [[5, 1.5]], "validation": [[5, 1.7]]}


def test_summary_names_the_loss_trajectory_and_the_best_validation_step() -> None:
    monitor = Monitor()
    assert monitor.summary() == "no training step was logged"
    _log(monitor, 10, loss=2.0)
    _log(monitor, 10, eval_loss=1.9)
    _log(monitor, 20, loss=1.0)
    _log(monitor, 20, eval_loss=2.1)
    assert monitor.summary() == ("20 steps, training loss 2 -> 1, validation loss 2.1 (best 1.9 at step 10)")
