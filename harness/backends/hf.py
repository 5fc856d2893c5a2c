"""The transformers backend: any spec without a scheme (an alias, a directory, a hub id, a PEFT adapter),
loaded in-process on the run's placement (CPU or CUDA, its dtype, 4-bit, a device map) by harness.models and
run by harness.run (batched, left-padded, inputs on the model's device).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.backends.protocol import LoglikelihoodRequest, ModelBackend
from harness.backends.registry import BackendKind, Resolution, register
from harness.batchsize import BatchSize
from harness.models import LoadedModel, ModelSpec, content_hash, describe, load, resolve
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.cases import Case
    from harness.pool import ModelRole
    from harness.run import DecodingSettings


@dataclass(frozen=True, eq=False)
class HFBackend(LoadedModel):
    """A loaded transformers model (and tokenizer) as a ModelBackend. It is a LoadedModel, so everything
    written against one (harness.run, the device tests, scripts) takes it as it is."""

    @classmethod
    def of(cls, loaded: LoadedModel) -> HFBackend:
        return cls(loaded.spec, loaded.resolved, loaded.model, loaded.tokenizer, loaded.content_hash)

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def generate(self, cases: Sequence[Case], settings: DecodingSettings, desc: str = "generate") -> list[str]:
        from harness import run

        return run.generate(self, cases, settings, desc)

    def loglikelihood(
        self, requests: Sequence[LoglikelihoodRequest], batch_size: BatchSize = 32, desc: str = "loglikelihood"
    ) -> list[float]:
        from harness import run

        return run.loglikelihood(self, requests, batch_size, desc)

    def lm_eval_model(self, batch_size: BatchSize = 16) -> Any:
        """HFLM around this model and tokenizer as they are.

        HFLM takes any non-str ``pretrained`` as the model: it reads ``.device`` and ``.config`` from it (its
        own ``device`` argument applies to model names only) and puts every input tensor on that device, so a
        model loaded on a GPU is evaluated there. It only calls forward/generate, which a PeftModel forwards
        to its base, a 4-bit model serves on its own device and a sharded model's accelerate hooks route
        between its GPUs, so none needs unwrapping or moving. Log-softmax runs in float32 so half-precision
        models still rank close options reliably. ``batch_size="auto"`` is lm-eval's own search.
        """
        from lm_eval.models.huggingface import HFLM

        return HFLM(pretrained=self.model, tokenizer=self.tokenizer, batch_size=batch_size, softmax_dtype="float32")


def as_backend(model: ModelBackend | LoadedModel) -> ModelBackend:
    """A backend for code handed a plain LoadedModel (``harness.models.load``): the same model, wrapped."""
    return HFBackend.of(model) if isinstance(model, LoadedModel) and not isinstance(model, HFBackend) else model


def resolve_spec(spec: ModelSpec, registry: Registry) -> Resolution:
    """Resolve and hash the files (no weights loaded): the content hash carries the placement."""
    resolved = resolve(spec, registry)
    placement = spec.resolved_placement()
    digest = content_hash(resolved, load_in_4bit=spec.load_in_4bit, placement=placement)
    # Hash the files a second time only where the placement changed the digest (off the CPU's float32).
    weights = content_hash(resolved, load_in_4bit=spec.load_in_4bit) if placement.hash_tag() else digest
    return Resolution(digest, describe(spec, resolved, digest), weights, resolved)


def load_role(role: ModelRole, registry: Registry) -> HFBackend:
    return HFBackend.of(load(role.spec, registry, resolved=role.resolved, digest=role.content_hash))


register(
    BackendKind(
        "hf",
        (),
        resolve_spec,
        load_role,
        "transformers in-process: an alias, a directory, a hub id or a PEFT adapter, on --device / --dtype",
    )
)
