"""Online A/B analysis of a production traffic-split log: ``harness ab analyze LOGS.jsonl``.

One JSON object per line, one per request::

    {"request_id": "r-1", "variant": "A", "outcome": 1, "latency_ms": 231.5}
    {"request_id": "r-2", "variant": "B", "rating": 4, "latency_ms": 198.0}

``outcome`` (0/1 or true/false: the request succeeded, the user accepted the answer) or ``rating`` (a number:
stars, a judge's score): one of them, the same one on every row; ``latency_ms`` optional, on every row or on
none. The analysis, in order:

1. the split: a chi-square goodness-of-fit test of the arm counts against the declared split (default 50/50);
   at p < 0.001 the assignment is broken (sample ratio mismatch) and no verdict is given (ERROR);
2. outcomes, treatment vs control, non-inferiority at ``margin``: Newcombe's interval for a difference of
   proportions, or Welch's t for ratings (the mean is what a margin in rating units is about; Mann-Whitney is
   reported beside it) -- see :mod:`harness.stats.unpaired`;
3. latency p50 and p95: a bootstrap interval of ``Q(treatment) - (1 + latency_margin) * Q(control)``, PASS when
   it lies below 0 (the treatment at most ``latency_margin`` slower); the plain difference in ms is reported.

The verdict is the worst check's; when it is INCONCLUSIVE, each undecided check says how many more rows (at the
same split, 80% power, assuming the observed effect is the true one) would decide it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from harness import verdict as rules
from harness.cases import jsonl_objects
from harness.errors import ConfigError, DataError
from harness.stats.power import required_n_unpaired
from harness.stats.quantiles import QuantileTest, unpaired_quantile_difference
from harness.stats.unpaired import UnpairedResult, compare_means, compare_proportions, sample_ratio_mismatch

PLANNING_POWER = 0.8
KNOWN_KEYS = ("request_id", "variant", "outcome", "rating", "latency_ms")
DEFAULT_PAIRS = (("A", "B"), ("control", "treatment"))


@dataclass(frozen=True)
class ABConfig:
    control: str | None = None  # inferred when the log's two variants are A/B or control/treatment
    treatment: str | None = None
    split: tuple[float, float] = (0.5, 0.5)  # declared traffic shares, control then treatment
    margin: float = 0.0  # outcome: the treatment may be at most this much worse (proportion or rating units)
    latency_margin: float = 0.10  # p50 / p95 of the treatment at most 10% above the control's
    alpha: float = 0.05
    srm_threshold: float = 0.001
    seed: int = 0
    n_resamples: int = 2000

    def __post_init__(self) -> None:
        if len(self.split) != 2 or any(not (math.isfinite(s) and s > 0) for s in self.split):
            raise ConfigError(f"split={self.split} must be two positive shares, e.g. 50/50 or 90/10")
        if not (math.isfinite(self.margin) and self.margin >= 0):
            raise ConfigError(f"margin={self.margin} must be a finite number >= 0")
        if not (math.isfinite(self.latency_margin) and self.latency_margin >= 0):
            raise ConfigError(f"latency_margin={self.latency_margin} must be >= 0 (0.10 means at most 10% slower)")
        if not 0 < self.alpha < 0.5 or not 0 < self.srm_threshold < 1:
            raise ConfigError(f"alpha={self.alpha} must be in (0, 0.5) and srm_threshold in (0, 1)")

    @property
    def shares(self) -> tuple[float, float]:
        total = sum(self.split)
        return self.split[0] / total, self.split[1] / total


def parse_split(text: str) -> tuple[float, float]:
    """``50/50``, ``90/10`` or ``0.9/0.1`` (control first)."""
    parts = text.split("/")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 2 or any(not (math.isfinite(v) and v > 0) for v in values):
        raise ConfigError(f"--split {text!r} is not two positive numbers: write it as control/treatment, e.g. 50/50")
    return values[0], values[1]


@dataclass
class Log:
    variant: list[str] = field(default_factory=list)
    value: list[float] = field(default_factory=list)  # outcome (0/1) or rating
    latency_ms: list[float] = field(default_factory=list)
    measure: str = ""  # "outcome" or "rating"


def _number(row: dict[str, Any], key: str, where: str, fix: str) -> float:
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DataError(f"{where}: {key}={value!r} is not a finite number; {fix}")
    return float(value)


def _value(row: dict[str, Any], where: str, log: Log) -> float:
    present = [k for k in ("outcome", "rating") if k in row and row[k] is not None]
    if len(present) != 1:
        raise DataError(
            f"{where}: give exactly one of 'outcome' (0/1) or 'rating' (a number), found {present or 'none'}"
        )
    measure = present[0]
    if log.measure and measure != log.measure:
        raise DataError(f"{where}: has {measure!r} but earlier rows have {log.measure!r}; use one measure per log")
    log.measure = measure
    if measure == "rating":
        return _number(row, "rating", where, "ratings are numbers such as 1-5 stars")
    outcome = row["outcome"]
    if isinstance(outcome, bool) or (isinstance(outcome, int | float) and outcome in (0, 1)):
        return float(outcome)
    raise DataError(f"{where}: outcome={outcome!r} must be 0, 1, true or false (use 'rating' for numeric scores)")


def read_log(path: Path) -> Log:
    """Validate and read a traffic-split log; every error names the line and the fix."""
    if not path.is_file():
        raise DataError(f"log {path} does not exist: pass the JSONL file of the traffic split")
    log = Log()
    seen: dict[str, str] = {}
    has_latency: bool | None = None
    for where, row in jsonl_objects(path):
        unknown = [k for k in row if k not in KNOWN_KEYS]
        if unknown:
            raise DataError(f"{where}: unknown field(s) {unknown}; a row has {', '.join(KNOWN_KEYS)}")
        rid, variant = row.get("request_id"), row.get("variant")
        if rid is None or rid == "" or isinstance(rid, bool) or not isinstance(rid, str | int):
            raise DataError(f"{where}: 'request_id' is missing or not a string; give every request its id")
        if str(rid) in seen:
            raise DataError(f"{where}: duplicate request_id {rid!r} (first at {seen[str(rid)]}); log each request once")
        seen[str(rid)] = where
        if not isinstance(variant, str) or not variant:
            raise DataError(f"{where}: 'variant' is missing or not a string; name the arm that served the request")
        value = _value(row, where, log)
        latency = "latency_ms" in row and row["latency_ms"] is not None
        if has_latency is not None and latency != has_latency:
            raise DataError(f"{where}: 'latency_ms' must be on every row or on none (earlier rows differ)")
        has_latency = latency
        if latency:
            ms = _number(row, "latency_ms", where, "latency is in milliseconds")
            if ms <= 0:
                raise DataError(f"{where}: latency_ms={ms} must be > 0 milliseconds")
            log.latency_ms.append(ms)
        log.variant.append(variant)
        log.value.append(value)
    if not log.variant:
        raise DataError(f"log {path} has no rows")
    return log


def arms(log: Log, config: ABConfig) -> tuple[str, str]:
    found = sorted(set(log.variant))
    if config.control and config.treatment:
        missing = [v for v in (config.control, config.treatment) if v not in found]
        extra = [v for v in found if v not in (config.control, config.treatment)]
        if missing or extra:
            raise DataError(
                f"the log's variants are {found}; --control {config.control} --treatment {config.treatment} "
                + (f"are missing {missing}" if missing else f"leave {extra} unassigned")
                + ": name the two variants of the log"
            )
        return config.control, config.treatment
    for control, treatment in DEFAULT_PAIRS:
        if set(found) == {control, treatment}:
            return control, treatment
    raise DataError(f"the log's variants are {found}: pass --control NAME --treatment NAME for its two arms")


def _needed(
    estimate: float, null: float, se: float | None, spread: tuple[float, float] | None, n: int, config: ABConfig
) -> dict[str, Any]:
    """Rows still needed to decide (80% power, the observed effect taken as true): from the arms' variances
    (``spread``: control, treatment), or from the current standard error ``se``, shrinking like 1/sqrt(n)."""
    distance = abs(estimate - null)
    if distance == 0.0:
        return {"rows_needed": None, "why": "the estimate sits on the margin: no sample size decides it"}
    if spread is not None:
        total = required_n_unpaired(
            spread[1], spread[0], distance, share_treatment=config.shares[1], alpha=config.alpha, power=PLANNING_POWER
        )
    else:
        assert se is not None
        z = float(sps.norm.isf(config.alpha) + sps.norm.ppf(PLANNING_POWER))
        total = max(2, math.ceil(n * (z * se / distance) ** 2))
    return {"rows_needed": max(0, total - n), "rows_total": total}


def _outcome_check(log: Log, is_t: np.ndarray, config: ABConfig) -> dict[str, Any]:
    values = np.asarray(log.value)
    t, c = values[is_t], values[~is_t]
    result: UnpairedResult
    if log.measure == "outcome":
        result = compare_proportions(
            int(t.sum()), t.size, int(c.sum()), c.size, margin=config.margin, alpha=config.alpha
        )
        spread = (float(c.mean() * (1 - c.mean())), float(t.mean() * (1 - t.mean())))
        why = (
            "binary outcomes: Newcombe's hybrid score interval for the difference of proportions keeps its "
            "coverage near 0 and 1; the Farrington-Manning score test gives the p-value at the margin"
        )
    else:
        result = compare_means(t, c, margin=config.margin, alpha=config.alpha)
        spread = (float(c.var(ddof=1)), float(t.var(ddof=1)))
        why = (
            "numeric ratings: Welch's t tests the mean difference, the quantity the margin is in, without "
            "assuming equal variances; Mann-Whitney U (reported) tests stochastic ordering, not the mean, so "
            "it cannot carry a margin on the mean"
        )
    check: dict[str, Any] = {
        "name": f"{log.measure}: treatment not worse by more than {config.margin:g}",
        **asdict(result),
        "why_this_test": why,
    }
    if result.verdict == "INCONCLUSIVE":
        check |= _needed(result.estimate, -config.margin, None, spread, values.size, config)
    return check


def _latency_checks(log: Log, is_t: np.ndarray, config: ABConfig) -> list[dict[str, Any]]:
    lat = np.asarray(log.latency_ms)
    t, c = lat[is_t], lat[~is_t]
    out = []
    for q in (0.5, 0.95):
        pct = f"{q * 100:g}"
        test: QuantileTest = unpaired_quantile_difference(
            t,
            c,
            q=q,
            scale=1 + config.latency_margin,
            alpha=config.alpha,
            seed=config.seed,
            n_resamples=config.n_resamples,
        )
        plain = unpaired_quantile_difference(
            t, c, q=q, alpha=config.alpha, seed=config.seed, n_resamples=config.n_resamples
        )
        check: dict[str, Any] = {
            "name": f"p{q * 100:g} latency at most {1 + config.latency_margin:g}x the control's",
            "test": f"unpaired bootstrap of p{pct}(treatment) - {1 + config.latency_margin:g} x p{pct}(control)",
            "treatment_value": float(np.quantile(t, q)),
            "control_value": float(np.quantile(c, q)),
            "estimate": test.estimate,
            "ci_low": test.ci_low,
            "ci_high": test.ci_high,
            "p_value": test.p_value,
            "verdict": test.verdict,
            "difference_ms": plain.estimate,
            "difference_ci_ms": [plain.ci_low, plain.ci_high],
            "why_this_test": "quantiles have no simple standard error: a bootstrap of each arm",
        }
        if test.verdict == "INCONCLUSIVE":
            check |= _needed(test.estimate, 0.0, test.se, None, lat.size, config)
        out.append(check)
    return out


def analyze(path: Path, config: ABConfig) -> dict[str, Any]:
    """The whole analysis as a JSON-ready dict, with ``verdict`` PASS, FAIL, INCONCLUSIVE or ERROR (SRM)."""
    log = read_log(path)
    control, treatment = arms(log, config)
    is_t = np.asarray([v == treatment for v in log.variant])
    counts = (int((~is_t).sum()), int(is_t.sum()))
    srm = sample_ratio_mismatch(counts, config.shares, config.srm_threshold)
    report: dict[str, Any] = {
        "log": str(path),
        "control": control,
        "treatment": treatment,
        "config": asdict(config),
        "rows": len(log.variant),
        "split": {
            "counts": {control: counts[0], treatment: counts[1]},
            "declared": list(config.shares),
            "chi2": srm.chi2,
            "p_value": srm.p_value,
            "mismatch": srm.mismatch,
        },
        "checks": [],
    }
    if srm.mismatch:
        report["verdict"] = "ERROR"
        report["reasons"] = [
            f"Sample ratio mismatch: {counts[0]} {control} vs {counts[1]} {treatment} rows against a declared "
            f"{config.shares[0]:.0%}/{config.shares[1]:.0%} split (chi-square p = {srm.p_value:.3g} < "
            f"{config.srm_threshold:g}). The assignment or the logging is broken, so no verdict is given: find "
            "why requests went missing from one arm before comparing outcomes."
        ]
        return report
    if min(counts) < 2:
        raise DataError(f"each arm needs at least 2 rows; {control} has {counts[0]}, {treatment} {counts[1]}")
    checks = [_outcome_check(log, is_t, config)]
    if log.latency_ms:
        checks += _latency_checks(log, is_t, config)
    report["checks"] = checks
    report["verdict"] = rules.worst(c["verdict"] for c in checks)
    report["reasons"] = [
        f"[{c['verdict']}] {c['name']}"
        + (f": {c['rows_needed']} more rows would decide it" if c.get("rows_needed") else "")
        for c in checks
    ]
    return report


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def markdown(report: dict[str, Any]) -> str:
    split = report["split"]
    lines = [
        f"# A/B analysis: {report['treatment']} vs {report['control']}: **{report['verdict']}**",
        "",
        f"Log `{report['log']}`, {report['rows']} rows. Split {split['counts']} against declared "
        f"{split['declared']}: chi-square p = {_fmt(split['p_value'])}"
        + (" (**sample ratio mismatch**)." if split["mismatch"] else "."),
        "",
    ]
    if report["checks"]:
        lines += [
            "| check | test | treatment | control | estimate | interval | p | verdict | rows needed |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for c in report["checks"]:
            lines.append(
                f"| {c['name']} | {c['test']} | {_fmt(c['treatment_value'])} | {_fmt(c['control_value'])} | "
                f"{_fmt(c['estimate'])} | [{_fmt(c['ci_low'])}, {_fmt(c['ci_high'])}] | {_fmt(c['p_value'])} | "
                f"{c['verdict']} | {c.get('rows_needed', '') if c.get('rows_needed') is not None else ''} |"
            )
        lines.append("")
        lines += [f"- {c['name']}: {c['why_this_test']}." for c in report["checks"]]
    lines += ["", *[f"- {r}" for r in report["reasons"]], ""]
    return "\n".join(lines)


def write(report: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "ab.json", out_dir / "ab.md"
    json_path.write_text(json.dumps(report, indent=1, default=float) + "\n", encoding="utf-8")
    md_path.write_text(markdown(report), encoding="utf-8")
    return json_path, md_path


def exit_code(verdict: str) -> int:
    """0 for PASS; 1 for FAIL, INCONCLUSIVE and ERROR (a usage error exits 2, from the CLI)."""
    return 0 if verdict == "PASS" else 1
