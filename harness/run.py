"""Batched generation and log-likelihood scoring of chat cases on a loaded model.

Prompts are rendered with the tokenizer's chat template and left-padded, so every row of a batch ends at
the same position and generation appends on the right; the attention mask hides the padding. Decoding is
greedy unless the settings ask for sampling (then it is seeded).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tqdm.auto import tqdm

from harness.cases import Case, Message
from harness.device import model_device
from harness.errors import ConfigError
from harness.models import LoadedModel


@dataclass(frozen=True)
class DecodingSettings:
    max_new_tokens: int = 32
    batch_size: int = 32
    temperature: float = 0.0  # 0 means greedy
    top_p: float = 1.0
    seed: int = 0
    repeats: int = 1  # samples per case (needs temperature > 0); see harness.sampling

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens={self.max_new_tokens} must be at least 1")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size} must be at least 1")
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
    loaded: LoadedModel, cases: Sequence[Case], settings: DecodingSettings, desc: str = "generate"
) -> list[str]:
    """The model's reply to each case, in order, with special tokens stripped."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    device = model_device(model)
    prompts = [render(tokenizer, case.messages) for case in cases]
    sampling = settings.temperature > 0
    if sampling:
        torch.manual_seed(settings.seed)
    outputs: list[str] = []
    with tqdm(total=len(prompts), desc=f"{desc} [{loaded.name}]", unit="case", leave=False) as bar:
        for chunk in _batches(prompts, settings.batch_size):
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
    loaded: LoadedModel,
    requests: Sequence[tuple[Sequence[Message], str]],
    batch_size: int = 32,
    desc: str = "loglikelihood",
) -> list[float]:
    """Sum of log-probabilities of each continuation given its chat context (the rendered prompt)."""
    import torch

    tokenizer, model = loaded.tokenizer, loaded.model
    device = model_device(model)
    rows: list[tuple[list[int], int]] = []  # (full token ids, number of continuation tokens)
    for messages, continuation in requests:
        context = tokenizer(render(tokenizer, messages), add_special_tokens=False)["input_ids"]
        target = tokenizer(continuation, add_special_tokens=False)["input_ids"]
        if not target:
            raise ConfigError(f"empty continuation for prompt {messages[-1].content!r}: nothing to score")
        rows.append((context + target, len(target)))
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
