"""The OpenAI-compatible backend against a fake server: spec parsing, generation, log-likelihood, retries,
timeouts, servers without log-probabilities, and the hashing / caching rules."""

from __future__ import annotations

import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from harness.backends.openai import (
    Endpoint,
    LogLikelihoodUnsupported,
    OpenAIBackend,
    ServerError,
    continuation_indices,
    is_served,
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


def test_parse_spec_splits_base_url_and_model_id() -> None:
    e = parse_spec("openai+http://127.0.0.1:8080/v1/smollm2")
    assert (e.base_url, e.model_id, e.revision, e.tokenizer) == ("http://127.0.0.1:8080/v1", "smollm2", None, None)
    e = parse_spec("openai+https://h:8000/v1/org/name-1.7B?tokenizer=smollm2&revision=abc")
    assert (e.base_url, e.model_id, e.revision, e.tokenizer) == ("https://h:8000/v1", "org/name-1.7B", "abc", "smollm2")
    assert parse_spec("openai+http://h/api/mymodel").base_url == "http://h/api"
    assert parse_spec("openai+http://h/v1/m", revision="r").revision == "r"
    assert is_served("openai+http://h/v1/m") and not is_served("candidate")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("openai+ftp://h/v1/m", "no http"),
        ("openai+http://h/v1/", "names no model id"),
        ("openai+http://h/v1/m?seed=1", r"unknown parameters \['seed'\]"),
        ("http://h/v1/m", "not a served model"),
    ],
)
def test_parse_spec_rejects_bad_specs(spec: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_spec(spec)


def test_spec_revision_and_option_revision_must_agree() -> None:
    with pytest.raises(ConfigError, match="revision='a' but the option says 'b'"):
        parse_spec("openai+http://h/v1/m?revision=a", revision="b")


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


def test_requests_are_retried_after_server_errors() -> None:
    with fake_server(Behaviour(fail_first=2)) as (url, behaviour):
        out = _backend(url, max_retries=2).generate([_case(0, "hi")], DecodingSettings())
    assert out == ["reply to: hi"] and len(behaviour.requests) == 3
    with fake_server(Behaviour(fail_first=3)) as (url, _), pytest.raises(ServerError) as caught:
        _backend(url, max_retries=2).generate([_case(0, "hi")], DecodingSettings())
    assert "failed after 3 attempt(s): HTTP 503: loading model" in str(caught.value)


def test_a_slow_server_times_out_with_a_clear_error() -> None:
    with fake_server() as (url, behaviour), pytest.raises(ServerError) as caught:
        _backend(url, timeout=0.2, max_retries=1).generate([_case(0, "sleep=1")], DecodingSettings())
    assert "no answer within the 0.2 s timeout" in str(caught.value) and "raise the timeout" in str(caught.value)
    assert len(behaviour.requests) == 2, "a timeout is retried"


def test_no_server_is_a_connection_error_naming_the_url() -> None:
    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServerError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed .*cannot connect"):
        _backend(f"http://127.0.0.1:{port}/v1", max_retries=1).generate([_case(0, "x")], DecodingSettings())


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


def test_lm_eval_model_is_local_completions_on_the_same_server(tiny_model_dir: Path) -> None:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    backend = OpenAIBackend(Endpoint("http://127.0.0.1:9/v1", "m", "r", str(tiny_model_dir), concurrency=4))
    lm = backend.lm_eval_model(batch_size=16)
    assert isinstance(lm, LocalCompletionsAPI)
    assert (lm.base_url, lm.model, lm._concurrent, lm._batch_size) == ("http://127.0.0.1:9/v1/completions", "m", 4, 1)
    assert lm.tokenizer_backend == "huggingface" and not lm.tokenized_requests  # text: what every server takes


def test_lm_eval_scores_loglikelihood_through_the_server(tiny_model_dir: Path) -> None:
    from lm_eval.api.instance import Instance
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    pairs = [("The capital of Fr is", " Paris"), ("Two and two make", " four")]
    with fake_server() as (url, behaviour):
        lm = _backend(url, tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=2)
        instances = [Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=0) for pair in pairs]
        results = lm.loglikelihood(instances, disable_tqdm=True)
    assert all(r["path"] == "/v1/completions" and r["echo"] for r in behaviour.requests)
    sent = {r["prompt"] for r in behaviour.requests}
    for (context, continuation), (score, _) in zip(pairs, results, strict=True):
        ids = tokenizer(context, add_special_tokens=False)["input_ids"]
        whole = tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
        text, prefix = tokenizer.decode(whole), tokenizer.decode(whole[: len(ids)])
        assert text in sent  # the text lm-eval's tokens decode to
        assert score == pytest.approx(sum(char_logprob(c) for c in text[len(prefix) :]))


def test_lm_eval_reads_echoes_that_leave_out_special_tokens(tiny_model_dir: Path) -> None:
    """As llama-cpp-python echoes a chat prompt: its special tokens have no entries; the score is unchanged."""
    from lm_eval.api.instance import Instance

    pair = ("<s>The capital of Fr is", " Paris")
    scores = []
    for special in ((), ("<s>",)):
        with fake_server(Behaviour(special=special)) as (url, _):
            lm = _backend(url, tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=1)
            [(score, _)] = lm.loglikelihood([Instance("loglikelihood", {}, pair, 0)], disable_tqdm=True)
            scores.append(score)
    assert scores[0] == pytest.approx(scores[1]) and scores[0] < 0


def test_lm_eval_chat_prompts_are_text_rendered_with_the_local_template(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    lm = _backend("http://127.0.0.1:9/v1", tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=1)
    chat = [{"role": "user", "content": "Capital of Fr?"}]
    rendered = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert lm.apply_chat_template(chat) == rendered


def test_server_llama_cpp_turns_its_repetition_penalty_off_and_unknown_engines_are_named() -> None:
    with fake_server() as (url, behaviour):
        backend = OpenAIBackend(parse_spec(f"openai+{url}/m1?server=llama.cpp"))
        backend.generate([_case(0, "hi")], DecodingSettings())
    assert behaviour.requests[0]["repeat_penalty"] == 1.0
    with pytest.raises(ConfigError, match=r"server='vllm' is not one of \['llama.cpp'\]"):
        parse_spec("openai+http://a:1/v1/m?server=vllm")
