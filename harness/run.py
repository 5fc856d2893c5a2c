"""Batched generation and log-likelihood scoring of chat cases on a loaded model.

Prompts are rendered with the tokenizer's chat template and left-padded, so every row of a batch ends at
the same position and generation appends on the right; the attention mask hides the padding. Decoding is
greedy unless the settings ask for sampling (then it is seeded). ``batch_size: auto`` finds the largest batch
that fits (harness.batchsize); greedy results do not depend on the batch size.

These functions are the transformers backend (harness.backends.hf); given any other backend they hand the
call to it, so ``generate(backend, ...)`` works whatever runs the model.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from harness.batchsize import BatchSize, run_batched
from harness.batchsize import check as check_batch_size
from harness.cases import Case, Message
from harness.device import model_device
from harness.errors import ConfigError
from harness.models import LoadedModel

if TYPE_CHECKING:
    from harness.backends.protocol import ModelBackend


@dataclass(frozen=True)
class DecodingSettings:
    max_new_tokens: int = 32
    batch_size: BatchSize = 32  # or "auto": the largest that fits, found once per model and device
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int = 0
    repeats: int = 1  # samples per case (needs temperature > 0); see harness.sampling

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        check_batch_size(self.batch_size)
        if not (math.isfinite(self.temperature) and self.temperature >= 0) or not 0 < self.top_p <= 1:
            raise ConfigError(f"temperature={self.temperature} must be >= 0 and top_p={self.top_p} in (0, 1]")
        if self.repeats < 1:
            raise ConfigError(f"repeats={self.repeats} must be at least 1 (samples per case)")
        if self.repeats > 1 and self.temperature == 0:
            raise ConfigError(
                f"repeats={self.repeats} with temperature=0 draws {self.repeats} identical greedy samples per case: "
                "set a temperature above 0 to sample (e.g. `temperature: 0.7`), or `repeats: 1`"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def render(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The prompt text for ``messages``, ending where the assistant's reply starts."""
    chat = [m.to_dict() for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True))
    warnings.warn("tokenizer has no chat template; prompts are the message texts joined by blank lines", stacklevel=2)
    return "\n\n".join(m["content"] for m in chat) + "\n\n"


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def generate(
    loaded: LoadedModel | ModelBackend, cases: Sequence[Case], settings: DecodingSettings, desc: str = "generate"
) -> list[str]:
    """The model's reply to each case, in order, with special tokens stripped."""
    if not isinstance(loaded, LoadedModel):
        return loaded.generate(cases, settings, desc)
    device = model_device(loaded.model)
    prompts = [render(loaded.tokenizer, case.messages) for case in cases]
    run = lambda size: _generate(loaded, prompts, settings, size, desc)  # noqa: E731
    return run_batched(settings.batch_size, run, model_hash=loaded.content_hash, device=str(device))


def _generate(
    loaded: LoadedModel, prompts: Sequence[str], settings: DecodingSettings, batch_size: int, desc: str
) -> list[str]:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    device = model_device(model)
    sampling = settings.temperature > 0
    if sampling:
        torch.manual_seed(settings.seed)  # seeded per attempt: a retry after out-of-memory samples the same
    outputs: list[str] = []
    with tqdm(total=len(prompts), desc=f"{desc} [{loaded.name}]", unit="case", leave=False) as bar:
        for chunk in _batches(prompts, batch_size):
            enc = tokenizer(list(chunk), return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            with torch.no_grad():
                out = model.generate(
                    **enc,
                    max_new_tokens=settings.max_new_tokens,
                    do_sample=sampling,
                    temperature=settings.temperature if sampling else None,
                    top_p=settings.top_p if sampling else None,
                    top_k=None,
                    pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )
            new_tokens = out[:, enc["input_ids"].shape[1] :].cpu()
            outputs += [text.strip() for text in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
            bar.update(len(chunk))
    return outputs


def loglikelihood(
    loaded: LoadedModel | ModelBackend,
    requests: Sequence[tuple[Sequence[Message], str]],
    batch_size: BatchSize = 32,
    desc: str = "loglikelihood",
) -> list[float]:
    """Sum of log-probabilities of each continuation given its chat context (the rendered prompt)."""
    if not isinstance(loaded, LoadedModel):
        return loaded.loglikelihood(requests, batch_size, desc)
    check_batch_size(batch_size)
    tokenizer = loaded.tokenizer
    rows: list[tuple[list[int], int]] = []  # (full token ids, number of continuation tokens)
    for messages, continuation in requests:
        context = tokenizer(render(tokenizer, messages), add_special_tokens=False)["input_ids"]
        target = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not target:
            raise ConfigError(f"empty continuation for prompt {messages[-1].content!r}: nothing to score")
        rows.append((context + target, len(target)))
    run = lambda size: _loglikelihood(loaded, rows, size, desc)  # noqa: E731
    return run_batched(batch_size, run, model_hash=loaded.content_hash, device=str(model_device(loaded.model)))


def _loglikelihood(
    loaded: LoadedModel, rows: Sequence[tuple[list[int], int]], batch_size: int, desc: str
) -> list[float]:
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    device = model_device(model)
    scores: list[float] = []
    pad = tokenizer.pad_token_id
    with tqdm(total=len(rows), desc=f"{desc} [{loaded.name}]", unit="case", leave=False) as bar:
        for chunk in _batches(rows, batch_size):
            width = max(len(ids) for ids, _ in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for i, (row, _) in enumerate(chunk):  # left padding: every row ends at the last column
                ids[i, width - len(row) :] = torch.tensor(row)
                mask[i, width - len(row) :] = 1
            # Explicit positions so left padding is harmless for absolute position embeddings too.
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            ids, mask, positions = ids.to(device), mask.to(device), positions.to(device)
            with torch.no_grad():
                logits = model(input_ids=ids, attention_mask=mask, position_ids=positions).logits.float()
                logprobs = torch.log_softmax(logits[:, :-1], dim=-1)
                gathered = logprobs.gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1).cpu()
            for i, (_, n_target) in enumerate(chunk):
                scores.append(float(gathered[i, -n_target:].sum()))
            bar.update(len(chunk))
    return scores
