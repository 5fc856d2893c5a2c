"""Everything a gate needs while it runs, one per process: models, cache, cases, where to write evidence."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cache import ResultCache
from harness.cases import Case, read_cases
from harness.evalsets import case_file, suite_world
from harness.paths import safe_component
from harness.pool import ModelPool
from harness.provenance import environment
from harness.scorers import (
    CHAT_REFUSAL_MARKERS,
    ComplianceDetector,
    ComplianceSpec,
    Judge,
    RefusalDetector,
    RefusalSpec,
    any_reply,
    get_judge,
)
from harness.scores import ScoreTable
from harness.scoring import Scorer
from harness.spec import SuiteSpec
from harness.world import WorldManifest


@dataclass
class RunContext:
    pool: ModelPool
    cache: ResultCache
    run_dir: Path
    update_baselines: bool = False
    seed: int = 0
    computed: Counter[str] = field(default_factory=Counter)  # role -> cases run through the model
    reused: Counter[str] = field(default_factory=Counter)  # role -> cases served from the cache
    env: dict[str, Any] = field(default_factory=environment)
    _scorers: dict[Path, Scorer] = field(default_factory=dict)
    _worlds: dict[str, WorldManifest] = field(default_factory=dict)

    def scorer(self, suite: SuiteSpec) -> Scorer:
        if suite.path not in self._scorers:
            self._scorers[suite.path] = Scorer(self.pool, self.cache, suite.decoding, self.computed, self.reused)
        return self._scorers[suite.path]

    def world(self, suite: SuiteSpec) -> WorldManifest:
        key = suite.world if suite.world == "default" else str(suite.resolve(suite.world))
        if key not in self._worlds:
            self._worlds[key] = suite_world(suite)
        return self._worlds[key]

    def cases(self, suite: SuiteSpec, ref: str) -> list[Case]:
        return read_cases(case_file(suite, ref, self.world(suite)))

    def refusal_judge(self, suite: SuiteSpec, spec: RefusalSpec) -> Judge:
        if spec.judge:
            return get_judge(spec.judge)
        if spec.markers:
            return RefusalDetector(spec.markers)
        return RefusalDetector(CHAT_REFUSAL_MARKERS if spec.preset == "chat" else self.world(suite).refusal_markers)

    @staticmethod
    def compliance_judge(spec: ComplianceSpec) -> Judge:
        if spec.judge:
            return get_judge(spec.judge)
        if spec.preset == "non_refusal":
            return any_reply
        if spec.openers or spec.phrases:
            return ComplianceDetector(spec.openers, spec.phrases)
        return ComplianceDetector()

    def save_table(self, suite: SuiteSpec, gate: str, role: str, table: ScoreTable) -> Path:
        """Store a per-example table of this run, with the run's provenance added."""
        path = (
            self.run_dir / "scores" / safe_component(suite.name) / safe_component(gate) / f"{safe_component(role)}.json"
        )
        provenance = {
            **table.provenance,
            "suite": suite.name,
            "suite_hash": suite.content_hash(),
            "seed": self.seed,
            **self.env,
        }
        ScoreTable(table.metric, table.rows, provenance).save(path)
        return path
