"""What a gate may ask of a model: the one narrow interface every backend implements (in the spirit of
lm-eval's ``LM``). Gates, the scorer and the lm-eval bridge talk to this interface only; how the model runs
(transformers in-process, a server, canned answers in tests) is the backend's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.batchsize import BatchSize
from harness.cases import Case, Message

if TYPE_CHECKING:
    from harness.run import DecodingSettings

# A log-likelihood request: the chat context and the continuation whose log-probability is summed.
LoglikelihoodRequest = tuple[Sequence[Message], str]


@runtime_checkable
class ModelBackend(Protocol):
    """A loaded model of one role, whatever runs it."""

    @property
    def name(self) -> str:
        """The spec the user gave (an alias, a directory, a hub id, a URL): for progress bars and reports."""
        ...

    @property
    def content_hash(self) -> str:
        """What determines the model's outputs (weights, or the served model's identity, plus placement):
        every result-cache key includes it."""
        ...

    @property
    def has_chat_template(self) -> bool:
        """Whether prompts are rendered with a chat template (lm-eval applies it when there is one)."""
        ...

    def generate(self, cases: Sequence[Case], settings: DecodingSettings, desc: str = "generate") -> list[str]:
        """The reply to each case's chat, in order (greedy unless ``settings`` sample), stripped."""
        ...

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], batch_size: BatchSize = 32, desc: str = "loglikelihood"
    ) -> list[float]:
        """Sum of log-probabilities of each continuation given its rendered chat context, in order.
        ``batch_size`` is an int or ``"auto"``."""
        ...

    def describe(self) -> dict[str, Any]:
        """Provenance for reports, score tables and caches (spec, kind, content hash, placement, ...)."""
        ...

    def lm_eval_model(self, batch_size: BatchSize = 16) -> Any:
        """An ``lm_eval.api.model.LM`` over this same model (never a second copy of the weights)."""
        ...
