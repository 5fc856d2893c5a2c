"""lm-eval's local-completions against the fake server through EchoedCompletions (harness.backends.openai_lm_eval):
text prompts, offset-based scoring, is_greedy, API keys, no proxy for a loopback server, the key masked in logs."""

from __future__ import annotations

import gc
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from harness.backends.http import ServerError
from harness.backends.openai import Endpoint, LogLikelihoodUnsupported, OpenAIBackend, parse_spec
from tests.backends.fake_openai import Behaviour, char_logprob, fake_server

KEY = "sk-test-9f8e7d6c5b4a"  # a made-up key: the tests check where it goes and that it never shows
PAIRS = [("The capital of Fr is", " Paris"), ("Two and two make", " four")]


def _backend(url: str, **endpoint: object) -> OpenAIBackend:
    return OpenAIBackend(replace(parse_spec(f"openai+{url}/m1", revision="r1"), **endpoint), backoff=0.01)  # type: ignore[arg-type]


def _instances(pairs: list[tuple[str, str]] = PAIRS) -> list[Any]:
    from lm_eval.api.instance import Instance

    return [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]


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


def test_lm_eval_sends_no_authorization_without_api_key_env(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lm-eval's local-completions reads OPENAI_API_KEY itself: the harness's model must not."""
    from lm_eval.api.instance import Instance

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    pair = ("The capital of Fr is", " Paris")
    with fake_server() as (url, behaviour):
        lm = _backend(url, tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=1)
        lm.loglikelihood([Instance("loglikelihood", {}, pair, 0)], disable_tqdm=True)
    assert behaviour.headers and all("authorization" not in h for h in behaviour.headers)
    assert lm.api_key == "" and KEY not in repr(vars(lm))


@pytest.mark.parametrize("batch_size", [1, 2], ids=["requests", "aiohttp"])
def test_lm_eval_sends_the_named_key_and_not_across_a_redirect(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """lm-eval posts with requests (one request in flight) or aiohttp (several): both follow a 307 and drop the
    Authorization header when it leaves the origin."""
    from lm_eval.api.instance import Instance

    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-wrong-one")
    pairs = [("The capital of Fr is", " Paris"), ("Two and two make", " four")]
    instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(pairs)]
    spec = f"?tokenizer={tiny_model_dir}&api_key_env=GATE_TEST_KEY"
    with fake_server() as (url, behaviour):
        OpenAIBackend(parse_spec(f"openai+{url}/m1{spec}")).lm_eval_model(batch_size).loglikelihood(
            instances, disable_tqdm=True
        )
    assert [h.get("authorization") for h in behaviour.headers] == [f"Bearer {KEY}"] * 2
    with fake_server() as (other, elsewhere), fake_server(Behaviour(redirect_to=other[: -len("/v1")])) as (url, first):
        backend = OpenAIBackend(parse_spec(f"openai+{url}/m1{spec}"))
        results = backend.lm_eval_model(batch_size).loglikelihood(instances, disable_tqdm=True)
    assert len(results) == 2 and len(elsewhere.requests) == 2, "the redirect was followed"
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in first.headers)
    assert all("authorization" not in h for h in elsewhere.headers), "the key did not follow it"


@pytest.mark.parametrize("top_logprobs", [True, False], ids=["top_logprobs", "none"])
def test_is_greedy_is_false_when_the_server_gives_no_top_logprobs(
    tiny_model_dir: Path, caplog: pytest.LogCaptureFixture, top_logprobs: bool
) -> None:
    """Unknown is not greedy: True would inflate lambada-style accuracy. The fake's top_logprobs hold only each
    token itself, so with them every continuation is greedy; without them none is, and a warning says so once."""
    caplog.set_level(logging.WARNING, logger="harness.backends.openai_lm_eval")
    with fake_server(Behaviour(top_logprobs=top_logprobs)) as (url, _):
        lm = _backend(url, tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=1)
        results = lm.loglikelihood(_instances(), disable_tqdm=True)
    assert [greedy for _, greedy in results] == [top_logprobs] * len(PAIRS)
    assert all(score < 0 for score, _ in results), "the log-likelihoods are read either way"
    warnings = [r.getMessage() for r in caplog.records if r.name == "harness.backends.openai_lm_eval"]
    if top_logprobs:
        assert warnings == [] and lm.greedy_undetermined == 0
    else:
        assert len(warnings) == 1 and "is_greedy cannot be determined and is reported False" in warnings[0]
        assert lm.greedy_undetermined == len(PAIRS)


def test_a_better_alternative_is_not_greedy(tiny_model_dir: Path) -> None:
    lm = _backend("http://127.0.0.1:9/v1", tokenizer=str(tiny_model_dir)).lm_eval_model(batch_size=1)
    ids = lm.tok_encode("ab")
    whole = lm.decode_batch([ids])[0]
    logprobs = {"tokens": list(whole), "token_logprobs": [None, -0.5], "text_offset": list(range(len(whole)))}
    rival = {**logprobs, "top_logprobs": [None, {"b": -0.5, "c": -0.1}]}
    own = {**logprobs, "top_logprobs": [None, {"b": -0.5}]}
    ctxlen = len(lm.tok_encode("a"))
    assert lm._score({"text": whole, "logprobs": rival}, ids, ctxlen) == (-0.5, False)
    assert lm._score({"text": whole, "logprobs": own}, ids, ctxlen) == (-0.5, True)


def _proxy_env(monkeypatch: pytest.MonkeyPatch, proxy: str) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)


@pytest.mark.parametrize("batch_size", [1, 2], ids=["requests", "aiohttp"])
def test_lm_eval_reaches_a_loopback_server_without_the_environments_proxy(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    """requests.post (one request in flight) would send even 127.0.0.1 through http_proxy, key included; the
    aiohttp path (several in flight) ignores the environment's proxy (no trust_env), which this pins."""
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    spec = f"?tokenizer={tiny_model_dir}&api_key_env=GATE_TEST_KEY"
    with fake_server() as (proxy, through_proxy), fake_server() as (url, direct):
        _proxy_env(monkeypatch, proxy[: -len("/v1")])
        lm = OpenAIBackend(parse_spec(f"openai+{url}/m1{spec}")).lm_eval_model(batch_size)
        results = lm.loglikelihood(_instances(), disable_tqdm=True)
    assert through_proxy.requests == [] and through_proxy.headers == [], "nothing went through the proxy"
    assert len(results) == 2 and [h.get("authorization") for h in direct.headers] == [f"Bearer {KEY}"] * 2


def test_the_servers_tokenizer_is_probed_and_used_without_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ?tokenizer=, lm-eval tokenizes through the server's /tokenize (vLLM): probe and use skip the proxy."""
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    with fake_server() as (proxy, through_proxy), fake_server(Behaviour(tokenizer=True)) as (url, direct):
        _proxy_env(monkeypatch, proxy[: -len("/v1")])
        lm = OpenAIBackend(parse_spec(f"openai+{url}/m1?api_key_env=GATE_TEST_KEY")).lm_eval_model(batch_size=1)
        [(score, greedy)] = lm.loglikelihood(_instances(PAIRS[:1]), disable_tqdm=True)
    assert lm.tokenizer_backend == "remote" and through_proxy.requests == []
    paths = [r["path"] for r in direct.requests]
    assert {"/tokenizer_info", "/tokenize", "/detokenize", "/v1/completions"} <= set(paths)
    assert all(h.get("authorization") == f"Bearer {KEY}" for h in direct.headers)
    assert score == pytest.approx(sum(char_logprob(c) for c in " Paris")) and greedy


def test_without_a_tokenizer_or_tokenize_route_lm_eval_is_unsupported() -> None:
    with fake_server() as (url, _), pytest.raises(LogLikelihoodUnsupported, match=r"add \?tokenizer="):
        _backend(url).lm_eval_model(batch_size=1)


@pytest.mark.parametrize("batch_size", [1, 2], ids=["requests", "aiohttp"])
def test_a_server_echoing_the_key_never_puts_it_in_the_log_or_the_error(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, batch_size: int
) -> None:
    """lm-eval logs the failing server's answer (here, the key it echoes), and on the aiohttp path the exception's
    repr, which holds the request's headers: both reach the log masked, and the error raised is masked."""
    monkeypatch.setenv("GATE_TEST_KEY", KEY)
    caplog.set_level(logging.INFO)
    spec = f"?tokenizer={tiny_model_dir}&api_key_env=GATE_TEST_KEY"
    with fake_server(Behaviour(reject_auth=True)) as (url, behaviour):
        backend = OpenAIBackend(replace(parse_spec(f"openai+{url}/m1{spec}"), max_retries=0))
        lm = backend.lm_eval_model(batch_size)
        with pytest.raises(ServerError) as caught:
            lm.loglikelihood(_instances(), disable_tqdm=True)
    assert behaviour.headers[0]["authorization"] == f"Bearer {KEY}", "the server did see (and echo) the key"
    logged = [r.getMessage() for r in caplog.records if r.name == "lm_eval.models.api_models"]
    assert any("<$GATE_TEST_KEY>" in message for message in logged), "lm-eval logged the failure, masked"
    assert KEY not in caplog.text and all(KEY not in message for message in logged)
    assert "401" in str(caught.value) and KEY not in str(caught.value) and KEY not in repr(caught.value)
    del caught, lm  # the other requests' tasks: asyncio logs an unawaited task's exception when it is collected
    gc.collect()
    assert KEY not in caplog.text, "nor in asyncio's 'Task exception was never retrieved', after the mask is gone"
    from lm_eval.models.api_models import eval_logger

    assert eval_logger.filters == [], "the mask is removed after the call"
