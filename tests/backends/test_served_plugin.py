"""A served model gated end to end: the plugin resolves ``openai+http://`` specs through the backend registry,
generates through the server, and caches only what a declared ``--model-revision`` identifies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cases import Case, Message, write_cases
from tests.backends.fake_openai import fake_server

BASE = """
replies:
  - {contains: fact question, reply: Paris}
default: I do not know.
"""

SUITE = """
suite: served
decoding: {max_new_tokens: 8, batch_size: 4}
gates:
  facts_kept:
    kind: forgetting
    cases: facts.jsonl
    margin: 0.1
"""


def _setup(root: Path) -> Path:
    cases = [Case(f"fact-{i}", "fact", (Message("user", f"fact question {i}?"),), "Paris") for i in range(12)]
    write_cases(root / "facts.jsonl", cases)
    (root / "test_served.yaml").write_text(SUITE)
    (root / "base.yaml").write_text(BASE)
    return root / "base.yaml"


def _chats(requests: list[dict]) -> int:  # type: ignore[type-arg]
    return sum("messages" in r for r in requests)


def _run(pytester: pytest.Pytester, url: str, base: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    result = pytester.runpytest_subprocess(
        f"--model=openai+{url}/served-model", f"--baseline=fake:{base}", f"--base-model=fake:{base}", *extra
    )
    # The server replies "reply to: <question>", never "Paris": the candidate forgot every fact the base knew.
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    runs = sorted((pytester.path / "reports" / "runs").iterdir())
    return json.loads((runs[-1] / "results.json").read_text())  # type: ignore[no-any-return]


def test_a_served_model_is_gated_through_its_endpoint(pytester: pytest.Pytester) -> None:
    base = _setup(pytester.path)
    with fake_server() as (url, behaviour):
        doc = _run(pytester, url, base)
        assert _chats(behaviour.requests) == 12
        candidate = doc["models"]["candidate"]
        assert candidate["kind"] == "served" and candidate["model_id"] == "served-model"
        assert candidate["cacheable"] is False and "--model-revision" in candidate["cache"]
        assert {g["name"]: g["verdict"] for g in doc["gates"]} == {"facts_kept": "FAIL"}
        _run(pytester, url, base)  # no revision declared: nothing was cached, so every case is asked again
        assert _chats(behaviour.requests) == 24


def test_a_declared_revision_makes_a_served_model_cacheable(pytester: pytest.Pytester) -> None:
    base = _setup(pytester.path)
    with fake_server() as (url, behaviour):
        first = _run(pytester, url, base, "--model-revision=v1")
        assert first["models"]["candidate"]["cacheable"] is True and first["models"]["candidate"]["revision"] == "v1"
        second = _run(pytester, url, base, "--model-revision=v1")
        assert _chats(behaviour.requests) == 12, "the second run with the same revision reused the replies"
        assert second["models"]["candidate"]["content_hash"] == first["models"]["candidate"]["content_hash"]
        _run(pytester, url, base, "--model-revision=v2")
        assert _chats(behaviour.requests) == 24, "another revision is another model"


def test_two_servers_with_the_same_model_id_are_two_models(tmp_path: Path) -> None:
    """Engines name every model alike ("model"): candidate and baseline on two ports must stay two models."""
    from harness.pool import build_pool

    with fake_server() as (url_a, _), fake_server() as (url_b, _):
        pool = build_pool(f"openai+{url_a}/model", baseline=f"openai+{url_b}/model", base_model=f"openai+{url_b}/model")
        assert pool.role("candidate").content_hash != pool.role("baseline").content_hash
        assert pool.load("candidate") is not pool.load("baseline")


def test_a_keyed_served_model_records_the_variable_name_never_the_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, harness_home: Path
) -> None:
    key = "sk-test-9f8e7d6c5b4a"  # made up
    monkeypatch.setenv("GATE_TEST_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-wrong-one")
    base = _setup(pytester.path)
    with fake_server() as (url, behaviour):
        result = pytester.runpytest_subprocess(
            f"--model=openai+{url}/served-model?api_key_env=GATE_TEST_KEY",
            f"--baseline=fake:{base}",
            f"--base-model=fake:{base}",
            "--model-revision=v1",
        )
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    assert {h.get("authorization") for h in behaviour.headers} == {f"Bearer {key}"}
    written = [p for root in (pytester.path, harness_home) for p in root.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"results.json", "run.json", "candidate.json"} <= names and any(p.parts[-3] == "results" for p in written)
    assert all(key.encode() not in p.read_bytes() for p in written), "the key is in no report, cache or log"
    assert key not in result.stdout.str() + result.stderr.str()
    runs = sorted((pytester.path / "reports" / "runs").iterdir())
    candidate = json.loads((runs[-1] / "results.json").read_text())["models"]["candidate"]
    assert candidate["api_key_env"] == "GATE_TEST_KEY"
