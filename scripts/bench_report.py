"""How long `harness report` takes, and how big its pages get, over N synthetic runs (default 200).

PYTHONPATH=. python scripts/bench_report.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from harness.dashboard import write_dashboard
from tests.report_runs import synthetic_history


def main(n_runs: int) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        reports = Path(scratch) / "reports"
        synthetic_history(reports, n_runs)
        timings = []
        for _ in range(3):
            start = time.perf_counter()
            page = write_dashboard(reports)
            timings.append(time.perf_counter() - start)
        sizes = {p.name: p.stat().st_size for p in (page, reports / "history.html")}
    every = ", ".join(f"{t:.3f}" for t in timings)
    print(f"{n_runs} runs: report built in {min(timings):.3f} s (best of 3; all {every})")
    print(", ".join(f"{name} {size / 1024:.0f} KiB" for name, size in sizes.items()))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
