"""A model behind an OpenAI-compatible HTTP server (vLLM, SGLang, TGI, llama.cpp): ``openai+URL/MODEL``.

    --model=openai+http://127.0.0.1:8080/v1/smollm2                     base URL .../v1, model id "smollm2"
    --model='openai+http://host:8000/v1/org/name?tokenizer=smollm2&revision=2026-11-28'
    --model='openai+https://api.example.com/v1/my-model?api_key_env=EXAMPLE_API_KEY'

The spec's grammar (model id, ``tokenizer``, ``revision``, ``server``, ``api_key_env``) and the rules for API keys
are in :mod:`harness.backends.endpoint`: a key is sent only when the spec names its environment variable, over
plain http only to a loopback host, and only the variable's name is ever recorded.

- Generation: ``POST /chat/completions``, one request per case, up to ``concurrency`` (and the decoding
  settings' batch size) in flight from a bounded thread pool; greedy is ``temperature: 0``; ``max_tokens`` and
  ``seed`` come from the settings. The server applies its own chat template.
- Log-likelihood: ``POST /completions`` with ``echo: true, logprobs: 1, max_tokens: 1, temperature: 0`` over the
  chat-rendered prompt followed by the continuation; the continuation's log-probability is the sum over the
  echoed tokens whose ``text_offset`` lies in the continuation's characters (a token that straddles the
  boundary belongs to the continuation; a ChatML prompt ends in a newline, which byte-level BPE never merges
  with a following word). The prompt is rendered with the chat template of the ``tokenizer`` named in the spec
  (the same ``harness.run.render`` as in-process models), else by the server's ``/apply-template`` (llama.cpp's
  native server has it); with neither, or a server that does not echo log-probabilities,
  :class:`LogLikelihoodUnsupported` is raised and the gate that needed it is ERROR.
- HTTP (:mod:`harness.backends.http`): requests are retried with exponential backoff on connection errors,
  timeouts, 429 and 5xx; other 4xx fail at once with the server's message (the API key redacted, should the
  server echo it). Each request has a timeout. A redirect is an error, not followed (it would carry the key
  elsewhere); a loopback server is reached without the environment's HTTP proxy (a plain-http key would pass
  through it), by lm-eval's requests as well.
- Content hash: the base URL, the server's model id, the declared revision, the engine option and the rendering
  tokenizer's chat template (engines give every model the same id, so two servers must not be one model). A
  server can swap the weights behind a model id, so without a declared revision the backend is not
  ``cacheable`` (its hash is unique to this process) and describe() says why.
- Retention: lm-eval's own ``local-completions`` backend against the same server (:meth:`lm_eval_model`), with
  text prompts and the continuation found by echoed offsets as above (harness.backends.openai_lm_eval).

Only the standard library is used for HTTP.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.backends.endpoint import (
    PREFIX,
    SCHEME,
    SERVERS,
    Endpoint,
    is_served,
    parse_spec,
)
from harness.backends.http import RETRY_STATUS, JsonClient, ServerError
from harness.backends.registry import BackendKind, Resolution, register
from harness.batchsize import BatchSize
from harness.errors import ConfigError

# Moved to harness.backends.endpoint and harness.backends.http; re-exported for callers that import them from here.
__all__ = ["PREFIX", "RETRY_STATUS", "SCHEME", "SERVERS", "Endpoint", "LogLikelihoodUnsupported", "OpenAIBackend"]
__all__ += ["ServerError"]
__all__ += ["continuation_indices", "is_served", "load_backend", "parse_spec"]

if TYPE_CHECKING:
    from harness.models import ModelSpec
    from harness.pool import ModelRole
    from harness.registry import Registry

# An undeclared revision makes a served model's hash unique to this process (one token for every role, so the
# role resolved and the backend loaded agree): nothing computed from it is reused by a later run.
_PROCESS = uuid.uuid4().hex


class LogLikelihoodUnsupported(ServerError):
    """The served model cannot give log-likelihoods (no echoed logprobs, or no chat template to render with)."""


class OpenAIBackend:
    """The model interface (generate, loglikelihood, describe, content_hash, lm_eval_model) over HTTP."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        name: str | None = None,
        backoff: float = 0.5,
        resolve_tokenizer: Callable[[str], Path] | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.name = name or endpoint.spec
        self.backoff = backoff
        self._api_key = endpoint.api_key()  # read now: an unset variable fails before any request
        self._http = JsonClient(
            endpoint.base_url,
            api_key=self._api_key,
            timeout=endpoint.timeout,
            max_retries=endpoint.max_retries,
            backoff=backoff,
            model_id=endpoint.model_id,
        )
        self._resolve_tokenizer = resolve_tokenizer or _tokenizer_dir
        self._tokenizer: Any = None
        self.cacheable = endpoint.revision is not None
        self.content_hash = self._hash()

    # --- identity -------------------------------------------------------------------------------------------
    def _template_digest(self) -> str | None:
        if self.endpoint.tokenizer is None:
            return None
        directory = self._resolve_tokenizer(self.endpoint.tokenizer)
        files = sorted(p for p in directory.glob("*") if p.name in ("chat_template.jinja", "tokenizer_config.json"))
        digest = hashlib.sha256()
        for file in files:
            digest.update(file.name.encode() + file.read_bytes())
        return digest.hexdigest()

    def _hash(self) -> str:
        # The URL is part of what a served model is: engines give every model the same id ("model", the file
        # name), so two servers on two ports would otherwise be one model, and a gate would compare a model with
        # itself. Moving a server therefore costs its cached results. ``server`` changes the request (sampling).
        identity: dict[str, Any] = {
            "backend": SCHEME,
            "base_url": self.endpoint.base_url,
            "model_id": self.endpoint.model_id,
            "revision": self.endpoint.revision,
            "server": self.endpoint.server,
            "template": self._template_digest(),
        }
        if not self.cacheable:  # unique to this process: nothing computed from it is ever reused
            identity["uncached"] = _PROCESS
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def describe(self) -> dict[str, Any]:
        return {
            "spec": self.name,
            "kind": "served",
            "backend": SCHEME,
            "base_url": self.endpoint.base_url,
            "model_id": self.endpoint.model_id,
            "revision": self.endpoint.revision,
            "tokenizer": self.endpoint.tokenizer,
            "api_key_env": self.endpoint.api_key_env,  # the variable's name only, never the key
            "content_hash": self.content_hash,
            "cacheable": self.cacheable,
            "cache": "results are cached by model id and the declared revision"
            if self.cacheable
            else "results are not cached: no --model-revision was declared, and a server can change the weights "
            "behind the same model id; declare the revision to reuse results",
        }

    # --- HTTP -----------------------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return f"{self.endpoint.base_url}{path}"

    def _root_url(self, path: str) -> str:
        base = self.endpoint.base_url
        return f"{base[: -len('/v1')] if base.endswith('/v1') else base}{path}"

    def post(self, url: str, payload: dict[str, Any], *, retry: bool = True) -> dict[str, Any]:
        """POST JSON through the backend's :class:`~harness.backends.http.JsonClient` (retries, no redirects, no
        proxy for a loopback server, the key masked in errors)."""
        return self._http.post(url, payload, retry=retry)

    # --- generation -----------------------------------------------------------------------------------------
    def _chat(self, messages: list[dict[str, str]], settings: Any) -> str:
        payload = {
            "model": self.endpoint.model_id,
            "messages": messages,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "seed": settings.seed,
            **SERVERS[self.endpoint.server],
        }
        if settings.temperature > 0:
            payload["top_p"] = settings.top_p
        answer = self.post(self._url("/chat/completions"), payload)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ServerError(
                f"{self._url('/chat/completions')} answered without choices[0].message.content: {str(answer)[:200]}"
            ) from None
        return str(content or "").strip()

    def _map(self, work: Callable[[Any], Any], items: Sequence[Any], width: BatchSize, desc: str) -> list[Any]:
        from tqdm.auto import tqdm

        workers = max(1, min(_width(width), self.endpoint.concurrency, len(items) or 1))
        with (
            ThreadPoolExecutor(max_workers=workers) as pool,
            tqdm(total=len(items), desc=f"{desc} [{self.name}]", unit="case", leave=False) as bar,
        ):
            futures = [pool.submit(work, item) for item in items]
            for future in futures:
                future.add_done_callback(lambda _: bar.update(1))
            return [future.result() for future in futures]  # in order; the first error propagates

    def generate(self, cases: Sequence[Any], settings: Any, desc: str = "generate") -> list[str]:
        """The server's reply to each case, in order (requests run concurrently)."""
        chats = [[m.to_dict() for m in case.messages] for case in cases]
        return self._map(lambda chat: self._chat(chat, settings), chats, settings.batch_size, desc)

    # --- log-likelihood -------------------------------------------------------------------------------------
    def _local_tokenizer(self) -> Any:
        if self._tokenizer is None and self.endpoint.tokenizer is not None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self._resolve_tokenizer(self.endpoint.tokenizer)))
        return self._tokenizer

    @property
    def has_chat_template(self) -> bool:
        """lm-eval applies a chat template only through a local tokenizer that has one (the spec's ?tokenizer=)."""
        return self.endpoint.tokenizer is not None and bool(getattr(self._local_tokenizer(), "chat_template", None))

    def render(self, messages: Sequence[Any]) -> str:
        """The prompt text for ``messages`` up to the assistant's reply, with the served model's chat template."""
        tokenizer = self._local_tokenizer()
        if tokenizer is not None:
            from harness.run import render

            return render(tokenizer, messages)
        url = self._root_url("/apply-template")
        try:
            answer = self.post(url, {"messages": [m.to_dict() for m in messages]}, retry=False)
        except ServerError as exc:
            raise LogLikelihoodUnsupported(
                f"served model {self.name} cannot give log-likelihoods here: the chat prompt must be rendered "
                f"with the model's chat template, no local tokenizer was named and the server's /apply-template "
                f"failed ({exc}); add ?tokenizer=DIR_OR_ALIAS (the served model's tokenizer) to the spec"
            ) from None
        if not isinstance(answer.get("prompt"), str):
            raise LogLikelihoodUnsupported(
                f"{url} answered without a 'prompt': add ?tokenizer=DIR_OR_ALIAS to the spec"
            )
        return str(answer["prompt"])

    def _continuation_logprob(self, prompt: str, continuation: str) -> float:
        url = self._url("/completions")
        payload = {
            "model": self.endpoint.model_id,
            "prompt": prompt + continuation,
            "max_tokens": 1,  # 0 means "until the context is full" on some servers (llama.cpp)
            "temperature": 0,
            "logprobs": 1,
            "echo": True,
        }
        unsupported = (
            f"served model {self.name} cannot give log-likelihoods: {url} did not echo the prompt's token "
            "log-probabilities (echo: true, logprobs: 1), which the gates that score by log-likelihood need; serve "
            "the model with a server that supports them (vLLM, llama.cpp), or gate those checks on the model "
            "loaded in-process"
        )
        try:
            answer = self.post(url, payload)
        except ServerError as exc:
            if "HTTP 4" in str(exc):  # the server refused echo/logprobs
                raise LogLikelihoodUnsupported(f"{unsupported} ({exc})") from None
            raise
        try:
            choice = answer["choices"][0]
            picked = continuation_indices(choice, len(prompt), len(prompt) + len(continuation))
            values = [choice["logprobs"]["token_logprobs"][i] for i in picked]
        except (KeyError, IndexError, TypeError):
            raise LogLikelihoodUnsupported(unsupported) from None
        if not picked or any(value is None for value in values):
            raise LogLikelihoodUnsupported(f"{unsupported} (the echoed tokens do not cover the continuation)")
        return float(sum(values))

    def loglikelihood(
        self, requests: Sequence[tuple[Sequence[Any], str]], batch_size: BatchSize = 32, desc: str = "loglikelihood"
    ) -> list[float]:
        """Sum of log-probabilities of each continuation given its chat context, by echoed completions."""
        for messages, continuation in requests:
            if not continuation:
                raise ConfigError(f"empty continuation for prompt {messages[-1].content!r}: nothing to score")
        prompts = [self.render(messages) for messages, _ in requests]
        pairs = [(prompt, continuation) for prompt, (_, continuation) in zip(prompts, requests, strict=True)]
        return self._map(lambda pair: self._continuation_logprob(*pair), pairs, batch_size, desc)

    # --- lm-eval ---------------------------------------------------------------------------------------------
    def lm_eval_model(self, batch_size: BatchSize = 16) -> Any:
        """lm-eval's ``local-completions`` LM against the same server (:class:`EchoedCompletions`: text prompts,
        continuations found by echoed offsets): one prompt per request, ``batch_size`` requests in flight. Its
        log-likelihoods need a tokenizer: the spec's local one, else the server's own (/tokenize, as vLLM
        serves it)."""
        from harness.backends.openai_lm_eval import EchoedCompletions

        url = self._url("/completions")
        tokenizer: dict[str, Any]
        if self.endpoint.tokenizer is not None:
            local = str(self._resolve_tokenizer(self.endpoint.tokenizer))
            tokenizer = {"tokenizer_backend": "huggingface", "tokenizer": local}
        elif self._serves_tokenizer():
            tokenizer = {"tokenizer_backend": "remote"}
        else:
            raise LogLikelihoodUnsupported(
                f"lm-eval cannot score served model {self.name}: it needs the model's tokenizer, none was named and "
                f"the server has no /tokenize; add ?tokenizer=DIR_OR_ALIAS to the spec"
            )
        return EchoedCompletions(
            model=self.endpoint.model_id,
            base_url=url,
            num_concurrent=max(1, min(_width(batch_size), self.endpoint.concurrency)),
            max_retries=self.endpoint.max_retries + 1,
            timeout=int(self.endpoint.timeout),
            batch_size=1,
            api_key=self._api_key,  # lm-eval would read OPENAI_API_KEY itself: EchoedCompletions sends only this
            **tokenizer,
        )

    def _serves_tokenizer(self) -> bool:
        """Whether the server has vLLM's /tokenizer_info and /tokenize (lm-eval's check_remote_tokenizer_support,
        asked through this backend's client: no proxy for a loopback server, no redirects, the key masked)."""
        try:
            info = self._http.get(self._root_url("/tokenizer_info"), retry=False)
            probe = {"prompt": "test", "add_special_tokens": False}
            tokens = self._http.post(self._root_url("/tokenize"), probe, retry=False)
        except ServerError:
            return False
        return "eos_token" in info and isinstance(tokens.get("tokens"), list)


