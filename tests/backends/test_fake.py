"""The fake backend: canned replies from a rules file, a content hash of the rules, and a whole gating run
through the pytest plugin that never imports torch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.backends import ModelBackend
from harness.backends.fake import FakeBackend, read_rules
from harness.cache import ResultCache
from harness.cases import Case, Message, write_cases
from harness.errors import ModelLoadError
from harness.pool import build_pool
from harness.run import DecodingSettings, generate, loglikelihood
from harness.scoring import Scorer

CANDIDATE = """
replies:
  - {contains: fact question, reply: Paris}
  - {contains: math question, reply: "5"}
default: I do not know.
"""
BASE = """
replies:
  - {contains: fact question 1, reply: Paris}  # 1 and 10-19: the candidate knows more facts than its base
  - {contains: math question, reply: "4"}
default: I do not know.
"""


def _cases(prefix: str, n: int, answer: str) -> list[Case]:
    return [Case(f"{prefix}-{i}", "fact", (Message("user", f"{prefix} question {i}?"),), answer) for i in range(n)]


@pytest.fixture
def fakes(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "candidate.yaml").write_text(CANDIDATE)
    (tmp_path / "base.yaml").write_text(BASE)
    return tmp_path / "candidate.yaml", tmp_path / "base.yaml"


def test_fake_roles_resolve_hash_and_answer_by_their_rules(fakes: tuple[Path, Path], tmp_path: Path) -> None:
    candidate, base = fakes
    pool = build_pool(f"fake:{candidate}", baseline=f"fake:{base}", base_model=f"fake:{base}")
    assert pool.role("candidate").backend == "fake" and pool.role("candidate").resolved is None
    assert pool.role("candidate").content_hash != pool.role("base").content_hash
    assert pool.role("baseline").content_hash == pool.role("base").content_hash
    described = pool.describe()["candidate"]
    assert described["kind"] == "fake" and described["path"] == str(candidate.resolve())
    model = pool.load("candidate")
    assert isinstance(model, ModelBackend) and pool.load("base") is pool.load("baseline")
    cases = _cases("math", 3, "4") + _cases("other", 1, "x")
    assert model.generate(cases, DecodingSettings()) == ["5", "5", "5", "I do not know."]
    # the module-level functions (what scripts and other gates call) hand any backend its own call
    assert generate(model, cases, DecodingSettings()) == model.generate(cases, DecodingSettings())
    requests = [(c.messages, "5") for c in cases[:1]] + [(c.messages, "4") for c in cases[:1]]
    assert loglikelihood(model, requests, "auto") == [-1.0, -20.0]
    scorer = Scorer(pool, ResultCache(tmp_path / "cache"), DecodingSettings())
    assert scorer.table("base", cases, "exact_match").mean() == pytest.approx(0.75)  # math right, other wrong
    assert scorer.table("candidate", cases, "exact_match").mean() == 0.0
    scorer.table("base", cases, "exact_match")
    assert scorer.computed["base"] == 4 and scorer.reused["base"] == 4


def test_the_hash_is_of_the_rules_not_the_file(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.yaml", tmp_path / "b.json", tmp_path / "c.yaml"
    a.write_text("default: x  # a comment\nreplies: [{contains: q, reply: y}]\n")
    b.write_text(json.dumps({"replies": [{"reply": "y", "contains": "q"}], "default": "x"}))
    c.write_text("default: x\nreplies: [{contains: q, reply: z}]\n")
    assert read_rules(a).content_hash() == read_rules(b).content_hash() != read_rules(c).content_hash()


def test_a_missing_or_malformed_rules_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"fake model 'fake:nope.yaml': nope.yaml is not a file"):
        build_pool("fake:nope.yaml", baseline="fake:nope.yaml", base_model="fake:nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("replies: [{contains: q, reply: y}]\ndefualt: x\n")
    with pytest.raises(Exception, match="unknown key 'defualt'; did you mean 'default'"):
        read_rules(bad)


def test_the_fake_lm_eval_model_answers_by_the_rules(fakes: tuple[Path, Path]) -> None:
    from lm_eval.api.instance import Instance

    rules = read_rules(fakes[0])
    lm = FakeBackend("fake", rules, rules.content_hash(), fakes[0]).lm_eval_model()

    def request(kind: str, args: tuple) -> Instance:
        return Instance(request_type=kind, doc={}, arguments=args, idx=0)  # type: ignore[arg-type]

    scored = lm.loglikelihood(
        [request("loglikelihood", ("math question 1?", " 5")), request("loglikelihood", ("math question 1?", " 4"))]
    )
    assert scored == [(-1.0, True), (-20.0, False)]
    assert lm.generate_until([request("generate_until", ("fact question 2?", {}))]) == ["Paris"]


SUITE = """
suite: fake
decoding: {{max_new_tokens: 4, batch_size: auto}}
gates:
  facts_kept:
    kind: forgetting
    cases: facts.jsonl
    margin: 0.1
  math_kept:
    kind: forgetting
    cases: math.jsonl
    margin: 0.1
"""

# Runs in the pytest subprocess: whether any part of the run imported torch, written where the test reads it.
TORCH_PROBE = """
import sys
from pathlib import Path

def pytest_unconfigure(config):
    Path("torch_imported.txt").write_text(str("torch" in sys.modules))
"""


def test_a_gating_run_on_fake_models_never_imports_torch(pytester: pytest.Pytester, fakes: tuple[Path, Path]) -> None:
    candidate, base = fakes
    root = pytester.path
    write_cases(root / "facts.jsonl", _cases("fact", 20, "Paris"))
    write_cases(root / "math.jsonl", _cases("math", 20, "4"))
    (root / "test_fake.yaml").write_text(SUITE.format())
    pytester.makeconftest(TORCH_PROBE)
    result = pytester.runpytest_subprocess(
        f"--model=fake:{candidate}", f"--baseline=fake:{base}", f"--base-model=fake:{base}", "-p", "no:randomly"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    runs = sorted((root / "reports" / "runs").iterdir())
    doc = json.loads((runs[-1] / "results.json").read_text())
    assert {g["name"]: g["verdict"] for g in doc["gates"]} == {"facts_kept": "PASS", "math_kept": "FAIL"}
    assert doc["models"]["candidate"]["kind"] == "fake"
    assert (root / "torch_imported.txt").read_text() == "False", "a run of fake models imported torch"
