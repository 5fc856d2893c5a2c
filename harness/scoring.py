"""A role's model on a case set -> ScoreTable, through the result cache.

Generations and answer log-likelihoods are what is cached (keyed by model hash, cases hash and decoding);
scoring them is cheap and redone every run, so changing a margin or a scorer never costs a forward pass.
Models are reached through their backend (harness.backends.ModelBackend) only.

``batch_size: auto`` is keyed as the word ``auto``, never as the size it resolves to: the size depends on the
free memory of the moment (and is only known after the run), while the results do not depend on it (greedy
decoding, left padding with an attention mask and explicit positions: every row is computed as it would be
alone, which tests/test_run.py checks). Keying on the resolved size would miss the cache across machines and
runs for no gain. A fixed batch size stays in the key as it always was, so existing caches stay valid.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from harness.cache import ResultCache, cache_key
from harness.cases import Case
from harness.errors import ConfigError
from harness.pool import ModelPool
from harness.run import DecodingSettings
from harness.sampling import cache_decoding, per_item, repeat_seeds, repeat_settings
from harness.scorers import Judge, contains, exact_match, rouge_l
from harness.scores import ScoreTable, table

METRICS = ("exact_match", "rouge_l", "contains", "loglikelihood", "refusal")
TextMetric = Literal["exact_match", "rouge_l", "contains"]  # the metrics of generated text against the expected answer


def cases_hash(cases: Sequence[Case]) -> str:
    payload = [c.to_dict() for c in cases]
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class Scorer:
    """Scores roles of a pool on case sets, caching forward passes and counting them per role."""

    pool: ModelPool
    cache: ResultCache
    decoding: DecodingSettings
    computed: Counter[str] = field(default_factory=Counter)  # role -> cases run through the model
    reused: Counter[str] = field(default_factory=Counter)  # role -> cases served from the cache

    def generation_key(self, role: str, cases: Sequence[Case], repeat: int = 0) -> str:
        """The cache key of ``role``'s generations on ``cases`` in one repeat of this scorer's decoding."""
        return cache_key(
            what="generate",
            model=self.pool.role(role).content_hash,
            cases=cases_hash(cases),
            decoding=cache_decoding(repeat_settings(self.decoding, repeat)),
        )

    def generations(self, role: str, cases: Sequence[Case], repeat: int = 0) -> list[str]:
        """The replies of ``role`` to ``cases`` in one repeat (each repeat has its own seed and cache entry)."""
        settings = repeat_settings(self.decoding, repeat)
        key = self.generation_key(role, cases, repeat)
        run = lambda: self.pool.load(role).generate(cases, settings, role)  # noqa: E731
        return list(self._cached(role, key, cases, run))

    def answer_loglikelihoods(self, role: str, cases: Sequence[Case]) -> list[float]:
        missing = [c.id for c in cases if not c.answer]
        if missing:
            raise ConfigError(f"log-likelihood scoring needs an answer for every case; {missing[:5]} have none")
        key = cache_key(
            what="loglikelihood",
            model=self.pool.role(role).content_hash,
            cases=cases_hash(cases),
            batch_size=self.decoding.batch_size,
        )
        requests = [(c.messages, str(c.answer)) for c in cases]
        run = lambda: self.pool.load(role).loglikelihood(requests, self.decoding.batch_size, desc=role)  # noqa: E731
        return [float(v) for v in self._cached(role, key, cases, run)]

    def _cached(self, role: str, key: str, cases: Sequence[Case], run: Any) -> list[Any]:
        if self.pool.role(role).details.get("cacheable") is False:  # a served model without a declared revision
            self.computed[role] += len(cases)
            return list(run())
        computed_before = self.cache.misses
        values = self.cache.get_or_compute(key, run)
        counter = self.computed if self.cache.misses > computed_before else self.reused
        counter[role] += len(cases)
        return list(values)

    def table(
        self,
        role: str,
        cases: Sequence[Case],
        metric: str,
        *,
        judge: Judge | None = None,
        provenance: dict[str, Any] | None = None,
    ) -> ScoreTable:
        """Per-case scores of ``role`` under ``metric`` (refusal needs ``judge``: 1.0 means refused)."""
        if metric not in METRICS:
            raise ConfigError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
        samples = None
        if metric == "loglikelihood":
            scores = self.answer_loglikelihoods(role, cases)
            outputs: list[str | None] = [None] * len(cases)
        else:  # k repeats: per-item mean scores, each item's samples kept (harness.sampling)
            runs = [self.generations(role, cases, r) for r in range(self.decoding.repeats)]
            outputs = list(runs[0])
            scores, samples = per_item([_score_texts(cases, texts, metric, judge) for texts in runs])
        if samples is not None:
            provenance = {
                "repeat_seeds": list(repeat_seeds(self.decoding.seed, self.decoding.repeats)),
                **(provenance or {}),
            }
        info = {
            "model": self.pool.role(role).describe(),
            "cases_hash": cases_hash(cases),
            "metric": metric,
            "decoding": self.decoding.to_dict(),
            **(provenance or {}),
        }
        return table(
            metric,
            [c.id for c in cases],
            scores,
            outputs=outputs,
            clusters=[c.cluster for c in cases],
            samples=samples,
            provenance=info,
        )


def _score_texts(cases: Sequence[Case], texts: Sequence[str], metric: str, judge: Judge | None) -> list[float]:
    if metric == "exact_match":
        return [exact_match(t, c.answer) for c, t in zip(cases, texts, strict=True)]
    if metric == "rouge_l":
        return [rouge_l(t, c.answer) for c, t in zip(cases, texts, strict=True)]
    if metric == "contains":
        return [contains(t, c.answer) for c, t in zip(cases, texts, strict=True)]
    if judge is None:
        raise ConfigError("refusal scoring needs a refusal detector or judge")
    return [float(judge(c.prompt, t)) for c, t in zip(cases, texts, strict=True)]
