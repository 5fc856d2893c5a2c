"""Slices: every gate reports per-slice estimates; declared slices are gated, Holm across them; small ones undecided."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests

from harness.cases import Case, Message, read_cases
from harness.errors import ConfigError
from harness.evalsets import case_file, suite_world
from harness.gates import evaluate
from harness.gates.paired import compare_tables
from harness.gates.registry import GateCase, GateKind, register, unregister
from harness.gates.result import Check, GateResult
from harness.gates.slices import MIN_ITEMS, rate_slices
from harness.report import summary_markdown
from harness.scores import ScoreTable, table
from harness.slicing import Slicing
from harness.spec import load_suite
from harness.stats.binary import tango_score_interval

CHECKOUT = Path(__file__).resolve().parents[2]


def _cases(sizes: dict[str, int]) -> list[Case]:
    return [
        Case(f"{cat}-{i}", cat, (Message("user", f"question {cat} {i}"),), "yes")
        for cat, n in sizes.items()
        for i in range(n)
    ]


class _Scorer:
    def __init__(self, tables: dict[str, ScoreTable]) -> None:
        self.tables = tables

    def table(self, role: str, cases: Any, metric: str, **_: Any) -> ScoreTable:
        return self.tables[role]


class _Context:
    """What a forgetting gate asks of its run: cases, per-role tables, somewhere to save them."""

    seed = 0

    def __init__(self, cases: list[Case], tables: dict[str, ScoreTable]) -> None:
        self._cases, self._scorer = cases, _Scorer(tables)
        self.pool = SimpleNamespace(role=lambda name: SimpleNamespace(spec=SimpleNamespace(ref="base-model")))

    def cases(self, suite: Any, ref: str) -> list[Case]:
        return self._cases

    def scorer(self, suite: Any) -> _Scorer:
        return self._scorer

    def save_table(self, *args: Any) -> None:
        return None


def _suite(tmp_path: Path, extra: str = "") -> Any:
    (tmp_path / "test_s.yaml").write_text(
        f"suite: s\ngates:\n  forget:\n    kind: forgetting\n    cases: cases.jsonl\n    margin: 0.05\n{extra}"
    )
    return load_suite(tmp_path / "test_s.yaml")


def _regressed_weapons() -> tuple[list[Case], dict[str, ScoreTable]]:
    """Two large categories unchanged (a few flips both ways), one of 60 items where the candidate lost 15."""
    cases = _cases({"general": 400, "other": 400, "weapons": 60})
    base = [1.0] * len(cases)
    cand = list(base)
    for i in range(5):  # balanced noise in the big categories
        base[i], cand[i + 5] = 0.0, 0.0
    first_weapon = 800
    for i in range(first_weapon, first_weapon + 15):
        cand[i] = 0.0
    ids = [c.id for c in cases]
    return cases, {"candidate": table("exact_match", ids, cand), "base": table("exact_match", ids, base)}


def test_a_regressed_slice_is_only_reported_unless_the_gate_declares_it(tmp_path: Path) -> None:
    cases, tables = _regressed_weapons()
    reported = evaluate(GateCase(suite := _suite(tmp_path), "forget", suite.gates["forget"]), _Context(cases, tables))
    assert reported.checks[0].verdict == "PASS", reported.checks[0].reasons  # the whole gate passes
    by_value = {s.value: s for s in reported.slices}
    assert set(by_value) == {"general", "other", "weapons"} and not any(s.gated for s in reported.slices)
    weapons = by_value["weapons"].check
    assert weapons.verdict == "FAIL" and weapons.n == 60 and weapons.estimate == pytest.approx(-15 / 60)
    assert reported.verdict == "PASS", "a reported slice never changes the verdict"

    gated_suite = _suite(tmp_path, "    slices: {category: [weapons]}\n")
    gated = evaluate(GateCase(gated_suite, "forget", gated_suite.gates["forget"]), _Context(cases, tables))
    assert gated.checks[0].verdict == "PASS"
    assert [s.value for s in gated.slices if s.gated] == ["weapons"]
    assert gated.verdict == "FAIL", "a gated slice that fails fails the gate"
    assert any("slice category=weapons" in line and line.startswith("[FAIL]") for line in gated.reasons())
    again = GateResult.from_dict(json.loads(json.dumps(gated.to_dict())))
    assert again.slices == gated.slices and again.verdict == "FAIL", "slices survive the xdist round trip"


def _continuous_slices(
    pvalues: list[float], n: int = 30, margin: float = 0.5
) -> tuple[list[Case], ScoreTable, ScoreTable]:
    """Slices whose paired-t non-inferiority p-values are exactly ``pvalues`` (differences with SD 1)."""
    noise = stats.norm.ppf((np.arange(n) + 0.5) / n)
    noise = (noise - noise.mean()) / noise.std(ddof=1)
    cases, cand, ref = [], [], []
    for s, p in enumerate(pvalues):
        mean = -margin + float(stats.t.isf(p, n - 1)) / np.sqrt(n)
        cases += _cases({f"s{s}": n})
        ref += [1.0] * n
        cand += list(1.0 + mean + noise)
    ids = [c.id for c in cases]
    return cases, table("rouge_l", ids, cand), table("rouge_l", ids, ref)


def test_holm_across_the_gated_slices_matches_an_independent_computation() -> None:
    raw = [0.004, 0.03, 0.04, 0.2]
    cases, cand, ref = _continuous_slices(raw)
    gated = Slicing(gated=("s0", "s1", "s2"), declared=True)
    outcome = compare_tables("vs base", cand, ref, margin=0.5, alpha=0.05, cases=cases, slicing=gated)
    by_value = {s.value: s for s in outcome.slices}
    assert [by_value[f"s{i}"].check.p_value for i in range(4)] == pytest.approx(raw, rel=1e-9)
    expected = multipletests(raw[:3], method="holm")[1]
    assert [by_value[f"s{i}"].check.p_adjusted for i in range(3)] == pytest.approx(list(expected), rel=1e-12)
    assert by_value["s3"].check.p_adjusted is None, "a reported slice is not in the family"
    # s0 survives Holm (3 x 0.004); s1 and s2 pass alone but not after it (2 x 0.03 = 0.06)
    assert [by_value[f"s{i}"].check.verdict_unadjusted for i in range(3)] == ["PASS"] * 3
    assert [by_value[f"s{i}"].check.verdict for i in range(3)] == ["PASS", "INCONCLUSIVE", "INCONCLUSIVE"]
    assert "Holm adjustment across the 3 gated slices" in by_value["s1"].check.reasons[-1]

    reported = compare_tables("vs base", cand, ref, margin=0.5, alpha=0.05, cases=cases, slicing=Slicing())
    assert all(s.check.verdict == "PASS" for s in reported.slices[:3]), "reported slices are not adjusted"


def test_a_small_slice_is_undecided_and_says_the_items_it_needs() -> None:
    cases = _cases({"big": 200, "tiny": 4})
    ids = [c.id for c in cases]
    scores = [1.0] * len(ids)  # no item changed at all
    slicing = Slicing(gated=("tiny",), declared=True)
    outcome = compare_tables(
        "vs base",
        table("exact_match", ids, scores),
        table("exact_match", ids, scores),
        margin=0.05,
        alpha=0.05,
        cases=cases,
        slicing=slicing,
    )
    tiny = next(s.check for s in outcome.slices if s.value == "tiny")
    assert tiny.verdict == "INCONCLUSIVE" and tiny.n == 4
    assert f"too few to decide (a slice needs at least {MIN_ITEMS})" in tiny.reasons[-1]
    need = tiny.details["required_n"]
    # independently: the smallest n at which "no item changed" clears the margin with the 90% Tango interval
    assert tango_score_interval(0, 0, need, alpha=0.1)[0] > -0.05 >= tango_score_interval(0, 0, need - 1, alpha=0.1)[0]
    assert f"about {need} items" in tiny.reasons[-1]

    # continuous, every difference identical: the t test alone would PASS on 3 items; a slice never does
    few = _cases({"big": 40, "few": 3})
    fids = [c.id for c in few]
    cand = table("rouge_l", fids, [0.6] * len(fids))
    ref = table("rouge_l", fids, [0.5] * len(fids))
    whole = compare_tables("vs base", cand, ref, margin=0.05, alpha=0.05, cases=few, slicing=Slicing(gated=("few",)))
    assert whole.check.verdict == "PASS"
    few_check = next(s.check for s in whole.slices if s.value == "few")
    assert few_check.verdict == "INCONCLUSIVE" and few_check.details["too_small"]


def test_rate_slices_decide_each_slice_like_the_gate_bound() -> None:
    cases = _cases({"weapons": 40, "drugs": 40})
    ids = [c.id for c in cases]
    refused = [1.0] * 40 + [1.0] * 30 + [0.0] * 10  # drugs: 75% refused
    slices = rate_slices(
        "refusal floor",
        table("refusal", ids, refused),
        cases,
        Slicing(gated=("weapons", "drugs")),
        bound=0.9,
        direction="at_least",
        alpha=0.05,
    )
    verdicts = {s.value: s.check.verdict for s in slices}
    # 40/40: exact lower bound 0.05 ** (1 / 40) = 0.928 > 0.9; 30/40: upper bound below 0.9
    assert verdicts == {"weapons": "PASS", "drugs": "FAIL"}
    weapons = next(s.check for s in slices if s.value == "weapons")
    assert weapons.ci_low == pytest.approx(0.05 ** (1 / 40), rel=1e-9)
    assert weapons.p_adjusted == pytest.approx(
        multipletests([weapons.p_value, slices[1].check.p_value], method="holm")[1][0]
    )


def test_bad_slice_declarations_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="slices gates 'topic' but slice_by is 'category'"):
        _suite(tmp_path, "    slice_by: category\n    slices: {topic: [weapons]}\n")
    with pytest.raises(ConfigError, match="has no group"):
        _suite(tmp_path, "    slice_by: {name: topic, field: id, pattern: '^harmful-'}\n")
    with pytest.raises(ConfigError, match="must list the slices to gate"):
        _suite(tmp_path, "    slices: {category: weapons}\n")
    cases, tables = _regressed_weapons()
    suite = _suite(tmp_path, "    slices: {category: [weapon]}\n")
    result = evaluate(GateCase(suite, "forget", suite.gates["forget"]), _Context(cases, tables))
    assert result.verdict == "ERROR" and "['weapon'] of 'category' have no items" in str(result.error)
    assert "'weapons'" in str(result.error), "the message lists the slices there are"
    suite = _suite(tmp_path, "    slice_by: topic\n")
    result = evaluate(GateCase(suite, "forget", suite.gates["forget"]), _Context(cases, tables))
    assert result.verdict == "ERROR" and "no case has a 'topic'" in str(result.error)


def test_meta_fields_slice_too() -> None:
    cases = [replace(c, meta={"lang": "fr" if i % 2 else "en"}) for i, c in enumerate(_cases({"task": 40}))]
    groups = Slicing("lang", "lang", declared=True).groups(cases, [c.id for c in cases])
    assert {k: len(v) for k, v in groups.items()} == {"en": 20, "fr": 20}


@dataclass(frozen=True)
class ToyGate:
    kind: Literal["toy_unsliced"]


@pytest.fixture
def _toy_kind():  # type: ignore[no-untyped-def]
    def run(case: GateCase[Any], ctx: Any) -> GateResult:
        check = Check.threshold("ok", "x", 1.0, 0.5, True, "fine")
        return GateResult(case.name, case.suite.name, "toy_unsliced", "x", (check,))

    register(GateKind("toy_unsliced", ToyGate, run, "a toy gate without cases"))
    yield
    unregister("toy_unsliced")


@pytest.mark.usefixtures("_toy_kind")
def test_gated_slices_on_a_gate_that_cannot_slice_fail_closed(tmp_path: Path) -> None:
    (tmp_path / "test_t.yaml").write_text("suite: t\ngates:\n  g: {kind: toy_unsliced, slices: {category: [a]}}\n")
    suite = load_suite(tmp_path / "test_t.yaml")
    result = evaluate(GateCase(suite, "g", suite.gates["g"]), SimpleNamespace())  # type: ignore[arg-type]
    assert result.verdict == "ERROR" and "reports no per-case slices: remove `slices:`" in str(result.error)


def test_the_report_shows_a_slice_table_under_each_gate(tmp_path: Path) -> None:
    cases, tables = _regressed_weapons()
    suite = _suite(tmp_path, "    slices: {category: [weapons]}\n")
    result = evaluate(GateCase(suite, "forget", suite.gates["forget"]), _Context(cases, tables))
    doc = {
        "run_id": "r1",
        "verdict": result.verdict,
        "models": {},
        "multiplicity": {"method": "holm", "family_size": 1},
        "gates": [result.to_dict()],
    }
    text = summary_markdown(doc)
    assert "Slices by category: 1 gated" in text and "2 reported only" in text
    assert "| category=weapons | 60 |" in text and "❌ FAIL |" in text
    assert "reported: PASS" in text


def test_the_reference_suite_reports_meaningful_slices_and_gates_none(world: Any) -> None:
    suite = load_suite(CHECKOUT / "suites" / "test_reference.yaml")
    assert not any(s.gated for s in suite.slicing.values()), "the reference suite reports slices; it gates none"
    world_manifest = suite_world(suite)
    sizes = {}
    for gate, slicing in suite.slicing.items():
        spec = suite.gates[gate]
        cases = read_cases(case_file(suite, getattr(spec, "cases", None) or spec.harmful, world_manifest))
        sizes[gate] = {k: len(v) for k, v in slicing.groups(cases, [c.id for c in cases]).items()}
    assert sizes["safety"] == dict.fromkeys(
        ["weapons", "drugs", "hacking", "violence", "fraud", "theft", "harassment"], 15
    )
    assert sizes["forgetting_arithmetic"] == {"add": 441, "sub": 231}
    assert sizes["task_baseline"] == sizes["ab_task"] == {"arith": 354, "fact": 47}
    assert len(sizes["forgetting_facts"]) == 10 and sum(sizes["forgetting_facts"].values()) == 336


def test_the_html_report_shows_the_slices(tmp_path: Path) -> None:
    from harness.dashboard import write_dashboard

    cases, tables = _regressed_weapons()
    suite = _suite(tmp_path, "    slices: {category: [weapons]}\n")
    result = evaluate(GateCase(suite, "forget", suite.gates["forget"]), _Context(cases, tables))
    run = tmp_path / "reports" / "runs" / "r1"
    run.mkdir(parents=True)
    doc = {
        "schema": 1,
        "run_id": "r1",
        "started": "2026-01-01T00:00:00+00:00",
        "verdict": result.verdict,
        "models": {"candidate": {"spec": "c", "kind": "model", "content_hash": "ab" * 32}},
        "multiplicity": {"method": "holm", "family_size": 1},
        "gates": [result.to_dict()],
    }
    (run / "results.json").write_text(json.dumps(doc))
    html = write_dashboard(tmp_path / "reports").read_text()
    assert "forget: slices by category" in html
    assert html.count('<td class="">category=weapons</td>') == 1 and html.count("reported: PASS") == 2
