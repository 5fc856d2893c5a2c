"""What a gate decided: its checks (each one statistical decision), the evidence, and one verdict.

A gate's verdict is its worst check: FAIL over INCONCLUSIVE over PASS; ERROR when it could not run (fail
closed); the rules are in :mod:`harness.verdict`. Results cross process boundaries (pytest-xdist) as plain
dicts, so both directions are here.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from harness import verdict as rules
from harness.stats import Comparison, RateCheck


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


@dataclass(frozen=True)
class Check:
    name: str  # e.g. "non-inferiority vs base", "refusal floor"
    metric: str
    test: str
    n: int
    candidate_value: float
    reference_value: float | None  # a stored/live reference, or the floor/ceiling of a rate check
    estimate: float | None  # candidate - reference (paired checks), None for rate checks
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # None for a deterministic check (a threshold, not a test): no multiplicity
    alpha: float
    verdict: str
    reasons: tuple[str, ...]
    p_adjusted: float | None = None
    verdict_unadjusted: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def paired(cls, name: str, metric: str, comp: Comparison, **details: Any) -> Check:
        return cls(
            name=name,
            metric=metric,
            test=comp.test,
            n=comp.n,
            candidate_value=comp.candidate_value,
            reference_value=comp.reference_value,
            estimate=comp.estimate,
            ci_low=_finite(comp.ci_low),
            ci_high=_finite(comp.ci_high),
            p_value=comp.p_value,
            alpha=comp.alpha,
            verdict=comp.verdict,
            reasons=comp.reasons,
            details={
                "decision": comp.decision,
                "margin": comp.margin,
                "higher_is_better": comp.higher_is_better,
                "p_value_two_sided": comp.p_value_two_sided,
                "two_sided_test": comp.two_sided_test,
                "mde": comp.mde,
                "required_n": comp.required_n,
                "n_improved": comp.n_improved,
                "n_regressed": comp.n_regressed,
                "n_clusters": comp.n_clusters,
                **details,
            },
        )

    @classmethod
    def threshold(cls, name: str, metric: str, value: float, bound: float | None, passed: bool, reason: str) -> Check:
        return cls(
            name=name,
            metric=metric,
            test="threshold",
            n=1,
            candidate_value=value,
            reference_value=bound,
            estimate=None,
            ci_low=None,
            ci_high=None,
            p_value=None,
            alpha=0.0,
            verdict=rules.threshold(passed),
            reasons=(reason,),
        )

    @classmethod
    def rate(cls, name: str, metric: str, check: RateCheck, **details: Any) -> Check:
        return cls(
            name=name,
            metric=metric,
            test="exact binomial (Clopper-Pearson)",
            n=check.n,
            candidate_value=check.rate,
            reference_value=check.bound,
            estimate=None,
            ci_low=check.ci_low,
            ci_high=check.ci_high,
            p_value=check.p_value,
            alpha=check.alpha,
            verdict=check.verdict,
            reasons=check.reasons,
            details={"k": check.k, "direction": check.direction, **details},
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        return out

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Check:
        return cls(**{**raw, "reasons": tuple(raw["reasons"])})


@dataclass(frozen=True)
class Example:
    """One item as evidence: what the candidate and the reference said."""

    id: str
    prompt: str
    candidate: str | None
    reference: str | None
    answer: str | None

    def line(self) -> str:
        expected = f" (expected {self.answer!r})" if self.answer else ""
        return f"{self.id}: {self.prompt!r}: reference {self.reference!r} -> candidate {self.candidate!r}{expected}"


@dataclass(frozen=True)
class SliceResult:
    """One check of a gate on the items of one slice (harness.gates.slices): reported, or gated (its verdict then
    counts towards the gate's)."""

    of: str  # the name of the gate's check it slices
    by: str  # what the slices are called (category, topic, ...)
    value: str
    gated: bool
    check: Check

    def to_dict(self) -> dict[str, Any]:
        return {"of": self.of, "by": self.by, "value": self.value, "gated": self.gated, "check": self.check.to_dict()}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SliceResult:
        return cls(raw["of"], raw["by"], raw["value"], raw["gated"], Check.from_dict(raw["check"]))


@dataclass(frozen=True)
class GateResult:
    gate: str  # the item's name, e.g. "forgetting_facts" or "retention[world_capitals_mc]"
    suite: str
    kind: str
    metric: str
    checks: tuple[Check, ...] = ()
    flipped: tuple[str, ...] = ()  # items the candidate got worse on (ids)
    improved: tuple[str, ...] = ()
    examples: tuple[Example, ...] = ()
    notes: tuple[str, ...] = ()
    failure: str | None = None  # a FAIL that needs no statistics (e.g. no stored baseline to compare with)
    error: str | None = None  # the gate could not run: ERROR, which fails closed
    slices: tuple[SliceResult, ...] = ()  # per-slice checks; the gated ones count towards the verdict

    @property
    def verdict(self) -> str:
        decided = [c.verdict for c in self.checks] + [s.check.verdict for s in self.slices if s.gated]
        return rules.gate_verdict(decided, failure=bool(self.failure), error=bool(self.error))

    @property
    def primary(self) -> Check | None:
        """The check that decides the verdict (the first of the worst ones)."""
        if not self.checks:
            return None
        return next(c for c in self.checks if c.verdict == rules.worst(k.verdict for k in self.checks))

    def reasons(self) -> list[str]:
        lines = [
            f"[{c.verdict}] {c.name}: {c.reasons[-1] if c.verdict == 'PASS' else ' '.join(c.reasons)}"
            for c in self.checks
        ]
        if self.failure:
            lines.insert(0, f"[FAIL] {self.failure}")
        lines += [
            f"[{s.check.verdict}] slice {s.by}={s.value} of {s.of}: {' '.join(s.check.reasons)}"
            for s in self.slices
            if s.gated and s.check.verdict != "PASS"
        ]
        if self.error:
            lines.insert(0, f"[ERROR] the gate could not run, so it fails closed: {self.error}")
        return lines + list(self.notes)

    def to_dict(self) -> dict[str, Any]:
        primary = self.primary
        return {
            "name": self.gate,
            "suite": self.suite,
            "kind": self.kind,
            "metric": self.metric,
            "n": primary.n if primary else 0,
            "candidate_value": primary.candidate_value if primary else None,
            "reference_value": primary.reference_value if primary else None,
            "estimate": primary.estimate if primary else None,
            "ci_low": primary.ci_low if primary else None,
            "ci_high": primary.ci_high if primary else None,
            "p_value": primary.p_value if primary else None,
            "p_adjusted": primary.p_adjusted if primary else None,
            "verdict": self.verdict,
            "reasons": self.reasons(),
            "flipped": list(self.flipped),
            "improved": list(self.improved),
            "checks": [c.to_dict() for c in self.checks],
            "examples": [asdict(e) for e in self.examples],
            "notes": list(self.notes),
            "failure": self.failure,
            "error": self.error,
            "slices": [s.to_dict() for s in self.slices],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GateResult:
        return cls(
            gate=raw["name"],
            suite=raw["suite"],
            kind=raw["kind"],
            metric=raw["metric"],
            checks=tuple(Check.from_dict(c) for c in raw["checks"]),
            flipped=tuple(raw["flipped"]),
            improved=tuple(raw["improved"]),
            examples=tuple(Example(**e) for e in raw["examples"]),
            notes=tuple(raw["notes"]),
            failure=raw.get("failure"),
            error=raw["error"],
            slices=tuple(SliceResult.from_dict(s) for s in raw.get("slices", [])),
        )
