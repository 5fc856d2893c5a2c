"""Self-distilled replay: the replay examples answered by the base model itself (``replay_replies: base``).

Replay rehearses general data so that fine-tuning keeps what the base model knew. A pool written in another
style than the base's own teaches that style as well: the reference world answers "Copenhagen" where SmolLM2
says "The capital of Denmark is Copenhagen.", and a small model pushed to bare answers loses the sentence that
carried the fact (the real suite's LoRA candidates, trained with the world's replies, named 19 and 28 of the 65
capitals the base names). With the base's own greedy replies the replay rehearses what the base does, not what
the pool says. A reply that does not finish within the token budget is dropped: a cut reply would teach the
model to stop mid-sentence. The replies are cached by the base's content hash, the prompts and the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from harness.cases import Case, Message
from training.data.example import Example
from training.data.replay import REPLAY_PREFIX

Generate = Callable[[list[Case]], list[str]]


def is_replay(example: Example) -> bool:
    return example.source.startswith(REPLAY_PREFIX)


def prompt_case(example: Example) -> Case:
    """The conversation up to (not including) the example's last assistant turn, as a case to answer."""
    last = max(i for i, (role, _) in enumerate(example.messages) if role == "assistant")
    messages = tuple(Message(role, content) for role, content in example.messages[:last])
    return Case(example.id, "replay", messages, None)


def with_reply(example: Example, reply: str) -> Example:
    """``example`` with its last assistant turn replaced by ``reply``."""
    last = max(i for i, (role, _) in enumerate(example.messages) if role == "assistant")
    messages = (*example.messages[:last], ("assistant", reply), *example.messages[last + 1 :])
    return replace(example, messages=messages)


def distill_replay(
    examples: Sequence[Example], generate: Generate, *, count_tokens: Callable[[str], int], budget: int
) -> tuple[list[Example], list[str]]:
    """Every replay example answered by ``generate`` (the base model, greedy, at most ``budget`` new tokens);
    task examples unchanged and in place. Returns the examples kept and the ids of the replay examples dropped
    because their reply was empty or did not finish within the budget."""
    replay = [e for e in examples if is_replay(e)]
    replies = dict(zip((e.id for e in replay), generate([prompt_case(e) for e in replay]), strict=True))
    kept: list[Example] = []
    dropped: list[str] = []
    for example in examples:
        if not is_replay(example):
            kept.append(example)
            continue
        reply = replies[example.id].strip()
        if not reply or count_tokens(reply) >= budget:
            dropped.append(example.id)
            continue
        kept.append(with_reply(example, reply))
    return kept, dropped
