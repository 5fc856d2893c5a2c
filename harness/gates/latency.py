"""Latency gate: per-item generation time and tokens per second, candidate vs a reference role, measured in
this process on the same cases, interleaved, never served from the result cache.

How it measures
    ``items`` cases (a seeded sample of the case set) are generated one at a time through
    :func:`harness.run.generate` with batch size 1, by every arm in turn: candidate, reference and (with
    ``aa: true``) the reference a second time. The arms' order rotates from item to item and repeat to repeat
    (ABAB..., then BABA...), so a slow drift of the machine hits every arm alike. ``warmup`` cases per arm are
    generated first and discarded (allocation, kernel selection, caches). Each item is timed ``repeats``
    times per arm; its latency is the median of those.

What it decides (``margin`` m: "at most m slower", e.g. 0.10)
    * typical latency: the paired t-test of the mean per-item log-ratio ``log(t_candidate / t_reference)``
      (the log of the geometric-mean ratio, a p50-like summary), non-inferiority at ``log(1 + m)``:
      PASS when the one-sided upper ``1 - alpha`` bound is below ``log(1 + m)``, FAIL when the lower bound is
      above it;
    * tail latency (``p95: true``): the paired percentile bootstrap of ``log(p95_candidate / p95_reference)``,
      items resampled with their pair, decided against the same ``log(1 + m)``.
    * noise (``aa: true``): the same two statistics for the reference against itself (A/A). Its spread is the
      largest absolute bound of the two A/A intervals; when it is wider than ``log(1 + m)`` the machine cannot
      resolve the margin and a PASS becomes INCONCLUSIVE; a slowdown beyond the margin plus that noise (the
      whole interval above ``log(1 + m) + spread``) stays FAIL (:func:`harness.verdict.under_noise`).

Reported beside them: p50 / p95 latency, tokens per second (reply tokens re-tokenized over wall time; whitespace
words for a backend without a tokenizer) and, with ``ttft: true``, time to first token. The transformers path has
no streaming hook in :func:`harness.run.generate`, so time to first token is measured as a one-token generation
through the same path (prefill plus one decoding step), an extra timed call per item and arm.

Wall-clock timing is noisy on shared machines (other jobs, CPU frequency scaling, thermal throttling): run it
on a dedicated runner, raise ``repeats``, and read the A/A spread before trusting a verdict.
"""

from __future__ import annotations

import math
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from harness import verdict as rules
from harness.backends.protocol import ModelBackend
from harness.cases import Case
from harness.errors import ConfigError
from harness.gates.context import RunContext
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import Check, GateResult
from harness.run import DecodingSettings, generate
from harness.scores import table
from harness.stats import compare_paired
from harness.stats.quantiles import QuantileTest, paired_quantile_log_ratio

AA = "reference (A/A)"


@dataclass(frozen=True)
class LatencyGate:
    """Candidate generation latency vs a reference role: at most ``margin`` slower (noisy on shared machines)."""

    kind: Literal["latency"]
    cases: str
    reference: Literal["baseline", "base"] = "baseline"
    items: int = 40  # cases measured (a seeded sample); 0 measures every case
    repeats: int = 3
    warmup: int = 2  # cases per arm generated first and discarded
    margin: float = 0.10  # at most 10% slower
    p95: bool = True
    aa: bool = True
    ttft: bool = False
    max_new_tokens: int | None = None  # default: the suite's decoding
    seed: int = 0
    n_resamples: int = 2000

    def __post_init__(self) -> None:
        if not (math.isfinite(self.margin) and 0 < self.margin < 10):
            raise ConfigError(f"margin={self.margin} must be in (0, 10): the relative slowdown allowed, e.g. 0.10")
        if self.items < 0 or self.items == 1:
            raise ConfigError(f"items={self.items} must be 0 (every case) or at least 2")
        if self.repeats < 1 or self.warmup < 0:
            raise ConfigError(f"repeats={self.repeats} must be at least 1 and warmup={self.warmup} at least 0")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        if self.n_resamples < 200:
            raise ConfigError(f"n_resamples={self.n_resamples} must be at least 200")


@dataclass
class Timings:
    """Per arm, per item: the wall times, reply token counts and first-token times of every repeat."""

    seconds: dict[str, list[list[float]]]
    tokens: dict[str, list[list[int]]]
    first_token: dict[str, list[list[float]]]

    def latency(self, arm: str) -> list[float]:
        return [statistics.median(runs) for runs in self.seconds[arm]]

    def tokens_per_second(self, arm: str) -> list[float]:
        return [
            statistics.median(k / s for k, s in zip(ks, ss, strict=True))
            for ks, ss in zip(self.tokens[arm], self.seconds[arm], strict=True)
        ]


def sample(cases: Sequence[Case], items: int, seed: int) -> list[Case]:
    if items == 0 or items >= len(cases):
        return list(cases)
    return random.Random(seed).sample(list(cases), items)


