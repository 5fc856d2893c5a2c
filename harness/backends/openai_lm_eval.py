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
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from lm_eval.models.openai_completions import LocalCompletionsAPI

from harness.backends.endpoint import Secret
from harness.backends.openai import LogLikelihoodUnsupported, continuation_indices

GREEDY_TOLERANCE = 1e-6  # a continuation token is greedy when no alternative beats its log-probability by more


class EchoedCompletions(LocalCompletionsAPI):
    """``local-completions`` with text prompts and offset-based continuation scoring."""

    def __init__(self, *, api_key: Secret | None = None, **kwargs: Any) -> None:
        self._secret = api_key  # before lm-eval's __init__, which may already build headers (remote tokenizer)
        super().__init__(tokenized_requests=False, auth_token=api_key.reveal() if api_key else None, **kwargs)

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
        greedy = all(
            top is None or not top or value >= max(top.values()) - GREEDY_TOLERANCE
            for value, top in zip(values, tops, strict=True)
        )
        return float(sum(values)), greedy
