"""lm-eval's ``local-completions`` backend, made to read echoed log-probabilities the way every server gives them.

lm-eval's own ``LocalCompletionsAPI`` sends token-id prompts (a vLLM extension: llama-cpp-python's server accepts
only text and answers 422) and takes the continuation as ``token_logprobs[ctxlen:-1]``, which assumes the server
echoes exactly the local tokenizer's tokens plus one generated token. llama-cpp-python leaves BOS-id tokens out
of the echoed lists (ChatML's ``<|im_start|>`` is SmolLM2's BOS) and generates no token when the model's first
choice is end-of-sequence, so that slice drifts into the context or the continuation's last token.

:class:`EchoedCompletions` sends text (the local tokenizer's decoding of lm-eval's tokens) and picks the
continuation's tokens by their character offsets (:func:`harness.backends.openai.continuation_indices`), as the
harness's own served log-likelihood does. Imported only when a served model's retention is run (lm-eval is heavy).

API key: lm-eval's ``LocalCompletionsAPI.api_key`` reads OPENAI_API_KEY from the environment and its ``header``
sends ``Authorization: Bearer`` with it to whatever ``base_url`` is, so a user's OpenAI key would reach every
served model gated. :class:`EchoedCompletions` overrides both: the key is the one the spec's ``api_key_env`` names
(passed in explicitly, a :class:`~harness.backends.endpoint.Secret`), else no Authorization header at all (not an
empty "Bearer "). The environment is not scrubbed: overriding the two properties is local to this model and
leaves other code in the process alone. Redirects are lm-eval's libraries' (requests, aiohttp): both drop the
Authorization header when a redirect leaves the origin.

Proxies: lm-eval posts one request at a time with ``requests.post``, which honours ``http_proxy`` / ``HTTPS_PROXY``
even for 127.0.0.1 unless ``no_proxy`` covers it, so a key for a server on this machine would go through the proxy.
:meth:`EchoedCompletions.model_call` posts the same request through :func:`harness.backends.http.requests_session`
(no environment proxy for a loopback host), and the remote tokenizer's session is made the same way. Concurrent
requests go through lm-eval's aiohttp ``ClientSession``, created without ``trust_env``: aiohttp 3.x reads the
proxy from the environment only when ``trust_env=True`` (``ClientSession._request``: ``elif self._trust_env:
... get_env_proxy_for_url(url)``), so that path never uses the proxy (tests/backends pin both).

Masking: lm-eval logs a failing server's answer unmasked (a server that echoes the Authorization header puts the
key in the log), and aiohttp's ``ClientResponseError`` repr, which lm-eval logs on every failed request, holds the
request's headers. While this model scores or generates, :func:`harness.backends.http.masking` masks the key in
every record of lm-eval's API logger, and a failed request is raised as a :class:`ServerError` with the key masked
(each concurrent request's own, too: asyncio logs an unawaited task's exception later, outside the mask).

Greediness: ``is_greedy`` needs the server's ``top_logprobs`` for every continuation token; without them it is
reported False (unknown is not greedy, so metrics such as lambada's accuracy are not inflated) and a warning says
so once per model.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

import aiohttp
import requests
from lm_eval.models.openai_completions import LocalCompletionsAPI
from lm_eval.utils import RemoteTokenizer

from harness.backends.endpoint import Secret
from harness.backends.http import ServerError, direct, masking, redact, requests_session
from harness.backends.openai import LogLikelihoodUnsupported, continuation_indices

LM_EVAL_API_LOGGER = logging.getLogger("lm_eval.models.api_models")  # where lm-eval logs failed requests
log = logging.getLogger(__name__)

GREEDY_TOLERANCE = 1e-6  # a continuation token is greedy when no alternative beats its log-probability by more


class EchoedCompletions(LocalCompletionsAPI):
    """``local-completions`` with text prompts and offset-based continuation scoring."""

    def __init__(self, *, api_key: Secret | None = None, **kwargs: Any) -> None:
        self._secret = api_key  # before lm-eval's __init__, which may already build headers (remote tokenizer)
        self.greedy_undetermined = 0  # continuations scored without top_logprobs: is_greedy reported False
        remote = kwargs.get("tokenizer_backend") == "remote"
        if remote:  # built below, with a session that skips the proxy for a loopback server
            kwargs["tokenizer_backend"] = None
        super().__init__(tokenized_requests=False, auth_token=api_key.reveal() if api_key else None, **kwargs)
        if remote:
            self.tokenizer_backend = "remote"
            self.tokenizer = _RemoteTokenizer(
                self.base_url, self.timeout, self.verify_certificate, self.ca_cert_path, self.auth_token
            )

    @property
    def api_key(self) -> str:
        """The spec's key, never lm-eval's default (OPENAI_API_KEY from the environment)."""
        return self._secret.reveal() if self._secret else ""

    @property
    def header(self) -> dict[str, str]:
        """Authorization only with the spec's key (lm-eval's default is "Bearer " + OPENAI_API_KEY, even empty)."""
        return {"Authorization": f"Bearer {self._secret.reveal()}"} if self._secret else {}

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> Any:
        """The prompt text, rendered with the local tokenizer's chat template (lm-eval's own answer for text
        requests is a chat-completions message list, which a completions endpoint cannot score)."""
        if self.tokenizer_backend != "huggingface":
            return super().apply_chat_template(chat_history, add_generation_prompt)
        return self.tokenizer.apply_chat_template(
            chat_history,
            tokenize=False,
            add_generation_prompt=add_generation_prompt,
            continue_final_message=not add_generation_prompt,
        )

    def parse_logprobs(
        self,
        outputs: dict[str, Any] | list[dict[str, Any]],
        tokens: list[list[int]] | None = None,
        ctxlens: list[int] | None = None,
        **kwargs: Any,
    ) -> list[tuple[float, bool]]:
        if tokens is None or ctxlens is None:
            raise LogLikelihoodUnsupported("lm-eval asked for log-likelihoods without the request tokens")
        results: list[tuple[float, bool]] = []
        for out in outputs if isinstance(outputs, list) else [outputs]:
            choices = sorted(out["choices"], key=itemgetter("index"))
            for choice, ids, ctxlen in zip(choices, tokens, ctxlens, strict=False):
                results.append(self._score(choice, ids, ctxlen))
        return results

    def _score(self, choice: dict[str, Any], ids: list[int], ctxlen: int) -> tuple[float, bool]:
        context, whole = self.decode_batch([ids[:ctxlen], ids])
        try:
            picked = continuation_indices(choice, len(context), len(whole))
            logprobs = choice["logprobs"]
            values = [logprobs["token_logprobs"][i] for i in picked]
            tops = [(logprobs.get("top_logprobs") or [None] * (i + 1))[i] for i in picked]
        except (KeyError, IndexError, TypeError):
            values, tops = [], []
        if not values or any(value is None for value in values):
            raise LogLikelihoodUnsupported(
                f"{self.base_url} did not echo log-probabilities covering the continuation {whole[len(context) :]!r} "
                "(echo: true, logprobs: 1); lm-eval retention needs a server that supports them (vLLM, llama.cpp)"
            )
        if not all(tops):  # unknown is not greedy: True would inflate every metric that counts greedy matches
            self._greedy_undetermined()
            return float(sum(values)), False
        greedy = all(value >= max(top.values()) - GREEDY_TOLERANCE for value, top in zip(values, tops, strict=True))
        return float(sum(values)), greedy

    def _greedy_undetermined(self) -> None:
        if not self.greedy_undetermined:
            log.warning(
                "%s gave no top_logprobs for a continuation token: is_greedy cannot be determined and is reported "
                "False (metrics built on it, such as lambada-style accuracy, count such items as misses)",
                self.base_url,
            )
        self.greedy_undetermined += 1

    # --- HTTP: no proxy for a loopback server, the key masked -------------------------------------------------
    def model_call(
        self,
        messages: Any,
        *,
        generate: bool = True,
        gen_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any] | None:
        """lm-eval's one-request-at-a-time POST (the same payload, headers, verification and timeout), through a
        session without the environment's proxy for a loopback server, its failure logged with the key masked."""
        payload = self._create_payload(
            self.create_message(messages),
            generate=generate,
            gen_kwargs=copy.deepcopy(gen_kwargs),  # lm-eval's gen_kwargs are shared between requests
            seed=self._seed,
            eos=self.eos_string,
            **kwargs,
        )
        with requests_session(self.base_url) as session:
            response = session.post(
                self.base_url, json=payload, headers=self.header, verify=self.verify_certificate, timeout=self.timeout
            )
        if not response.ok:
            message = f"API request failed with error message: {response.text}. Retrying..."
            LM_EVAL_API_LOGGER.warning(redact(message, self._secret))
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def amodel_call(self, *args: Any, **kwargs: Any) -> Any:
        """lm-eval's concurrent request, its failure re-raised masked: aiohttp's ClientResponseError repr holds the
        request's headers, and asyncio logs the repr of a failed task nobody awaited ("Task exception was never
        retrieved") once lm-eval's gather has given up on the batch, after this model's log mask is gone."""
        try:
            return await super().amodel_call(*args, **kwargs)
        except aiohttp.ClientError as exc:
            raise self._failure(exc) from None

    def _failure(self, exc: BaseException) -> ServerError:
        return ServerError(
            redact(f"{self.base_url}: lm-eval's request failed ({type(exc).__name__}: {exc})", self._secret)
            + "; check that the server is running and serves the model, and that the key it needs is named"
        )

    @contextmanager
    def _guarded(self) -> Iterator[None]:
        """The key masked in lm-eval's log records, and a failed request raised as a masked ServerError."""
        with masking(LM_EVAL_API_LOGGER, self._secret):
            try:
                yield
            except (requests.RequestException, aiohttp.ClientError) as exc:
                raise self._failure(exc) from None

    def _loglikelihood_tokens(self, requests: Any, **kwargs: Any) -> list[tuple[float, bool]]:
        with self._guarded():
            result: list[tuple[float, bool]] = super()._loglikelihood_tokens(requests, **kwargs)
        return result

    def generate_until(self, requests: Any, disable_tqdm: bool = False) -> list[str]:
        with self._guarded():
            result: list[str] = super().generate_until(requests, disable_tqdm=disable_tqdm)
        return result


class _RemoteTokenizer(RemoteTokenizer):
    """lm-eval's tokenizer over the server's /tokenize, its requests session without the environment's proxy for a
    loopback server (the session is made in ``__init__`` and first used by ``_validate_server``)."""

    def _validate_server(self) -> None:
        self.session.trust_env = not direct(self.base_url)
        super()._validate_server()