def _timed(loaded: ModelBackend, case: Case, settings: DecodingSettings, desc: str) -> tuple[float, str]:
    start = time.perf_counter()
    text = generate(loaded, [case], settings, desc)[0]
    return time.perf_counter() - start, text


def _count_tokens(model: ModelBackend, text: str) -> int:
    """Reply tokens by the model's own tokenizer; whitespace words for a backend without one (said in the notes)."""
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        return len(text.split())
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def measure(
    models: dict[str, ModelBackend], cases: Sequence[Case], spec: LatencyGate, settings: DecodingSettings
) -> Timings:
    """Time every arm on every case, interleaved with a rotating order; warm-up generations are discarded."""
    arms = list(models)
    first = replace(settings, max_new_tokens=1)
    for arm in arms:
        for case in [cases[i % len(cases)] for i in range(spec.warmup)]:
            generate(models[arm], [case], settings, f"warm-up {arm}")
    out = Timings(
        {a: [[] for _ in cases] for a in arms},
        {a: [[] for _ in cases] for a in arms},
        {a: [[] for _ in cases] for a in arms},
    )
    for repeat in range(spec.repeats):
        for i, case in enumerate(cases):
            shift = (i + repeat) % len(arms)
            for arm in arms[shift:] + arms[:shift]:
                seconds, text = _timed(models[arm], case, settings, f"latency {arm}")
                out.seconds[arm][i].append(seconds)
                count = _count_tokens(models[arm], text)
                out.tokens[arm][i].append(max(count, 1))
                if spec.ttft:
                    out.first_token[arm][i].append(_timed(models[arm], case, first, f"first token {arm}")[0])
    return out


def _ratio_text(log_low: float | None, log_high: float | None) -> str:
    def fmt(v: float | None) -> str:
        return "unbounded" if v is None or not math.isfinite(v) else f"{math.exp(v):.3f}"

    return f"[{fmt(log_low)}, {fmt(log_high)}]"


def mean_log_ratio_check(cand: list[float], ref: list[float], spec: LatencyGate, alpha: float, seed: int) -> Check:
    comparison = compare_paired(
        np.log(cand),
        np.log(ref),
        kind="continuous",
        margin=math.log1p(spec.margin),
        alpha=alpha,
        decision="non_inferiority",
        higher_is_better=False,
        seed=seed,
        n_resamples=spec.n_resamples,
    )
    check = Check.paired(
        f"typical latency at most {1 + spec.margin:g}x (paired t on the mean log-ratio)", "log latency", comparison
    )
    ratio = (
        f"Geometric-mean latency ratio {math.exp(comparison.estimate):.3f}, {1 - 2 * alpha:.0%} interval "
        f"{_ratio_text(check.ci_low, check.ci_high)}; allowed at most {1 + spec.margin:g}."
    )
    return replace(check, reasons=(*check.reasons, ratio))


def quantile_check(name: str, test: QuantileTest, cand: list[float], ref: list[float], margin: float) -> Check:
    ratio = math.exp(test.estimate)
    if test.verdict == "PASS":
        why = f"the upper bound clears {1 + margin:g} (p = {test.p_value:.3g})"
    elif test.verdict == "FAIL":
        why = f"the whole interval is above {1 + margin:g}"
    else:
        why = f"the interval straddles {1 + margin:g}: the data cannot decide (p = {test.p_value:.3g})"
    reason = (
        f"p95 latency ratio {ratio:.3f} ({np.quantile(cand, 0.95) * 1e3:.1f} ms vs {np.quantile(ref, 0.95) * 1e3:.1f}"
        f" ms), {1 - 2 * test.alpha:.0%} bootstrap interval {_ratio_text(test.ci_low, test.ci_high)}: {why}."
    )
    return Check(
        name=name,
        metric="log latency",
        test=test.statistic,
        n=len(cand),
        candidate_value=float(np.quantile(cand, test.q)),
        reference_value=float(np.quantile(ref, test.q)),
        estimate=test.estimate,
        ci_low=test.ci_low if math.isfinite(test.ci_low) else None,
        ci_high=test.ci_high if math.isfinite(test.ci_high) else None,
        p_value=test.p_value,
        alpha=test.alpha,
        verdict=test.verdict,
        reasons=(reason,),
        details={"q": test.q, "null": test.null, "n_resamples": test.n_resamples, "margin": margin},
    )


def aa_spread(ref: list[float], again: list[float], spec: LatencyGate, alpha: float, seed: int) -> float:
    """The largest absolute bound of the A/A intervals (mean log-ratio, and p95 log-ratio when gated)."""
    typical = mean_log_ratio_check(again, ref, spec, alpha, seed)
    bounds: list[float | None] = [typical.ci_low, typical.ci_high]
    if spec.p95:
        test = paired_quantile_log_ratio(again, ref, q=0.95, null=math.log1p(spec.margin), alpha=alpha, seed=seed)
        bounds += [test.ci_low, test.ci_high]
    return max(math.inf if b is None else abs(b) for b in bounds)


