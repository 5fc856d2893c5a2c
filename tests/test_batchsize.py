"""batch_size: auto: halves on out-of-memory (accelerate's search), remembers the size per model and device,
and never changes results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import batchsize
from harness.batchsize import remembered, run_batched
from harness.errors import ConfigError, HarnessError


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    batchsize.forget()
    yield
    batchsize.forget()


class FakeOOM:
    """A run that runs out of memory above ``fits`` items per batch, the way torch says it."""

    def __init__(self, fits: int, torch_error: bool = False) -> None:
        self.fits, self.torch_error, self.tried = fits, torch_error, []  # type: list[int]

    def __call__(self, size: int) -> str:
        self.tried.append(size)
        if size > self.fits:
            message = f"CUDA out of memory. Tried to allocate {size} GiB"
            if self.torch_error:
                import torch

                raise torch.cuda.OutOfMemoryError(message)
            raise RuntimeError(message)
        return f"ran at {size}"


@pytest.mark.parametrize("torch_error", [False, True])
def test_auto_halves_on_out_of_memory_until_a_size_fits(torch_error: bool) -> None:
    run = FakeOOM(fits=12, torch_error=torch_error)
    assert run_batched("auto", run, model_hash="m", device="cuda:0", start=64) == "ran at 8"
    assert run.tried == [64, 32, 16, 8]
    assert remembered("m", "cuda:0") == 8


def test_the_remembered_size_is_reused_per_model_and_device() -> None:
    first = FakeOOM(fits=20)
    run_batched("auto", first, model_hash="m", device="cuda:0", start=64)
    again = FakeOOM(fits=20)
    assert run_batched("auto", again, model_hash="m", device="cuda:0", start=64) == "ran at 16"
    assert again.tried == [16], "the second call starts at the size that worked: no search again"
    other_device = FakeOOM(fits=20)
    run_batched("auto", other_device, model_hash="m", device="cuda:1", start=64)
    other_model = FakeOOM(fits=20)
    run_batched("auto", other_model, model_hash="m2", device="cuda:0", start=64)
    assert other_device.tried[0] == 64 and other_model.tried[0] == 64


def test_a_later_out_of_memory_halves_from_the_remembered_size() -> None:
    run_batched("auto", FakeOOM(fits=40), model_hash="m", device="cuda:0", start=64)
    assert remembered("m", "cuda:0") == 32
    longer = FakeOOM(fits=10)  # longer prompts: 32 no longer fits
    assert run_batched("auto", longer, model_hash="m", device="cuda:0", start=64) == "ran at 8"
    assert longer.tried == [32, 16, 8] and remembered("m", "cuda:0") == 8


def test_a_fixed_size_is_used_as_given_and_not_searched() -> None:
    run = FakeOOM(fits=4)
    with pytest.raises(RuntimeError, match="out of memory"):
        run_batched(8, run, model_hash="m", device="cuda:0")
    assert run.tried == [8] and remembered("m", "cuda:0") is None


def test_other_errors_are_not_retried() -> None:
    calls = []

    def broken(size: int) -> None:
        calls.append(size)
        raise ValueError("a bug, not memory")

    with pytest.raises(ValueError, match="a bug"):
        run_batched("auto", broken, model_hash="m", device="cpu", start=64)
    assert calls == [64]


def test_not_even_one_fits_names_the_fix() -> None:
    with pytest.raises(HarnessError, match="even a batch of 1 runs out of memory on cuda:0"):
        run_batched("auto", FakeOOM(fits=0), model_hash="m", device="cuda:0", start=4)


@pytest.mark.parametrize("bad", [0, -3, "big", 2.5, True])
def test_bad_batch_sizes_are_named(bad: object) -> None:
    from harness.run import DecodingSettings

    with pytest.raises(ConfigError, match=r"batch_size=.* must be a whole number of at least 1, or auto"):
        DecodingSettings(batch_size=bad)  # type: ignore[arg-type]


def test_suite_yaml_accepts_auto(tmp_path: Path) -> None:
    from harness.spec import load_suite

    path = tmp_path / "test_s.yaml"
    gates = "gates: {f: {kind: forgetting, cases: f.jsonl}}\n"
    path.write_text("suite: s\ndecoding: {batch_size: auto}\n" + gates)
    assert load_suite(path).decoding.batch_size == "auto"
    path.write_text("suite: s\ndecoding: {batch_size: lots}\n" + gates)
    with pytest.raises(ConfigError, match=r"decoding\.batch_size"):
        load_suite(path)


def test_auto_on_a_real_model_gives_the_results_of_batch_one(tiny_model_dir: Path) -> None:
    from harness.cases import Case, Message
    from harness.models import ModelSpec, load
    from harness.run import DecodingSettings, generate, loglikelihood

    loaded = load(ModelSpec(str(tiny_model_dir)))
    cases = [
        Case(f"c{i}", "fact", (Message("user", "What is the capital " + "of " * i + "Veltra?"),), "Ost")
        for i in range(5)
    ]
    auto = generate(loaded, cases, DecodingSettings(max_new_tokens=6, batch_size="auto"))
    one = generate(loaded, cases, DecodingSettings(max_new_tokens=6, batch_size=1))
    assert auto == one
    requests = [(c.messages, "Ostmark") for c in cases]
    assert loglikelihood(loaded, requests, "auto") == pytest.approx(loglikelihood(loaded, requests, 1), abs=1e-4)
    assert remembered(loaded.content_hash, "cpu") == batchsize.AUTO_START  # nothing ran out of memory
