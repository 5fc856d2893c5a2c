"""Side-by-side jobs: the combined progress bar reads each job's own bar back from its log."""

from __future__ import annotations

import sys
from pathlib import Path

from harness.jobs import Job, progress_of, run_jobs


def test_progress_is_the_main_bar_not_an_evaluation_bar_in_between(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    assert progress_of(log) == (0, 0), "no log yet"
    log.write_bytes(
        b"10%| 65/656 [00:10<01:30]\r 3/7 [00:00<00:00]\r 7/7 [00:01<00:00]\r 12%| 80/656 [00:12<01:20]\r 2/7 ["
    )
    assert progress_of(log) == (80, 656)


def test_jobs_run_side_by_side_and_report_their_exit_codes(tmp_path: Path) -> None:
    script = "import sys; print('1/2 [', flush=True); print('2/2 [', flush=True); sys.exit(int(sys.argv[1]))"
    jobs = [Job(f"job{i}", [sys.executable, "-c", script, str(i)], tmp_path / f"job{i}.log") for i in range(3)]
    outcomes = run_jobs(jobs, parallel=2, env={}, desc="test", poll=0.05)
    assert [o.job.name for o in outcomes] == ["job0", "job1", "job2"]
    assert [o.returncode for o in outcomes] == [0, 1, 2]
    assert all(progress_of(o.job.log) == (2, 2) for o in outcomes)
