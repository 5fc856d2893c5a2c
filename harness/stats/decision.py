"""Turning evidence into PASS / FAIL / INCONCLUSIVE.

Every decision is a set of one-sided hypotheses on the difference (candidate - reference). The
orientation is one sign, ``s = +1`` when higher is better and ``-1`` otherwise; "better" means
``s * difference`` is larger. With margin ``m`` >= 0:

================  ===========================================  ==================================
decision          PASS (all of these rejected at alpha)         FAIL (any of these rejected)
================  ===========================================  ==================================
non_inferiority   H0: s*diff <= -m  (not worse by m or more)    H0: s*diff >= -m  (worse than -m)
superiority       H0: s*diff <= +m  (better by more than m)     H0: s*diff >= +m  (not better)
equivalence       H0: diff <= -m and H0: diff >= +m  (TOST)     H0: diff <= +m or H0: diff >= -m
================  ===========================================  ==================================

``p_value`` is the largest p-value of the PASS hypotheses; because every engine's interval is the
inversion of its p-values, PASS holds exactly when the interval's bad-side bound clears the
boundary, and FAIL exactly when the good-side bound is on the wrong side of it. Ties (a bound
equal to the boundary) are not a clearance: the verdict is then INCONCLUSIVE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from harness.stats.evidence import Evidence

Side = Literal["greater", "less"]
Decision = Literal["non_inferiority", "superiority", "equivalence"]
Verdict = Literal["PASS", "FAIL", "INCONCLUSIVE"]


@dataclass(frozen=True)
class OneSided:
    """``H0: difference <= null`` (side "greater") or ``H0: difference >= null`` (side "less")."""

    null: float
    side: Side

    def p(self, evidence: Evidence) -> float:
        return evidence.p_greater(self.null) if self.side == "greater" else evidence.p_less(self.null)

    def flipped(self) -> OneSided:
        return OneSided(self.null, "less" if self.side == "greater" else "greater")


def orientation(higher_is_better: bool) -> float:
    """+1 when a larger difference is good, -1 when a smaller one is (loss, over-refusal rate)."""
    return 1.0 if higher_is_better else -1.0


def better(sign: float) -> Side:
    return "greater" if sign > 0 else "less"


def pass_hypotheses(decision: str, margin: float, higher_is_better: bool) -> tuple[OneSided, ...]:
    s = orientation(higher_is_better)
    # "+ 0.0" turns -0.0 into 0.0 so reasons never print "-0".
    if decision == "non_inferiority":
        return (OneSided(-s * margin + 0.0, better(s)),)
    if decision == "superiority":
        return (OneSided(s * margin + 0.0, better(s)),)
    return (OneSided(-margin, "greater"), OneSided(margin, "less"))


def fail_hypotheses(decision: str, margin: float, higher_is_better: bool) -> tuple[OneSided, ...]:
    if decision == "equivalence":
        return (OneSided(margin, "greater"), OneSided(-margin, "less"))
    return tuple(h.flipped() for h in pass_hypotheses(decision, margin, higher_is_better))


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    p_value: float
    hypotheses: tuple[OneSided, ...]


def decide(evidence: Evidence, decision: str, margin: float, alpha: float, higher_is_better: bool) -> Outcome:
    tests = pass_hypotheses(decision, margin, higher_is_better)
    p_value = max(h.p(evidence) for h in tests)
    if p_value < alpha:
        verdict: Verdict = "PASS"
    elif any(h.p(evidence) < alpha for h in fail_hypotheses(decision, margin, higher_is_better)):
        verdict = "FAIL"
    else:
        verdict = "INCONCLUSIVE"
    return Outcome(verdict=verdict, p_value=p_value, hypotheses=tests)


def boundary(decision: str, margin: float, higher_is_better: bool, estimate: float) -> float:
    """The decision boundary nearest the estimate (for power planning)."""
    nulls = [h.null for h in pass_hypotheses(decision, margin, higher_is_better)]
    return min(nulls, key=lambda b: abs(estimate - b))
