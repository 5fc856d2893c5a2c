"""Blind human evaluation end to end on tiny models: export, scripted raters, import, and the `human` gate
through the pytest plugin (PASS when raters prefer the candidate, FAIL when they prefer the reference)."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cases import Case, Message, write_cases
from harness.cli import main
from harness.human.key import COLUMNS, SheetKey

SUITE = """
suite: human
decoding: {max_new_tokens: 6, batch_size: 16}
multiplicity: none
gates:
  human_pref:
    kind: human
  human_correctness:
    kind: human
    measure: correctness
"""
N = 40


@pytest.fixture
def exported(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path) -> Path:
    root = pytester.path
    cases = [Case(f"q{i}", "task", (Message("user", f"question {i}, please?"),), "yes") for i in range(N)]
    write_cases(root / "cases.jsonl", cases)
    (root / "test_human.yaml").write_text(SUITE)
    args = ["human", "export", "--model", str(tiny_adapter_dir), "--against", str(tiny_model_dir)]
    args += ["-n", str(N), "--suite", str(root / "test_human.yaml"), "--cases", "cases.jsonl", "--out", str(root / "x")]
    assert main(args) == 0
    return root / "x"


def _fill(exported: Path, prefer: str, raters: tuple[str, ...] = ("ann", "bob", "cy")) -> list[Path]:
    """Scripted raters who can tell the models apart (they read the key, as an oracle of quality would): each
    item's better side is ``prefer`` ("candidate" or "reference") on 85% of items, a tie on 10%, the other on 5%;
    raters agree, except that cy calls two items a tie."""
    key = SheetKey.load(exported / "key.json")
    rng = random.Random(7)
    verdict = {item.item_id: rng.choices(["pref", "tie", "other"], [0.85, 0.10, 0.05])[0] for item in key.items}
    sheet = list(csv.DictReader((exported / "raters" / "sheet.csv").open(encoding="utf-8")))
    paths = []
    for rater in raters:
        rows = []
        for n, row in enumerate(sheet):
            item = key.by_item()[row["item_id"]]
            other = "B" if item.candidate_side == "A" else "A"
            good = item.candidate_side if prefer == "candidate" else other
            call = "tie" if rater == "cy" and n < 2 else verdict[item.item_id]
            better = {"pref": good, "other": "B" if good == "A" else "A", "tie": "tie"}[call]
            scores = {side: (4 if better == side else 2 if better != "tie" else 3) for side in "AB"}
            criteria = ("relevance", "coherence", "correctness")
            filled = {f"{c}_{s.lower()}": str(scores[s]) for c in criteria for s in "AB"}
            rows.append({**row, **filled, "preference": better, "rater_id": rater})
        path = exported / f"ratings-{rater}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
            writer.writeheader()
            writer.writerows(rows)
        paths.append(path)
    return paths


def _verdicts(root: Path) -> dict[str, dict]:
    runs = sorted((root / "reports" / "runs").iterdir())
    doc = json.loads((runs[-1] / "results.json").read_text())
    return {g["name"]: g for g in doc["gates"]}


def _gate(pytester: pytest.Pytester, candidate: Path, against: Path) -> dict[str, dict]:
    pytester.runpytest_inprocess(f"--model={candidate}", f"--baseline={against}")
    return _verdicts(pytester.path)


def test_the_sheets_are_blinded_shuffled_and_keyed(exported: Path, tiny_model_dir: Path) -> None:
    key = SheetKey.load(exported / "key.json")
    assert not (exported / "raters" / "key.json").exists(), "the key is not among what raters get"
    sheet = (exported / "raters" / "sheet.csv").read_text(encoding="utf-8")
    assert key.model_hash("candidate") not in sheet and str(tiny_model_dir) not in sheet
    assert [i.case_id for i in key.items] != [f"q{i}" for i in range(N)], "items are shuffled"
    assert {i.candidate_side for i in key.items} == {"A", "B"}, "sides are randomised per item"
    assert key.seed == 0 and key.cases["selected"] == N and key.models["against"]["weights_hash"]
    form = (exported / "raters" / "form.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"?https?:", form), "the form must work offline"
    assert all(i.item_id in form for i in key.items) and "relevance" in form and "Save ratings as CSV" in form


def test_export_again_reuses_the_cached_answers_and_the_same_draw(
    exported: Path, tiny_model_dir: Path, tiny_adapter_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    suite = exported.parent / "test_human.yaml"
    args = ["human", "export", "--model", str(tiny_adapter_dir), "--against", str(tiny_model_dir), "-n", str(N)]
    assert main([*args, "--suite", str(suite), "--cases", "cases.jsonl", "--out", str(exported.parent / "y")]) == 0
    assert "reused from the cache" in capsys.readouterr().out
    first, again = SheetKey.load(exported / "key.json"), SheetKey.load(exported.parent / "y" / "key.json")
    assert first.items == again.items and first.export_id == again.export_id


def test_round_trip_passes_when_raters_prefer_the_candidate_and_fails_when_they_do_not(
    pytester: pytest.Pytester, exported: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    gates = _gate(pytester, tiny_adapter_dir, tiny_model_dir)
    assert gates["human_pref"]["verdict"] == "FAIL", "no ratings yet: fail closed"
    assert "harness human export" in " ".join(gates["human_pref"]["reasons"])

    assert main(["human", "import", *map(str, _fill(exported, "candidate")), "--key", str(exported / "key.json")]) == 0
    gates = _gate(pytester, tiny_adapter_dir, tiny_model_dir)
    assert gates["human_pref"]["verdict"] == "PASS", gates["human_pref"]["reasons"]
    assert gates["human_correctness"]["verdict"] == "PASS", gates["human_correctness"]["reasons"]
    check = gates["human_pref"]["checks"][0]
    assert check["details"]["alpha_krippendorff"] >= 0.667 and check["details"]["ties"] >= 1

    assert main(["human", "import", *map(str, _fill(exported, "reference")), "--key", str(exported / "key.json")]) == 0
    gates = _gate(pytester, tiny_adapter_dir, tiny_model_dir)
    assert gates["human_pref"]["verdict"] == "FAIL" and gates["human_correctness"]["verdict"] == "FAIL"
    assert gates["human_pref"]["examples"], "items the raters preferred the reference on are shown"

    # The same ratings with the models swapped are not these models' ratings: fail closed.
    assert _gate(pytester, tiny_model_dir, tiny_adapter_dir)["human_pref"]["verdict"] == "FAIL"


def test_one_rater_or_too_few_items_is_inconclusive(
    pytester: pytest.Pytester, exported: Path, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    (paths,) = [_fill(exported, "candidate", raters=("solo",))]
    assert main(["human", "import", *map(str, paths), "--key", str(exported / "key.json")]) == 0
    gate = _gate(pytester, tiny_adapter_dir, tiny_model_dir)["human_pref"]
    assert gate["verdict"] == "INCONCLUSIVE"
    assert "Inter-rater reliability is unknown" in " ".join(gate["reasons"])
    assert "Without these floors the test says PASS" in " ".join(gate["reasons"])


def test_the_forms_csv_writer_round_trips_awkward_text(exported: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    form = (exported / "raters" / "form.html").read_text(encoding="utf-8")
    script = form.split("<script>", 1)[1].split("</script>", 1)[0]
    awkward = {"a": 'he said "no", then\nleft', "b": "x,y\r\nz"}
    probe = f"{script}\nprocess.stdout.write(toCsv(['a', 'b'], [{json.dumps(awkward)}]));"
    out = subprocess.run([node, "-e", probe], capture_output=True, check=True).stdout.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows == [awkward]