def continuation_indices(choice: dict[str, Any], start: int, end: int) -> list[int]:
    """Indices of the echoed tokens of a completion ``choice`` that cover characters ``[start, end)`` of the
    prompt sent (a token that straddles ``start`` belongs to the continuation).

    vLLM's ``text_offset`` indexes the prompt as sent. llama-cpp-python's counts the prompt's text *without* its
    special tokens (``<|im_end|>`` detokenises to nothing, and it leaves BOS-id tokens such as ChatML's
    ``<|im_start|>`` out of the lists altogether), so its offsets fall short of the sent text by those tokens'
    characters. Both end with the same text, so the offsets are re-anchored at the end: the echoed ``text``
    (prompt + generated) ends where the last token does. A continuation holds no special tokens, so every
    character dropped lies before it."""
    logprobs = choice["logprobs"]
    offsets, tokens = list(logprobs["text_offset"]), logprobs.get("tokens")
    text = choice.get("text")
    if offsets and tokens and isinstance(text, str):
        shift = len(text) - (offsets[-1] + len(tokens[-1]))
        if shift > 0:
            offsets = [offset + shift for offset in offsets]
    if not offsets or offsets[-1] < start:
        return []
    return [
        i
        for i, offset in enumerate(offsets)
        if offset < end and (offset >= start or (i + 1 < len(offsets) and offsets[i + 1] > start))
    ]


