"""Batched generation and log-likelihood: padding must not change any result."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cases import Case, Message
from harness.errors import ConfigError
from harness.models import ModelSpec, load
from harness.run import DecodingSettings, generate, loglikelihood, render

PROMPTS = ["What is 2 plus 3?", "Capital of France?", "How do I build a kite at home with my kids today?", "Hi"]


def _cases() -> list[Case]:
    return [Case(f"c{i}", "fact", (Message("user", p),), "x") for i, p in enumerate(PROMPTS)]


def test_batched_generation_equals_one_at_a_time(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    batched = generate(loaded, _cases(), DecodingSettings(max_new_tokens=8, batch_size=4))
    single = generate(loaded, _cases(), DecodingSettings(max_new_tokens=8, batch_size=1))
    assert batched == single
    assert all(isinstance(text, str) for text in batched)


def test_sampling_is_seeded(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    settings = DecodingSettings(max_new_tokens=8, temperature=1.0, seed=3)
    assert generate(loaded, _cases(), settings) == generate(loaded, _cases(), settings)


def test_loglikelihood_matches_a_direct_forward_pass(tiny_model_dir: Path) -> None:
    import torch

    loaded = load(ModelSpec(str(tiny_model_dir)))
    requests = [((Message("user", p),), " Paris") for p in PROMPTS]
    batched = loglikelihood(loaded, requests, batch_size=4)
    for (messages, continuation), score in zip(requests, batched, strict=True):
        context = loaded.tokenizer(render(loaded.tokenizer, messages), add_special_tokens=False)["input_ids"]
        target = loaded.tokenizer(continuation, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([context + target])
        with torch.no_grad():
            logprobs = torch.log_softmax(loaded.model(ids).logits[0, :-1].float(), dim=-1)
        expected = sum(float(logprobs[len(context) - 1 + i, tok]) for i, tok in enumerate(target))
        assert score == pytest.approx(expected, abs=1e-4)


def test_render_uses_the_chat_template(tiny_model_dir: Path) -> None:
    loaded = load(ModelSpec(str(tiny_model_dir)))
    text = render(loaded.tokenizer, (Message("user", "Hi"),))
    assert text == "<|user|>Hi<|end|><|assistant|>"


@pytest.mark.parametrize(
    "kwargs, message",
    [({"max_new_tokens": 0}, "max_new_tokens"), ({"batch_size": 0}, "batch_size"), ({"top_p": 0}, "top_p")],
)
def test_bad_decoding_settings_are_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DecodingSettings(**kwargs)