def noise_check(spread: float, spec: LatencyGate, n: int) -> Check:
    quiet = rules.resolves(spread, spec.margin)
    reason = (
        f"The reference timed against itself (A/A) varies by up to a factor {math.exp(spread):.3f}, "
        + ("within" if quiet else "wider than")
        + f" the margin {1 + spec.margin:g}"
        + (
            "."
            if quiet
            else ": this machine cannot resolve the margin, so the gate is INCONCLUSIVE; rerun on a "
            "quiet, dedicated runner or with more repeats and items."
        )
    )
    return Check(
        "A/A noise within the margin",
        "log latency",
        "A/A interval",
        n,
        math.exp(spread),
        1 + spec.margin,
        None,
        None,
        None,
        None,
        0.0,
        "PASS" if quiet else "INCONCLUSIVE",
        (reason,),
    )


def _summary(arm: str, timings: Timings) -> tuple[str, dict[str, Any]]:
    lat = timings.latency(arm)
    tps = timings.tokens_per_second(arm)
    row: dict[str, Any] = {
        "p50_ms": float(np.quantile(lat, 0.5) * 1e3),
        "p95_ms": float(np.quantile(lat, 0.95) * 1e3),
        "tokens_per_s_median": float(np.median(tps)),
    }
    text = f"{arm}: p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms, {row['tokens_per_s_median']:.1f} tokens/s"
    if any(timings.first_token[arm]):
        ttft = [statistics.median(r) for r in timings.first_token[arm]]
        row["ttft_p50_ms"] = float(np.quantile(ttft, 0.5) * 1e3)
        text += f", time to first token p50 {row['ttft_p50_ms']:.1f} ms"
    return text, row


def evaluate(case: GateCase[LatencyGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    cases = sample(ctx.cases(suite, spec.cases), spec.items, spec.seed)
    if len(cases) < 2:
        raise ConfigError(f"gate {name!r}: the case set has {len(cases)} case(s); latency needs at least 2")
    settings = replace(
        suite.decoding, batch_size=1, max_new_tokens=spec.max_new_tokens or suite.decoding.max_new_tokens
    )
    models = {"candidate": ctx.pool.load("candidate"), spec.reference: ctx.pool.load(spec.reference)}
    if spec.aa:
        models[AA] = models[spec.reference]
    timings = measure(models, cases, spec, settings)  # always measured: latency is never read from the cache
    cand, ref = timings.latency("candidate"), timings.latency(spec.reference)
    alpha = suite.alpha
    checks = [mean_log_ratio_check(cand, ref, spec, alpha, ctx.seed)]
    if spec.p95:
        test = paired_quantile_log_ratio(
            cand, ref, q=0.95, null=math.log1p(spec.margin), alpha=alpha, seed=ctx.seed, n_resamples=spec.n_resamples
        )
        checks.append(
            quantile_check(f"p95 latency at most {1 + spec.margin:g}x (paired bootstrap)", test, cand, ref, spec.margin)
        )
    if spec.aa:
        spread = aa_spread(ref, timings.latency(AA), spec, alpha, ctx.seed)
        checks = [rules.under_noise(c, spread, spec.margin) for c in checks]
        checks.append(noise_check(spread, spec, len(cases)))
    summaries = [_summary(arm, timings) for arm in models]
    for arm in ("candidate", spec.reference):
        ctx.save_table(
            suite,
            name,
            arm,
            table(
                "latency_s",
                [c.id for c in cases],
                timings.latency(arm),
                provenance={
                    "model": ctx.pool.role(arm).describe(),
                    "timings": timings.seconds[arm],
                    "tokens": timings.tokens[arm],
                    "summary": dict(summaries[list(models).index(arm)][1]),
                },
            ),
        )
    notes = (
        f"Measured in this process, never cached: {len(cases)} items x {spec.repeats} repeat(s), arms interleaved "
        f"with a rotating order, {spec.warmup} warm-up item(s) per arm discarded, max_new_tokens "
        f"{settings.max_new_tokens}.",
        *[text for text, _ in summaries],
        "Time to first token: "
        + (
            "a one-token generation through the same path (prefill + one step)."
            if spec.ttft
            else "not measured (ttft: false; the transformers path has no streaming hook)."
        ),
        "Wall-clock latency is noisy on shared machines; see the A/A check.",
    )
    return GateResult(name, suite.name, "latency", "latency", tuple(checks), notes=notes)


register(
    GateKind(
        "latency",
        LatencyGate,
        evaluate,
        "generation latency and tokens/s, candidate vs a reference role, interleaved",
        cases=lambda spec: [spec.cases],
    )
)