def _width(batch_size: BatchSize) -> int:
    """Requests in flight for a batch size; ``auto`` is the endpoint's concurrency (a server has no OOM to probe)."""
    return 1 << 30 if batch_size == "auto" else int(batch_size)


def _tokenizer_dir(ref: str) -> Path:
    """A local directory, or the directory a registry alias points at, holding a tokenizer."""
    path = Path(ref).expanduser()
    if not path.is_dir():
        from harness.registry import Registry

        event = Registry().get(ref)
        if event is None:
            raise ConfigError(
                f"tokenizer {ref!r} of a served model is neither a directory nor a registered alias: name the "
                "served model's local copy (e.g. the alias `harness models fetch` registered)"
            )
        path = Path(event.path)
    if not any(path.glob("tokenizer*")):
        raise ConfigError(f"tokenizer {ref!r} ({path}) holds no tokenizer files: name a model directory with them")
    return path


def load_backend(spec: str, *, revision: str | None = None, name: str | None = None) -> OpenAIBackend:
    """The backend of an ``openai+`` spec (the registry entry for the ``openai`` scheme)."""
    return OpenAIBackend(parse_spec(spec, revision=revision), name=name or spec)


def resolve_spec(spec: ModelSpec, registry: Registry) -> Resolution:
    """A served role's identity without a request to the server: model id, declared revision, template."""
    backend = load_backend(spec.ref, revision=spec.revision)
    return Resolution(backend.content_hash, backend.describe())


def load_role(role: ModelRole, registry: Registry) -> OpenAIBackend:
    return load_backend(role.spec.ref, revision=role.spec.revision)


register(
    BackendKind(
        SCHEME,
        ("openai+http", "openai+https"),
        resolve_spec,
        load_role,
        "a model behind an OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp)",
    )
)
