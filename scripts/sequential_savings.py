#!/usr/bin/env python
"""Items a sequential A/B gate would have needed, replayed on the per-item scores of finished runs.

    python scripts/sequential_savings.py RUN_DIR/scores/SUITE/GATE [...] [--seeds 200] [--chunk 50] [--margin 0.03]

Each argument is a fixed-n A/B gate's score directory (``GATE.exact_match/candidate.json`` and
``baseline.json``, the same for ``rouge_l``), as a run of ``pytest suites/`` writes them; ``A=B`` compares
run A's candidate with run B's candidate instead (two candidates on the same cases). The replay runs the
gate's own sequential loop (harness.gates.sequential.run) with a scorer that serves those cached scores, over
``--seeds`` evaluation orders, and reports the items used (mean, median, range) and the verdicts. No model runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from harness.cases import Case, Message  # noqa: E402
from harness.gates import sequential as seq  # noqa: E402
from harness.scores import ScoreTable  # noqa: E402

METRICS = ("exact_match", "rouge_l")


def load(arg: str) -> dict[str, tuple[ScoreTable, ScoreTable]]:
    cand_dir, _, ref_dir = arg.partition("=")
    tables = {}
    for metric in METRICS:
        cand = Path(cand_dir).parent / f"{Path(cand_dir).name}.{metric}"
        if ref_dir:
            ref = ScoreTable.load(Path(ref_dir).parent / f"{Path(ref_dir).name}.{metric}" / "candidate.json")
        else:
            ref = ScoreTable.load(cand / "baseline.json")
        tables[metric] = (ScoreTable.load(cand / "candidate.json"), ref)
    return tables


def replay(tables: dict[str, tuple[ScoreTable, ScoreTable]], seed: int, chunk: int, margin: float) -> tuple[int, str]:
    ids = tables[METRICS[0]][0].ids
    cases = [Case(i, None, (Message("user", i),), None, None) for i in ids]
    by_id = {m: (c.by_id(), r.by_id()) for m, (c, r) in tables.items()}

    def score(part: Sequence[Case], metrics: Sequence[str]) -> dict[str, tuple[ScoreTable, ScoreTable]]:
        out = {}
        for m in metrics:
            cand, ref = by_id[m]
            out[m] = (
                ScoreTable(m, tuple(cand[c.id] for c in part)),
                ScoreTable(m, tuple(ref[c.id] for c in part)),
            )
        return out

    order = seq.Order.draw(cases, seed, "replay")
    runs = seq.run(
        order,
        METRICS,
        score,
        chunk=chunk,
        decision="non_inferiority",
        margins=dict.fromkeys(METRICS, margin),
        alpha=0.05,
    )
    verdicts = [r.result.verdict for r in runs.values()]
    worst = "FAIL" if "FAIL" in verdicts else "INCONCLUSIVE" if "INCONCLUSIVE" in verdicts else "PASS"
    return max(r.result.n for r in runs.values()), worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gates", nargs="+")
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--margin", type=float, default=0.03)
    args = parser.parse_args(argv)
    for gate in args.gates:
        tables = load(gate)
        n = len(tables[METRICS[0]][0])
        means = {m: (c.mean(), r.mean()) for m, (c, r) in tables.items()}
        used, verdicts = [], Counter()
        for seed in range(args.seeds):
            items, verdict = replay(tables, seed, args.chunk, args.margin)
            used.append(items)
            verdicts[verdict] += 1
        print(
            f"{gate}: n={n}, candidate/reference means {means}; items used over {args.seeds} orders: "
            f"mean {statistics.mean(used):.1f}, median {statistics.median(used):g}, range {min(used)}-{max(used)} "
            f"(saved {1 - statistics.mean(used) / n:.0%}); verdicts {dict(verdicts)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
