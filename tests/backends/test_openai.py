"""The OpenAI-compatible backend against a fake server: spec parsing, generation, log-likelihood, retries,
timeouts, servers without log-probabilities, and the hashing / caching rules."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.backends.openai import (
    LogLikelihoodUnsupported,
    OpenAIBackend,
    ServerError,
    continuation_indices,
    load_backend,
    parse_spec,
)
from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.registry import Registry
from harness.run import DecodingSettings, render
from tests.backends.fake_openai import Behaviour, char_logprob, fake_server


def _case(i: int, text: str) -> Case:
    return Case(id=f"c{i}", category="task", messages=(Message("user", text),), answer=None)


def _backend(url: str, **endpoint: object) -> OpenAIBackend:
    return OpenAIBackend(replace(parse_spec(f"openai+{url}/m1", revision="r1"), **endpoint), backoff=0.01)  # type: ignore[arg-type]


def test_generate_keeps_case_order_under_concurrency() -> None:
    # Early cases answer last: the replies must still come back in case order.
    texts = [f"q{i} sleep={0.3 - 0.05 * i:.2f}" for i in range(6)]
    with fake_server() as (url, behaviour):
        backend = _backend(url, concurrency=4)
        out = backend.generate([_case(i, t) for i, t in enumerate(texts)], DecodingSettings(max_new_tokens=7, seed=3))
    assert out == [f"reply to: {t}" for t in texts]
    assert behaviour.max_in_flight > 1, "requests ran concurrently"
    assert behaviour.max_in_flight <= 4, "at most `concurrency` requests in flight"
    sent = behaviour.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["model"] == "m1"
    assert (sent["temperature"], sent["max_tokens"], sent["seed"]) == (0.0, 7, 3)
    assert "repeat_penalty" not in sent, "a standard server (or the OpenAI API) gets no engine-specific field"
    assert sorted(r["messages"][0]["content"] for r in behaviour.requests) == sorted(texts)


def test_loglikelihood_sums_the_continuation_tokens_with_the_local_chat_template(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    requests = [((Message("user", "Capital of Fr?"),), " Paris"), ((Message("user", "2+2"),), "4")]
    with fake_server() as (url, behaviour):
        backend = _backend(url, tokenizer=str(tiny_model_dir))
        scores = backend.loglikelihood(requests, batch_size=2)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    sent = {request["prompt"]: request for request in behaviour.requests}  # sent concurrently: any order
    for (messages, continuation), score in zip(requests, scores, strict=True):
        request = sent[render(tokenizer, messages) + continuation]  # the chat-rendered prompt, then the answer
        assert (request["echo"], request["logprobs"], request["max_tokens"]) == (True, 1, 1)
        assert score == pytest.approx(sum(char_logprob(c) for c in continuation))


def test_loglikelihood_renders_through_the_servers_apply_template() -> None:
    with fake_server(Behaviour(apply_template=True)) as (url, behaviour):
        [score] = _backend(url).loglikelihood([((Message("user", "hi"),), "yo")])
    assert behaviour.requests[-1]["prompt"] == "<user>hi\n<assistant>yo"
    assert score == pytest.approx(char_logprob("y") + char_logprob("o"))


def test_loglikelihood_reanchors_offsets_that_leave_out_special_tokens() -> None:
    """llama-cpp-python's text_offset counts the prompt without its special tokens: re-anchored at the end."""
    with fake_server(Behaviour(apply_template=True, special=("<user>", "<assistant>"))) as (url, behaviour):
        [score] = _backend(url).loglikelihood([((Message("user", "hi"),), "yo")])
    assert behaviour.requests[-1]["prompt"] == "<user>hi\n<assistant>yo"
    assert score == pytest.approx(char_logprob("y") + char_logprob("o"))


@pytest.mark.parametrize(
    ("offsets", "tokens", "text", "span", "picked"),
    [
        ([0, 2, 4], ["ab", "cd", "!"], "abcd!", (2, 4), [1]),  # offsets index the sent text (vLLM)
        ([0, 1, 3], ["b", "cd", "!"], "Sbcd!", (2, 4), [1]),  # a dropped 1-char special token: shifted by 1
        ([0, 2], ["ab", "cd"], "abcd", (2, 4), [1]),  # no generated token (the model chose end-of-sequence)
        ([0, 2, 4], ["ab", "cd", "!"], "abcd!", (3, 4), [1]),  # a token straddling the start belongs to it
        ([0], ["ab"], "ab", (2, 4), []),  # the echo stops before the continuation
    ],
)
def test_continuation_indices(
    offsets: list[int], tokens: list[str], text: str, span: tuple[int, int], picked: list[int]
) -> None:
    choice = {"text": text, "logprobs": {"text_offset": offsets, "tokens": tokens}}
    assert continuation_indices(choice, *span) == picked


@pytest.mark.parametrize("logprobs", ["missing", "refuse"])
def test_a_server_without_logprobs_raises_the_specific_error(logprobs: str, tiny_model_dir: Path) -> None:
    with fake_server(Behaviour(logprobs=logprobs)) as (url, _), pytest.raises(LogLikelihoodUnsupported) as caught:
        _backend(url, tokenizer=str(tiny_model_dir)).loglikelihood([((Message("user", "hi"),), "yo")])
    assert "cannot give log-likelihoods" in str(caught.value) and "echo: true, logprobs: 1" in str(caught.value)


def test_no_template_source_raises_the_specific_error() -> None:
    with fake_server() as (url, _), pytest.raises(LogLikelihoodUnsupported, match=r"add \?tokenizer="):
        _backend(url).loglikelihood([((Message("user", "hi"),), "yo")])


