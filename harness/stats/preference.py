"""Paired preferences (candidate preferred, reference preferred, tie): the sign test, ties dropped.

Each item contributes one preference (the majority of its raters). Ties carry no information about which
side is better, so they are dropped, as in the classic sign test, and their count is reported. The estimand
is the candidate's share of the decided items, ``theta = wins / (wins + losses)``; the decision works on
``theta - 1/2`` with the usual margin semantics (non-inferiority: PASS when ``theta > 1/2 - margin``).

The test at ``H0: theta = 1/2 + d0`` is the exact binomial test on the decided items, and the interval is its
inversion, the Clopper-Pearson interval at level ``1 - 2 * alpha``: so ``ci_low > d0`` exactly when
``p_greater(d0) < alpha``, which :mod:`harness.stats.decision` relies on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from harness.errors import ConfigError
from harness.stats.decision import Decision, Verdict, boundary, decide
from harness.stats.evidence import Evidence, bounded_p
from harness.stats.intervals import clopper_pearson_interval
from harness.stats.validation import check_alpha, check_margin

TEST = "sign test (exact binomial on the decided items, ties dropped)"


def _binomial_p(wins: int, decided: int, share: float, alternative: str) -> float:
    """One-sided exact binomial p-value of ``H0: theta = share``, with the shares 0 and 1 handled exactly."""
    if share <= 0.0:
        return 1.0 if alternative == "less" else (0.0 if wins > 0 else 1.0)
    if share >= 1.0:
        return 1.0 if alternative == "greater" else (0.0 if wins < decided else 1.0)
    return bounded_p(stats.binomtest(wins, decided, share, alternative=alternative).pvalue)


def sign_test_evidence(wins: int, losses: int, *, alpha: float) -> Evidence:
    """Evidence on ``theta - 1/2`` from ``wins`` items that preferred the candidate and ``losses`` that did not."""
    if wins < 0 or losses < 0:
        raise ValueError(f"wins={wins} and losses={losses} must be counts (>= 0)")
    decided = wins + losses
    if decided == 0:
        return Evidence(
            test=TEST,
            estimate=0.0,
            ci_low=-0.5,
            ci_high=0.5,
            p_greater=lambda d0: 1.0,
            p_less=lambda d0: 1.0,
            p_two_sided=1.0,
            two_sided_test="exact sign test",
            candidate_value=0.5,
            reference_value=0.5,
            planner=None,
            notes=("Every item was a tie: no item decided between the two models.",),
            n_improved=0,
            n_regressed=0,
        )
    low, high = clopper_pearson_interval(wins, decided, alpha=2 * alpha)
    share = wins / decided
    return Evidence(
        test=TEST,
        estimate=share - 0.5,
        ci_low=low - 0.5,
        ci_high=high - 0.5,
        p_greater=lambda d0: _binomial_p(wins, decided, 0.5 + d0, "greater"),
        p_less=lambda d0: _binomial_p(wins, decided, 0.5 + d0, "less"),
        p_two_sided=bounded_p(stats.binomtest(wins, decided, 0.5).pvalue),
        two_sided_test="exact sign test",
        candidate_value=share,
        reference_value=0.5,
        planner=None,
        n_improved=wins,
        n_regressed=losses,
    )


def required_decided(share: float, null: float, alpha: float, power: float = 0.8) -> int | None:
    """Decided items the one-sided binomial test needs to reject ``theta = null`` with ``power`` when the true
    share is ``share`` (normal approximation); None when the share sits on the null or a scale end."""
    if not (0.0 < null < 1.0 and 0.0 < share < 1.0) or share == null:
        return None
    z_a, z_b = float(stats.norm.isf(alpha)), float(stats.norm.isf(1 - power))
    spread = z_a * math.sqrt(null * (1 - null)) + z_b * math.sqrt(share * (1 - share))
    return math.ceil((spread / (share - null)) ** 2)


@dataclass(frozen=True)
class PreferenceTest:
    """The sign test's verdict on paired preferences."""

    wins: int
    losses: int
    ties: int
    decision: Decision
    margin: float
    alpha: float
    share: float | None  # the candidate's share of the decided items; None when every item tied
    estimate: float  # share - 1/2 (0 when every item tied)
    ci_low: float
    ci_high: float
    p_value: float  # of the decision's PASS hypotheses
    p_value_two_sided: float  # the plain "no preference" sign test
    verdict: Verdict
    reasons: tuple[str, ...]

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def decided(self) -> int:
        return self.wins + self.losses


def _claim(decision: str, margin: float) -> str:
    if decision == "non_inferiority":
        return f"raters prefer the candidate on more than {0.5 - margin:.3g} of the decided items (not worse)"
    if decision == "superiority":
        return f"raters prefer the candidate on more than {0.5 + margin:.3g} of the decided items (better)"
    return f"raters prefer the candidate on {0.5 - margin:.3g} to {0.5 + margin:.3g} of the decided items"


def preference_test(
    wins: int, losses: int, ties: int, *, margin: float, alpha: float, decision: str = "non_inferiority"
) -> PreferenceTest:
    """Decide on ``wins`` / ``losses`` / ``ties`` (items preferring the candidate / the reference / neither)."""
    alpha = check_alpha(alpha)
    margin = check_margin(margin, decision)
    if margin >= 0.5:
        raise ConfigError(f"margin={margin} is too large for a preference share: pass a margin below 0.5")
    if ties < 0:
        raise ValueError(f"ties={ties} must be a count (>= 0)")
    evidence = sign_test_evidence(wins, losses, alpha=alpha)
    outcome = decide(evidence, decision, margin, alpha, True)
    decided = wins + losses
    share = wins / decided if decided else None
    level = f"{1 - 2 * alpha:.0%}"
    interval = f"[{0.5 + evidence.ci_low:.3f}, {0.5 + evidence.ci_high:.3f}]"
    reasons = [
        f"{wins + losses + ties} items: the candidate preferred on {wins}, the reference on {losses}, {ties} ties "
        f"(dropped: a tie says neither is better). {TEST}.",
    ]
    claim = _claim(decision, margin)
    p = f"p = {outcome.p_value:.3g}"
    if outcome.verdict == "PASS":
        reasons.append(f"PASS: the {level} interval of the candidate's share {interval} shows that {claim} ({p}).")
    elif outcome.verdict == "FAIL":
        reasons.append(f"FAIL: the {level} interval of the candidate's share {interval} rules out that {claim}.")
    else:
        reasons.append(
            f"INCONCLUSIVE: the {level} interval of the candidate's share {interval} cannot show that {claim} ({p})."
        )
        null = 0.5 + boundary(decision, margin, True, evidence.estimate)
        need = required_decided(share, null, alpha) if share is not None else None
        if need is not None and share is not None and share > null:
            reasons.append(
                f"If the true share is {share:.3f}, about {need} decided (non-tied) items would decide this with "
                "80% power."
            )
    reasons.extend(evidence.notes)
    reasons.append(f"No-preference sign test: two-sided p = {evidence.p_two_sided:.3g}.")
    return PreferenceTest(
        wins=wins,
        losses=losses,
        ties=ties,
        decision=decision,  # type: ignore[arg-type]
        margin=margin,
        alpha=alpha,
        share=share,
        estimate=evidence.estimate,
        ci_low=evidence.ci_low,
        ci_high=evidence.ci_high,
        p_value=outcome.p_value,
        p_value_two_sided=evidence.p_two_sided,
        verdict=outcome.verdict,
        reasons=tuple(reasons),
    )
