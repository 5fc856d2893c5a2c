"""The public entry point: :func:`compare_paired` and its frozen :class:`Comparison` result."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from harness.errors import ConfigError
from harness.stats.binary import binary_evidence, clustered_binary_evidence
from harness.stats.clusters import design_effect, gate_variance_of_mean
from harness.stats.continuous import continuous_evidence
from harness.stats.corpus import corpus_evidence
from harness.stats.decision import Verdict, boundary, decide, fail_hypotheses, pass_hypotheses
from harness.stats.evidence import Evidence, SecondaryTest
from harness.stats.reasons import explain
from harness.stats.validation import (
    KINDS,
    ClusterIds,
    Items,
    as_binary_array,
    as_float_array,
    check_alpha,
    check_lengths,
    check_margin,
    check_resamples,
    encode_clusters,
)

PLANNING_POWER = 0.8
_TIE = 1e-9  # tolerance of the self-check below (root finding is accurate to ~1e-13)


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: estimate and interval of candidate - reference, test and verdict.

    ``ci_low``/``ci_high`` form the two-sided ``ci_level = 1 - 2 * alpha`` interval, so each bound
    is a one-sided ``alpha`` bound, the same level as the one-sided decision. ``p_value`` tests the
    decision's own null hypothesis; ``p_value_two_sided`` is the plain "no difference" test.
    """

    kind: Literal["binary", "continuous", "corpus"]
    decision: Literal["non_inferiority", "superiority", "equivalence"]
    test: str
    n: int
    n_clusters: int | None
    candidate_value: float
    reference_value: float
    estimate: float
    ci_low: float
    ci_high: float
    ci_level: float
    p_value: float
    p_value_two_sided: float
    two_sided_test: str
    margin: float
    alpha: float
    higher_is_better: bool
    mde: float | None
    required_n: int | None
    verdict: Verdict
    reasons: tuple[str, ...]
    n_improved: int | None = None
    n_regressed: int | None = None
    secondary: tuple[SecondaryTest, ...] = ()

    def __post_init__(self) -> None:
        if self.verdict not in ("PASS", "FAIL", "INCONCLUSIVE"):
            raise ValueError(f"verdict={self.verdict!r} is not PASS, FAIL or INCONCLUSIVE")
        if not (self.ci_low <= self.ci_high):
            raise ValueError(f"interval [{self.ci_low}, {self.ci_high}] is empty")
        for name in ("p_value", "p_value_two_sided"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name}={p} is outside [0, 1]")
        if not self.reasons:
            raise ValueError("a comparison must say why: reasons is empty")
        self._check_consistent()

    def _check_consistent(self) -> None:
        """A PASS/FAIL must agree with the interval; anything else is a bug worth failing loudly on."""

        def clears(null: float, side: str) -> bool:
            tol = _TIE * (1.0 + abs(null))
            return self.ci_low > null - tol if side == "greater" else self.ci_high < null + tol

        hyps = pass_hypotheses(self.decision, self.margin, self.higher_is_better)
        if self.verdict == "PASS" and not (self.p_value < self.alpha and all(clears(h.null, h.side) for h in hyps)):
            raise ValueError(f"PASS contradicts p={self.p_value} or interval [{self.ci_low}, {self.ci_high}]")
        fails = fail_hypotheses(self.decision, self.margin, self.higher_is_better)
        if self.verdict == "FAIL" and not any(clears(h.null, h.side) for h in fails):
            raise ValueError(f"FAIL contradicts interval [{self.ci_low}, {self.ci_high}]")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; non-finite numbers (an unbounded interval) become None."""

        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list | tuple):
                return [clean(v) for v in value]
            return value

        out: dict[str, Any] = clean(dataclasses.asdict(self))
        return out


Metric = Callable[[Any], float]


def compare_paired(
    candidate: Items,
    reference: Items,
    *,
    kind: str,
    margin: float = 0.0,
    alpha: float = 0.05,
    higher_is_better: bool = True,
    clusters: ClusterIds | None = None,
    seed: int = 0,
    decision: str = "non_inferiority",
    metric: Metric | None = None,
    n_resamples: int = 2000,
) -> Comparison:
    """Compare a candidate with a reference on the same items, aligned by position.

    kind: "binary" (0/1 per item), "continuous" (a score per item) or "corpus" (records scored
    by ``metric``, a callable on one side's records returning a float).
    decision: "non_inferiority" (default; PASS if not worse by ``margin``), "superiority"
    (PASS if better by more than ``margin``) or "equivalence" (PASS if within +-``margin``).
    clusters: optional cluster id per item; the tests then account for within-cluster correlation.
    seed, n_resamples: the bootstrap/permutation stream (corpus kind, and the bootstrap reported
    for continuous scores); results are reproducible for a given seed.
    """
    kind_l = _check_kind(kind, metric)
    alpha = check_alpha(alpha)
    margin = check_margin(margin, decision)
    n_resamples = check_resamples(n_resamples)
    if not isinstance(higher_is_better, bool):
        raise ConfigError(f"higher_is_better={higher_is_better!r} must be True or False")
    if not isinstance(seed, int | np.integer):
        raise ConfigError(f"seed={seed!r} must be an integer (it seeds numpy's Generator)")
    if kind_l == "binary" and margin >= 1.0:
        raise ConfigError(f"margin={margin} is too large for a difference of proportions: pass a margin below 1")
    n = check_lengths(candidate, reference)
    codes = encode_clusters(clusters, n) if clusters is not None else None
    hypotheses = pass_hypotheses(decision, margin, higher_is_better)
    if kind_l == "binary":
        evidence = _binary(candidate, reference, codes, alpha)
    elif kind_l == "continuous":
        cand = as_float_array(candidate, side="candidate")
        ref = as_float_array(reference, side="reference")
        evidence = continuous_evidence(
            cand,
            ref,
            codes=codes,
            alpha=alpha,
            seed=int(seed),
            n_resamples=n_resamples,
            hypotheses=hypotheses,
        )
    else:
        assert metric is not None
        evidence = corpus_evidence(
            candidate, reference, metric, codes=codes, alpha=alpha, seed=int(seed), n_resamples=n_resamples
        )
    outcome = decide(evidence, decision, margin, alpha, higher_is_better)
    null = boundary(decision, margin, higher_is_better, evidence.estimate)
    mde, required_n = _plan(evidence, null, alpha, decision, higher_is_better)
    n_improved, n_regressed = _oriented_counts(evidence, higher_is_better)
    comparison_args: dict[str, Any] = dict(
        kind=kind_l,
        decision=decision,
        test=evidence.test_name_at(null),
        n=n,
        n_clusters=None if codes is None else int(codes.max()) + 1,
        candidate_value=evidence.candidate_value,
        reference_value=evidence.reference_value,
        estimate=evidence.estimate,
        ci_low=evidence.ci_low,
        ci_high=evidence.ci_high,
        ci_level=1 - 2 * alpha,
        p_value=outcome.p_value,
        p_value_two_sided=evidence.p_two_sided,
        two_sided_test=evidence.two_sided_test,
        margin=margin,
        alpha=alpha,
        higher_is_better=higher_is_better,
        mde=mde,
        required_n=required_n,
        verdict=outcome.verdict,
        n_improved=n_improved,
        n_regressed=n_regressed,
        secondary=evidence.secondary,
    )
    reasons = explain(evidence, outcome, comparison_args, null, PLANNING_POWER)
    return Comparison(**comparison_args, reasons=reasons)


def _check_kind(kind: str, metric: Metric | None) -> Literal["binary", "continuous", "corpus"]:
    if kind not in KINDS:
        raise ConfigError(f"kind={kind!r} is unknown: use one of {', '.join(KINDS)}")
    if kind == "corpus" and metric is None:
        raise ConfigError('kind="corpus" needs metric=: a callable that scores one side\'s records as a float')
    if kind != "corpus" and metric is not None:
        raise ConfigError(f'metric= is only used with kind="corpus"; drop it for kind="{kind}"')
    if metric is not None and not callable(metric):
        raise ConfigError(f"metric={metric!r} is not callable: pass a function of one side's records")
    return kind  # type: ignore[return-value]


def _binary(candidate: Items, reference: Items, codes: np.ndarray | None, alpha: float) -> Evidence:
    cand = as_binary_array(candidate, side="candidate")
    ref = as_binary_array(reference, side="reference")
    n = cand.size
    b = int(np.count_nonzero((cand == 1) & (ref == 0)))
    c = int(np.count_nonzero((cand == 0) & (ref == 1)))
    p_cand, p_ref = float(cand.mean()), float(ref.mean())
    if codes is None or int(codes.max()) + 1 == n:
        # One item per cluster is no clustering: the unclustered path keeps its exact small-sample test.
        return binary_evidence(b, c, n, alpha=alpha, p_candidate=p_cand, p_reference=p_ref)
    d = (cand - ref).astype(float)
    g = int(codes.max()) + 1
    se = math.sqrt(gate_variance_of_mean(d, codes)) if g > 1 else math.nan
    deff = max(design_effect(d, codes), 1.0) if g > 1 else math.nan  # floored: see clusters.py
    return clustered_binary_evidence(
        b,
        c,
        n,
        deff=deff,
        n_clusters=g,
        alpha=alpha,
        p_candidate=p_cand,
        p_reference=p_ref,
        se=se,
    )


def _oriented_counts(evidence: Evidence, higher_is_better: bool) -> tuple[int | None, int | None]:
    """Discordant counts with "regressed" meaning the candidate got worse in the metric's sense."""
    b, c = evidence.n_improved, evidence.n_regressed
    return (b, c) if higher_is_better else (c, b)


def _plan(
    evidence: Evidence, null: float, alpha: float, decision: str, higher_is_better: bool
) -> tuple[float | None, int | None]:
    planner = evidence.planner
    if planner is None:
        return None, None
    # The "better" side, or for equivalence from the nearer bound towards the inside.
    better_side = 1 if higher_is_better else -1
    direction = (1 if null < 0 else -1) if decision == "equivalence" else better_side
    mde = planner.mde(null, alpha, PLANNING_POWER, direction)
    required = planner.required_n(evidence.estimate, null, alpha, PLANNING_POWER)
    return mde, required