def test_hash_is_model_id_revision_and_template_and_uncached_without_revision(tiny_model_dir: Path) -> None:
    a = OpenAIBackend(parse_spec("openai+http://a:1/v1/m", revision="r1"))
    moved = OpenAIBackend(parse_spec("openai+http://b:2/v1/m", revision="r1"))
    assert a.cacheable and a.content_hash != moved.content_hash, "two servers with one model id are two models"
    assert (
        a.content_hash
        != OpenAIBackend(parse_spec("openai+http://a:1/v1/m?server=llama.cpp", revision="r1")).content_hash
    )
    assert a.content_hash != OpenAIBackend(parse_spec("openai+http://a:1/v1/m", revision="r2")).content_hash
    assert a.content_hash != OpenAIBackend(parse_spec("openai+http://a:1/v1/other", revision="r1")).content_hash
    templated = OpenAIBackend(parse_spec(f"openai+http://a:1/v1/m?tokenizer={tiny_model_dir}", revision="r1"))
    assert templated.content_hash != a.content_hash, "the rendering template changes log-likelihoods"
    first, second = (OpenAIBackend(parse_spec("openai+http://a:1/v1/m")) for _ in range(2))
    assert not first.cacheable and first.content_hash == second.content_hash, "the role and its loaded backend agree"
    probe = "from harness.backends.openai import OpenAIBackend, parse_spec; "
    probe += "print(OpenAIBackend(parse_spec('openai+http://a:1/v1/m')).content_hash)"
    other = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert len(other) == 64 and other != first.content_hash, "without a revision no later run shares the hash"
    described = first.describe()
    assert described["cacheable"] is False and "no --model-revision was declared" in described["cache"]
    assert a.describe()["kind"] == "served" and a.describe()["revision"] == "r1"


def test_tokenizer_may_be_a_registry_alias(tiny_model_dir: Path) -> None:
    Registry().set("tok", tiny_model_dir, content_hash=None, reason="test")
    backend = load_backend("openai+http://a:1/v1/m?tokenizer=tok", revision="r")
    assert backend.render([Message("user", "hi")]).endswith(render(backend._local_tokenizer(), [Message("user", "hi")]))
    with pytest.raises(ConfigError, match="neither a directory nor a registered alias"):
        load_backend("openai+http://a:1/v1/m?tokenizer=nope")


def test_server_llama_cpp_turns_its_repetition_penalty_off_and_unknown_engines_are_named() -> None:
    with fake_server() as (url, behaviour):
        backend = OpenAIBackend(parse_spec(f"openai+{url}/m1?server=llama.cpp"))
        backend.generate([_case(0, "hi")], DecodingSettings())
    assert behaviour.requests[0]["repeat_penalty"] == 1.0
    with pytest.raises(ConfigError, match=r"server='vllm' is not one of \['llama.cpp'\]"):
        parse_spec("openai+http://a:1/v1/m?server=vllm")


# --- API keys ------------------------------------------------------------------------------------------------
KEY = "sk-test-9f8e7d6c5b4a"  # a made-up key: the tests check where it goes and that it never shows


def _keyed(url: str, variable: str | None = "GATE_TEST_KEY") -> OpenAIBackend:
    query = f"?api_key_env={variable}" if variable else ""
    return OpenAIBackend(replace(parse_spec(f"openai+{url}/m1{query}", revision="r1"), max_retries=0), backoff=0.01)


def test_no_authorization_without_api_key_env_even_with_openai_api_key_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with fake_server() as (url, behaviour):
        _keyed(url, None).generate([_case(0, "hi")], DecodingSettings())
    assert behaviour.headers and all("authorization" not in h for h in behaviour.headers)


def test_the_named_variable_is_sent_as_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-wrong-one")
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    with fake_server() as (url, behaviour):
        _keyed(url).generate([_case(0, "hi"), _case(1, "yo")], DecodingSettings())
    assert [h["authorization"] for h in behaviour.headers] == [f"Bearer {KEY}"] * 2


def test_an_unset_variable_fails_when_the_backend_is_opened_before_any_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GATE_TEST_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with fake_server() as (url, behaviour):
        with pytest.raises(ConfigError, match="GATE_TEST_KEY, which is unset or empty; export GATE_TEST_KEY="):
            load_backend(f"openai+{url}/m1?api_key_env=GATE_TEST_KEY")
        assert behaviour.requests == []


def test_a_key_over_http_to_a_remote_host_is_refused_when_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    with pytest.raises(ConfigError, match=r"http://example\.com:8000/v1: the API key in \$GATE_TEST_KEY .* https://"):
        load_backend("openai+http://example.com:8000/v1/m?api_key_env=GATE_TEST_KEY")


def test_the_key_never_shows_in_describe_the_hash_or_a_failed_requests_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    with fake_server(Behaviour(reject_auth=True)) as (url, behaviour):
        backend = _keyed(url)
        with pytest.raises(ServerError, match=r"HTTP 401: invalid credentials: Bearer <\$GATE_TEST_KEY>") as caught:
            backend.generate([_case(0, "hi")], DecodingSettings())
    assert behaviour.headers[0]["authorization"] == f"Bearer {KEY}", "the server did see (and echo) the key"
    described = backend.describe()
    assert described["api_key_env"] == "GATE_TEST_KEY"
    shown = [str(caught.value), repr(caught.value), json.dumps(described), repr(backend), repr(backend.endpoint)]
    shown += [backend.content_hash, caplog.text]
    assert all(KEY not in text for text in shown)
    assert backend.content_hash == _keyed(url, None).content_hash, "the key's variable is not part of the model"
