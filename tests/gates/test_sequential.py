"""The sequential A/B loop: seeded order, chunked scoring, early stop on PASS and FAIL, and its Check."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.gates import sequential as seq
from harness.gates.ab import ABGate
from harness.scores import ScoreRow, ScoreTable

N = 400


def _cases(n: int = N) -> list[Case]:
    return [Case(f"c{i}", None, (Message("user", f"q{i}"),), f"a{i}", None) for i in range(n)]


class FakeScorer:
    """Per-item 0/1 outcomes for both roles; records which items were asked for, chunk by chunk."""

    def __init__(self, candidate: dict[str, float], reference: dict[str, float]) -> None:
        self.candidate, self.reference = candidate, reference
        self.calls: list[list[str]] = []

    def __call__(self, part: Sequence[Case], metrics: Sequence[str]) -> dict[str, tuple[ScoreTable, ScoreTable]]:
        self.calls.append([c.id for c in part])
        return {
            m: (
                ScoreTable(m, tuple(ScoreRow(c.id, self.candidate[c.id]) for c in part)),
                ScoreTable(m, tuple(ScoreRow(c.id, self.reference[c.id]) for c in part)),
            )
            for m in metrics
        }


def _outcomes(p_improve: float, p_regress: float, seed: int = 0) -> FakeScorer:
    rng = np.random.default_rng(seed)
    cand, ref = {}, {}
    for case in _cases():
        u = rng.random()
        pair = (1.0, 0.0) if u < p_improve else (0.0, 1.0) if u < p_improve + p_regress else (1.0, 1.0)
        cand[case.id], ref[case.id] = pair
    return FakeScorer(cand, ref)


def _run(scorer: FakeScorer, chunk: int = 40, seed: int = 0) -> dict[str, seq.MetricRun]:
    order = seq.Order.draw(_cases(), seed, "suite/ab")
    margins = {"exact_match": 0.03}
    return seq.run(order, ["exact_match"], scorer, chunk=chunk, decision="non_inferiority", margins=margins, alpha=0.05)


def test_order_is_a_seeded_permutation() -> None:
    a, b = seq.Order.draw(_cases(), 7, "suite/ab"), seq.Order.draw(_cases(), 7, "suite/ab")
    assert a == b
    assert sorted(c.id for c in a.cases) == sorted(c.id for c in _cases())
    assert [c.id for c in a.cases] != [c.id for c in _cases()]
    assert seq.Order.draw(_cases(), 8, "suite/ab").cases != a.cases
    assert seq.Order.draw(_cases(), 7, "suite/other").cases != a.cases
    assert 0.0 < a.u <= 1.0


def test_a_clearly_better_candidate_passes_after_few_chunks() -> None:
    scorer = _outcomes(0.3, 0.0)
    run = _run(scorer)["exact_match"]
    assert run.result.verdict == "PASS"
    assert run.result.n < N and run.result.n % 40 == 0
    assert len(scorer.calls) == run.result.n // 40, "no chunk is scored after the decision"
    order = seq.Order.draw(_cases(), 0, "suite/ab")
    assert [i for call in scorer.calls for i in call] == [c.id for c in order.cases[: run.result.n]]
    assert len(run.candidate) == run.result.n


def test_a_clearly_worse_candidate_fails_early() -> None:
    run = _run(_outcomes(0.0, 0.3))["exact_match"]
    assert run.result.verdict == "FAIL" and run.result.n < N


def test_undecided_runs_use_every_item_and_the_final_look() -> None:
    run = _run(_outcomes(0.02, 0.03), chunk=100)["exact_match"]
    assert run.result.n == N and run.result.final
    assert run.result.u == seq.Order.draw(_cases(), 0, "suite/ab").u


def test_check_reports_the_items_used() -> None:
    order = seq.Order.draw(_cases(), 0, "suite/ab")
    run = _run(_outcomes(0.3, 0.0))["exact_match"]
    check = seq.check(
        "exact_match: non-inferiority vs base, sequential",
        run,
        total=N,
        chunk=40,
        order=order,
        decision="non_inferiority",
        margin=0.03,
    )
    assert check.verdict == "PASS" and check.n == run.result.n
    assert check.details["n_used"] == run.result.n and check.details["n_total"] == N
    assert f"stopped after {run.result.n} of {N} items" in check.reasons[-1]
    assert check.p_value is not None and check.p_value < 0.05
    assert check.ci_low is not None and check.ci_low > -0.03


def test_sequential_needs_bounded_metrics_and_a_valid_chunk() -> None:
    with pytest.raises(ConfigError, match="loglikelihood"):
        ABGate(kind="ab", cases="task", sequential=True)
    with pytest.raises(ConfigError, match="chunk=0"):
        ABGate(kind="ab", cases="task", metrics=("exact_match",), sequential=True, chunk=0)
    ok = ABGate(kind="ab", cases="task", metrics=("exact_match", "rouge_l"), sequential=True, chunk=25)
    assert ok.sequential and ok.chunk == 25
