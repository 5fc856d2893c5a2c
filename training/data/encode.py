"""Render examples with the model's chat template into token ids, with the loss on assistant tokens only.

When the template marks assistant turns with ``{% generation %}`` tags, transformers returns the mask
itself (``return_assistant_tokens_mask=True``). Otherwise the mask is derived by rendering prefixes:
for each assistant turn k, the tokens of ``messages[:k]`` with the generation prompt (everything up to
where the reply starts) and of ``messages[:k + 1]`` (up to where it ends) bound that reply, and the
reply's span is the difference. That only works when each rendered prefix is a prefix of the full
rendering; when it is not, the example is refused rather than masked wrongly.

Examples longer than ``max_length`` are an error, never truncated: a cut-off reply teaches the model to
stop mid-sentence, and a cut that removes the reply leaves nothing to learn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from harness.errors import ConfigError, DataError
from training.data.example import Example, named_ids

IGNORE_INDEX = -100  # the label PyTorch's cross-entropy skips
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass(frozen=True)
class Encoded:
    input_ids: list[int]
    attention_mask: list[int]
    labels: list[int]  # the token id on assistant tokens, IGNORE_INDEX elsewhere


def has_generation_tags(tokenizer: Any) -> bool:
    template = getattr(tokenizer, "chat_template", None)
    if not isinstance(template, str) or not template:
        raise ConfigError(
            "the tokenizer has no chat template (or several by name); use the model's own tokenizer, "
            "or set tokenizer.chat_template before training"
        )
    return bool(_GENERATION_TAG.search(template))


def _render(tokenizer: Any, example: Example, messages: list[dict[str, str]], **kwargs: Any) -> Any:
    from jinja2.exceptions import TemplateError

    try:
        return tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True, **kwargs)
    except TemplateError as exc:  # templates reject input with raise_exception(), e.g. "system role not supported"
        raise DataError(
            f"{example.source} (example {example.id!r}): the chat template refused the conversation ({exc}); "
            "change the roles to what the model's template accepts"
        ) from None


def token_ids(example: Example, tokenizer: Any) -> list[int]:
    """The token ids of the example rendered with the chat template."""
    return list(_render(tokenizer, example, example.chat())["input_ids"])


def _mask_from_tags(example: Example, tokenizer: Any) -> tuple[list[int], list[int]]:
    out = _render(tokenizer, example, example.chat(), return_assistant_tokens_mask=True)
    return list(out["input_ids"]), list(out["assistant_masks"])


def _mask_from_prefixes(example: Example, tokenizer: Any) -> tuple[list[int], list[int]]:
    chat = example.chat()
    ids = token_ids(example, tokenizer)
    mask = [0] * len(ids)
    for turn, (role, _) in enumerate(example.messages):
        if role != "assistant":
            continue
        start = list(_render(tokenizer, example, chat[:turn], add_generation_prompt=True)["input_ids"])
        end = list(_render(tokenizer, example, chat[: turn + 1])["input_ids"])
        if ids[: len(start)] != start or ids[: len(end)] != end:
            raise DataError(
                f"{example.source} (example {example.id!r}): the chat template does not render turn {turn} as a "
                "prefix of the whole conversation, so the assistant tokens cannot be located; use a template "
                "with {% generation %} tags around assistant replies"
            )
        mask[len(start) : len(end)] = [1] * (len(end) - len(start))
    return ids, mask


def encode(examples: Sequence[Example], tokenizer: Any, *, max_length: int) -> list[Encoded]:
    """Token ids, attention mask and labels (IGNORE_INDEX outside assistant tokens) for every example."""
    if max_length < 1:
        raise ConfigError(f"max_length={max_length} must be a positive number of tokens")
    masker = _mask_from_tags if has_generation_tags(tokenizer) else _mask_from_prefixes
    encoded: list[Encoded] = []
    too_long: list[str] = []
    unmasked: list[str] = []
    for example in examples:
        ids, mask = masker(example, tokenizer)
        if len(ids) > max_length:
            too_long.append(example.id)
        elif not any(mask):
            unmasked.append(example.id)
        labels = [token if keep else IGNORE_INDEX for token, keep in zip(ids, mask, strict=True)]
        encoded.append(Encoded(input_ids=ids, attention_mask=[1] * len(ids), labels=labels))
    if too_long:
        raise DataError(
            f"{len(too_long)} example(s) exceed max_length={max_length} tokens: {named_ids(too_long)}; "
            "raise max_length or shorten or remove them (they are never truncated; validate() lists their lengths)"
        )
    if unmasked:
        raise DataError(
            f"{len(unmasked)} example(s) have no assistant tokens to learn from: {named_ids(unmasked)}; "
            "give each an assistant reply the template renders (is the template dropping it?)"
        )
    return encoded
