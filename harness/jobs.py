"""Run a few long subprocesses side by side (trainings, gating runs) with one combined progress bar.

Each job writes its own log. Its progress is read back from the tqdm bars it prints there ("123/656"), so
the parent shows one bar over all of them instead of bars that overwrite each other. On a 2-core machine
two one-thread jobs at a time use both cores without the thread contention of one two-thread job.
"""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

_PROGRESS = re.compile(rb"(\d+)/(\d+) \[")


@dataclass(frozen=True)
class Job:
    name: str
    command: Sequence[str]
    log: Path


@dataclass(frozen=True)
class Outcome:
    job: Job
    returncode: int
    seconds: float


def progress_of(log: Path) -> tuple[int, int]:
    """(done, total) of the main progress bar in ``log`` (its latest state); (0, 0) before any."""
    try:
        tail = log.read_bytes()[-4096:]
    except OSError:
        return 0, 0
    found = [(int(done), int(total)) for done, total in _PROGRESS.findall(tail)]
    if not found:
        return 0, 0
    # the job's main bar has the largest total; evaluation bars in between (7/7) must not replace it
    longest = max(total for _, total in found)
    return next((done, total) for done, total in reversed(found) if total == longest)


def run_jobs(
    jobs: Sequence[Job], *, parallel: int, env: Mapping[str, str], desc: str, poll: float = 1.0
) -> list[Outcome]:
    """Run ``jobs`` at most ``parallel`` at a time; returns their outcomes in the order given."""
    pending = list(jobs)
    running: dict[str, tuple[subprocess.Popen[bytes], float]] = {}
    finished: dict[str, Outcome] = {}
    with tqdm(total=len(jobs), desc=desc, unit="step") as bar:
        while pending or running:
            while pending and len(running) < parallel:
                job = pending.pop(0)
                job.log.parent.mkdir(parents=True, exist_ok=True)
                with job.log.open("wb") as out:
                    proc = subprocess.Popen(list(job.command), env=dict(env), stdout=out, stderr=out)
                running[job.name] = (proc, time.perf_counter())
            for job in jobs:
                if job.name in running and running[job.name][0].poll() is not None:
                    proc, started = running.pop(job.name)
                    finished[job.name] = Outcome(job, int(proc.returncode), time.perf_counter() - started)
                    bar.write(
                        f"      {job.name}: exit code {proc.returncode} after {finished[job.name].seconds:.0f} s "
                        f"(log: {job.log})"
                    )
            _update(bar, jobs, finished)
            time.sleep(poll)
    return [finished[job.name] for job in jobs]


def _update(bar: tqdm, jobs: Sequence[Job], finished: Mapping[str, Outcome]) -> None:
    """Steps done over steps known, across jobs; a finished job counts as complete even without a bar."""
    done = total = 0
    for job in jobs:
        n, m = progress_of(job.log)
        if job.name in finished:
            m = max(m, 1)
            n = m
        done, total = done + n, total + max(m, 1)
    bar.total = total
    bar.n = done
    bar.refresh()
