"""Multi-process training: the launcher's environment, the global batch split over processes, rank 0 as the
only writer (faked ranks, seconds), and real 2-process runs on the CPU with gloo, launched by torchrun and by
accelerate (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.errors import ConfigError
from harness.registry import Registry
from tests.training.test_train import write_spec
from training import distributed
from training import train as train_module
from training.config import load_train_spec, training_kwargs
from training.distributed import RankMismatchError, World

ROOT = Path(__file__).resolve().parents[2]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_the_world_comes_from_the_launchers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in distributed.ENV:
        monkeypatch.delenv(name, raising=False)
    assert distributed.current() == World() and World().main and not World().distributed
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert distributed.current() == World(rank=1, size=2, local_rank=0, local_size=2)
    assert not distributed.current().main and distributed.current().distributed
    monkeypatch.setenv("RANK", "2")
    with pytest.raises(ConfigError, match=r"RANK=2, WORLD_SIZE=2: the rank must be in \[0, WORLD_SIZE\)"):
        distributed.current()
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match="WORLD_SIZE='two' must be a non-negative integer"):
        distributed.current()


def test_the_recipes_batch_is_the_global_batch(tmp_path: Path, tiny_model_dir: Path) -> None:
    spec = load_train_spec(write_spec(tmp_path, tiny_model_dir))  # batch_size 8
    one, two = (training_kwargs(spec, tmp_path, processes=n) for n in (1, 2))
    assert (one["per_device_train_batch_size"], two["per_device_train_batch_size"]) == (8, 4)
    assert two["max_steps"] == one["max_steps"]  # same steps, same examples per step
    assert distributed.describe(World(rank=0, size=2), "gloo", 8, 3) == {
        "world_size": 2,
        "backend": "gloo",
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 3,
        "global_batch_size": 24,
    }
    with pytest.raises(ConfigError, match=r"training\.batch_size=8 does not split over 3 processes"):
        training_kwargs(spec, tmp_path, processes=3)


def _fake_ranks(monkeypatch: pytest.MonkeyPatch, rank: int, on_barrier: Any) -> list[World]:
    """Rank ``rank`` of 2 without a process group: start/agree do nothing, barrier calls ``on_barrier``."""
    monkeypatch.setenv("RANK", str(rank))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(distributed, "start", lambda world, placement: "gloo")
    monkeypatch.setattr(distributed, "agree", lambda world, value, what: None)
    barriers: list[World] = []

    def barrier(world: World) -> None:
        barriers.append(world)
        on_barrier(len(barriers))

    monkeypatch.setattr(distributed, "barrier", barrier)
    return barriers


def test_rank_1_trains_writes_nothing_and_returns_what_rank_0_wrote(
    tmp_path: Path, tiny_model_dir: Path, harness_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_train_spec(write_spec(tmp_path, tiny_model_dir))
    trained: list[World] = []

    class Unsaved:
        def save_pretrained(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("rank 1 saved the model")

    outs: list[Path] = []

    def run_training(spec: Any, out: Path, *args: Any, world: World, **kwargs: Any) -> Any:
        trained.append(world)
        outs.append(out)
        return Unsaved(), None, {}

    seen: dict[int, list[Path]] = {}

    def on_barrier(count: int) -> None:
        seen[count] = _files(harness_home)
        if count == 2:  # by the last barrier rank 0 has written the candidate into the same directory
            outs[0].mkdir(parents=True)
            (outs[0] / "candidate.json").write_text(json.dumps({"written by": "rank 0"}))

    monkeypatch.setattr(train_module, "run_training", run_training)
    barriers = _fake_ranks(monkeypatch, 1, on_barrier)
    result = train_module.train(spec, progress=False)
    assert trained == [World(rank=1, size=2, local_size=2)] and len(barriers) == 2
    assert seen == {1: [], 2: []}, "rank 1 wrote files"
    assert result.candidate_dir == outs[0] and outs[0].parent == harness_home / "candidates"
    assert result.rank == 1 and result.provenance == {"written by": "rank 0"}
    assert Registry().history() == []


def test_rank_0_writes_the_candidate_with_the_world_size_and_registers_it(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_train_spec(write_spec(tmp_path, tiny_model_dir))
    real = train_module.run_training
    written: dict[int, bool] = {}

    def run_training(*args: Any, world: World, **kwargs: Any) -> Any:
        assert world == World(rank=0, size=2, local_size=2)
        with monkeypatch.context() as single:  # train for real, in this one process
            for name in distributed.ENV:
                single.delenv(name, raising=False)
            return real(*args, world=World(), **kwargs)

    def on_barrier(count: int) -> None:  # has rank 0 registered the candidate when it reaches barrier `count`?
        written[count] = (Path(os.environ["HARNESS_HOME"]) / "registry" / "history.jsonl").is_file()

    monkeypatch.setattr(train_module, "run_training", run_training)
    barriers = _fake_ranks(monkeypatch, 0, on_barrier)
    result = train_module.train(spec, progress=False, log=lambda _: None)
    assert len(barriers) == 2 and written == {1: False, 2: True}  # registered before the others return
    assert result.rank == 0
    prov = json.loads((result.candidate_dir / "candidate.json").read_text())
    assert prov["distributed"] == {
        "world_size": 2,
        "backend": "gloo",
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "global_batch_size": 8,
    }
    (event,) = Registry().history()
    assert event.alias == "candidate" and event.path == str(result.candidate_dir)


def test_a_single_process_records_world_size_1(tmp_path: Path, tiny_model_dir: Path) -> None:
    for name in distributed.ENV:
        assert name not in os.environ, f"{name} is set: run the tests outside torchrun"
    spec = load_train_spec(write_spec(tmp_path, tiny_model_dir))
    result = train_module.train(spec, progress=False, log=lambda _: None)
    assert result.provenance["distributed"] == {
        "world_size": 1,
        "backend": None,
        "per_device_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "global_batch_size": 8,
    }


def test_ranks_that_disagree_are_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    def gather(values: list[Any], value: Any) -> None:
        values[:] = [value, "other data"]

    monkeypatch.setattr("torch.distributed.all_gather_object", gather)
    with pytest.raises(RankMismatchError, match=r"rank\(s\) \[1\] disagree with rank 0 on the key"):
        distributed.agree(World(rank=0, size=2), "abc", "the key")


LAUNCHERS = {
    "torchrun": ["torch.distributed.run", "--standalone", "--nproc_per_node", "2"],
    # accelerate runs the same torch.distributed launcher for --multi_gpu; with no GPU the Trainer picks gloo.
    # (`--cpu` would ask for MPI: accelerate's multi-CPU launcher is mpirun.)
    "accelerate": ["accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                   "--mixed_precision", "no", "--dynamo_backend", "no"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_2_processes_on_gloo_register_one_candidate_written_by_rank_0(
    tmp_path: Path, tiny_model_dir: Path, harness_home: Path, launcher: str
) -> None:
    spec = write_spec(tmp_path, tiny_model_dir)
    (harness_home / "registry").mkdir(parents=True)  # as `harness world build` leaves it
    writes = tmp_path / "writes"
    writes.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "HARNESS_HOME": str(harness_home),
        "OMP_NUM_THREADS": "1",
    }
    argv = [sys.executable, "-m", *LAUNCHERS[launcher]]
    argv += ["-m", "tests.training.ddp_audit", str(writes), "train", str(spec), "--quiet"]
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]

    (candidate,) = (harness_home / "candidates").iterdir()
    assert done.stdout.strip().splitlines()[-1].endswith(str(candidate))  # rank 0 reports it
    assert f"rank 1: trained its share; rank 0 wrote and registered {candidate}" in done.stdout
    prov = json.loads((candidate / "candidate.json").read_text())
    assert prov["distributed"] == {
        "world_size": 2,
        "backend": "gloo",
        "per_device_batch_size": 4,
        "gradient_accumulation_steps": 1,
        "global_batch_size": 8,
    }
    for key in ("data", "config", "seed", "curves", "preflight", "packages", "git_commit", "base_model"):
        assert key in prov
    assert prov["curves"]["train"] and prov["curves"]["validation"]
    (event,) = Registry().history()
    assert event.alias == "candidate" and event.path == str(candidate)

    rank0, rank1 = (json.loads((writes / f"rank{r}.json").read_text()) for r in (0, 1))
    assert any(path == str(candidate / "candidate.json") for _, path in rank0)
    # rank 1 writes only the Trainer's per-process RNG state into the checkpoints (for an exact --resume)
    others = [
        (event, path)
        for event, path in rank1
        if not (
            path.startswith(str(candidate / "checkpoints") + os.sep)
            and (path.endswith("rng_state_1.pth") or event == "os.mkdir")
        )
    ]
    assert others == [], f"rank 1 wrote {others}"
