"""Promotion fails closed: an alias moves to a model only when the latest gating run of that exact model
(by content hash) ran every suite and passed every gate they declare. A missing or unreadable run, a suite
or gate that did not run, a suite edited since the run, a run that compared the model with itself or with
another base than its own, or any verdict but PASS (INCONCLUSIVE only if allowed) refuses, naming why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.device import Placement
from harness.discovery import suite_paths
from harness.errors import DataError, RegistryError
from harness.gates import gate_cases
from harness.pool import ModelRole, candidate_provenance, candidate_role
from harness.registry import Event, Registry
from harness.report import load_results
from harness.spec import load_suite
from harness.verdict import promotable


@dataclass(frozen=True)
class PromotionCheck:
    model: str
    path: Path
    content_hash: str
    run_id: str | None
    problems: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return not self.problems


def gating_runs(report_dir: Path, content_hash: str) -> list[dict[str, Any]]:
    """results.json of every run that gated ``content_hash`` as its candidate, oldest first. A file that is not
    valid JSON stops the check: skipping it could skip the run that failed."""
    runs = []
    for path in sorted((report_dir / "runs").glob("*/results.json")):
        try:
            doc = load_results(path)
        except DataError as exc:
            raise RegistryError(str(exc)) from None
        candidate = doc["models"].get("candidate")
        if isinstance(candidate, dict) and candidate.get("content_hash") == content_hash:
            runs.append(doc)
    return runs


GateKey = tuple[str, str]  # (suite, gate): gate names are unique only within a suite


def _declared_gates(doc: dict[str, Any], suites_dir: Path) -> tuple[set[GateKey], list[str]]:
    """The gates the run's suites declare today, and problems: a suite changed or gone since the run, or a
    suite under ``suites_dir`` the run did not include."""
    declared: set[GateKey] = set()
    problems = []
    gated = {Path(info["path"]).resolve() for info in doc.get("suites", [])}
    for required in suite_paths([suites_dir.resolve()]) if suites_dir.is_dir() else []:
        if required not in gated:
            problems.append(f"suite {required} was not part of run {doc['run_id']}: gate with every suite")
    for info in doc.get("suites", []):
        path = Path(info["path"])
        if not path.is_file():
            problems.append(f"suite {info['name']} ({path}) no longer exists: gate again")
            continue
        suite = load_suite(path)
        if suite.content_hash() != info["content_hash"]:
            problems.append(f"suite {info['name']} changed since run {doc['run_id']}: gate again")
        declared |= {(suite.name, case.name) for case in gate_cases(suite)}
    if not doc.get("suites"):
        problems.append(f"run {doc['run_id']} records no suites: gate again")
    return declared, problems


def _reference_problems(doc: dict[str, Any], role: ModelRole) -> list[str]:
    """A run proves nothing about a model compared with itself, or against another base than its own."""
    models = doc.get("models", {})
    problems = [
        f"the run's {name} is the candidate itself: gate against a different {name} (--{flag})"
        for name, flag in (("baseline", "baseline"), ("base", "base-model"))
        if models.get(name, {}).get("content_hash") == role.content_hash
    ]
    files = role.resolved.path if role.resolved else None
    trained_from = ((candidate_provenance(files) if files else None) or {}).get("base_model", {}).get("content_hash")
    gated = models.get("base", {})
    gated_base = gated.get("weights_hash", gated.get("content_hash"))  # training records the files' own hash
    if trained_from and gated_base != trained_from:
        problems.append(
            f"the run's base model ({str(gated_base)[:12]}) is not the one the candidate was trained from "
            f"({trained_from[:12]}): forgetting was measured against the wrong model; gate without --base-model"
        )
    return problems


def _gate_problem(gate: dict[str, Any]) -> str:
    """ "gate g (suite): FAIL", with the first items that got worse, so the refusal shows the evidence."""
    line = f"gate {gate['name']} ({gate['suite']}): {gate['verdict']}"
    worse = gate.get("flipped") or []
    if worse:
        line += f" ({len(worse)} item(s) worse, e.g. {', '.join(worse[:3])})"
    return line


def check_promotion(
    model: str,
    report_dir: Path,
    *,
    suites_dir: Path,
    allow_inconclusive: bool = False,
    registry: Registry | None = None,
    placement: Placement | None = None,
) -> PromotionCheck:
    """Whether ``model`` may be promoted: its latest gating run (on ``placement``: a bfloat16 GPU run is not a
    float32 CPU one) covered every suite under ``suites_dir``, against proper references, and every gate passed."""
    role = candidate_role(model, registry=registry or Registry(), placement=placement)
    if role.resolved is None:
        raise RegistryError(
            f"{model} is served by the {role.backend!r} backend and has no local files: the registry promotes "
            "model directories only; promote the directory the server loads"
        )
    runs = gating_runs(report_dir, role.content_hash)
    if not runs:
        return PromotionCheck(
            model,
            role.resolved.path,
            role.content_hash,
            None,
            (
                f"no gating run of {model} ({role.content_hash[:12]}) in {report_dir / 'runs'}: run "
                f"`pytest {suites_dir} --model={model}` first",
            ),
        )
    latest = runs[-1]
    declared, problems = _declared_gates(latest, suites_dir)
    problems += _reference_problems(latest, role)
    gates = {(gate["suite"], gate["name"]): gate for gate in latest["gates"]}
    verdicts = {key: gate["verdict"] for key, gate in gates.items()}
    problems += [
        f"gate {name} ({suite}) did not run: the run selected only some gates; gate without -k/-m"
        for suite, name in sorted(declared - verdicts.keys())
    ]
    problems += [_gate_problem(gate) for gate in gates.values() if not promotable(gate["verdict"], allow_inconclusive)]
    return PromotionCheck(model, role.resolved.path, role.content_hash, latest["run_id"], tuple(problems))


def promote(
    model: str,
    to: str,
    report_dir: Path,
    *,
    suites_dir: Path,
    reason: str = "",
    allow_inconclusive: bool = False,
    registry: Registry | None = None,
    placement: Placement | None = None,
) -> tuple[Event, PromotionCheck]:
    registry = registry or Registry()
    check = check_promotion(
        model,
        report_dir,
        suites_dir=suites_dir,
        allow_inconclusive=allow_inconclusive,
        registry=registry,
        placement=placement,
    )
    if not check.allowed:
        listed = "\n  - ".join(check.problems)
        raise RegistryError(
            f"refusing to promote {model} ({check.content_hash[:12]}) to {to}"
            + (f" (latest gating run {check.run_id})" if check.run_id else "")
            + f":\n  - {listed}"
        )
    why = f"promoted {model} after gating run {check.run_id}" + (f": {reason}" if reason else "")
    event = registry.set(to, check.path, content_hash=check.content_hash, reason=why)
    return event, check
