"""The deliberate torch thread count: one thread for small models, the default for large ones, an override."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.threads import SMALL_MODEL, threads_for


def test_small_models_run_on_one_thread_and_large_ones_on_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_THREADS", raising=False)
    assert threads_for(2_000_000) == 1
    assert threads_for(SMALL_MODEL) is None


def test_harness_threads_overrides_and_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_THREADS", "3")
    assert threads_for(2_000_000) == 3 and threads_for(10 * SMALL_MODEL) == 3
    monkeypatch.setenv("HARNESS_THREADS", "two")
    with pytest.raises(ConfigError, match="HARNESS_THREADS='two' must be a positive integer"):
        threads_for(1)


def test_processes_sharing_the_machine_divide_its_cpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HARNESS_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert threads_for(10 * SMALL_MODEL) == 4 and threads_for(2_000_000) == 1
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert threads_for(10 * SMALL_MODEL) == 1  # never zero
    monkeypatch.setenv("HARNESS_THREADS", "3")
    assert threads_for(10 * SMALL_MODEL) == 3
