"""Encoding: loss on assistant tokens only, via generation tags or rendered prefixes, and no truncation."""

from __future__ import annotations

import copy

import pytest

from harness.errors import ConfigError, DataError
from tests.training.helpers import chat
from training.data.encode import IGNORE_INDEX, encode, has_generation_tags
from training.data.example import Example
from training.tokenizer import CHAT_TEMPLATE, EOS

MULTI_TURN = Example(
    id="multi",
    messages=(
        ("system", "Be brief."),
        ("user", "What is 2 + 2?"),
        ("assistant", "4"),
        ("user", "And 3 + 3?"),
        ("assistant", "6"),
    ),
    source="test:multi",
)


def _with_template(tokenizer, template: str):  # type: ignore[no-untyped-def]
    clone = copy.deepcopy(tokenizer)
    clone.chat_template = template
    return clone


def _learned_spans(tokenizer, encoded) -> list[str]:  # type: ignore[no-untyped-def]
    """Decoded runs of consecutive learned (non-ignored) tokens."""
    spans, current = [], []
    for label in [*encoded.labels, IGNORE_INDEX]:
        if label != IGNORE_INDEX:
            current.append(label)
        elif current:
            spans.append(tokenizer.decode(current))
            current = []
    return spans


def test_only_assistant_replies_and_their_end_token_are_learned(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    (encoded,) = encode([MULTI_TURN], tiny_tokenizer, max_length=256)
    assert _learned_spans(tiny_tokenizer, encoded) == [f"4{EOS}", f"6{EOS}"]
    assert encoded.attention_mask == [1] * len(encoded.input_ids)
    assert all(label in (token, IGNORE_INDEX) for token, label in zip(encoded.input_ids, encoded.labels, strict=True))
    rendered = tiny_tokenizer.apply_chat_template(MULTI_TURN.chat(), tokenize=True, return_dict=True)
    assert encoded.input_ids == list(rendered["input_ids"])


def test_templates_without_generation_tags_mask_by_prefixes_identically(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    untagged = _with_template(
        tiny_tokenizer, CHAT_TEMPLATE.replace("{% generation %}", "").replace("{% endgeneration %}", "")
    )
    assert has_generation_tags(tiny_tokenizer) and not has_generation_tags(untagged)
    examples = [MULTI_TURN, chat("single", "Capital of Peru?", "Lima")]
    assert encode(examples, untagged, max_length=256) == encode(examples, tiny_tokenizer, max_length=256)


def test_over_long_examples_are_refused_not_truncated(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    length = len(encode([MULTI_TURN], tiny_tokenizer, max_length=256)[0].input_ids)
    assert len(encode([MULTI_TURN], tiny_tokenizer, max_length=length)[0].input_ids) == length
    with pytest.raises(DataError, match=rf"1 example\(s\) exceed max_length={length - 1} tokens: 'multi'"):
        encode([MULTI_TURN, chat("short", "Hi", "Hey")], tiny_tokenizer, max_length=length - 1)


def test_a_template_that_drops_replies_leaves_nothing_to_learn(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    silent = _with_template(
        tiny_tokenizer,
        "{% for m in messages %}{% if m['role'] != 'assistant' %}{{ m['content'] }}{% endif %}{% endfor %}",
    )
    with pytest.raises(DataError, match=r"no assistant tokens to learn from: 'multi'"):
        encode([MULTI_TURN], silent, max_length=256)


def test_a_template_that_is_not_prefix_stable_is_refused(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    counting = _with_template(
        tiny_tokenizer, "{{ messages | length }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    )
    with pytest.raises(DataError, match=r"test:multi \(example 'multi'\): the chat template does not render turn 2"):
        encode([MULTI_TURN], counting, max_length=256)


def test_template_errors_and_missing_templates_name_the_fix(tiny_tokenizer) -> None:  # type: ignore[no-untyped-def]
    no_system = _with_template(
        tiny_tokenizer,
        "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}"
        "{% endif %}{% generation %}{{ m['content'] }}{% endgeneration %}{% endfor %}",
    )
    with pytest.raises(DataError, match=r"example 'multi'\): the chat template refused .*System role not supported"):
        encode([MULTI_TURN], no_system, max_length=256)
    with pytest.raises(ConfigError, match="no chat template"):
        encode([MULTI_TURN], _with_template(tiny_tokenizer, None), max_length=256)  # type: ignore[arg-type]
