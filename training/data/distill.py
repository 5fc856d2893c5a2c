"""Self-distilled replay: the replay examples answered by the base model itself (``replay_replies: base``).

Replay rehearses general data so that fine-tuning keeps what the base model knew. A pool written in another
style than the base's own teaches that style as well: the reference world answers "Copenhagen" where SmolLM2
says "The capital of Denmark is Copenhagen.", and a small model pushed to bare answers loses the sentence that
carried the fact (the real suite's LoRA candidates, trained with the world's replies, named 19 and 28 of the 65
capitals the base names). With the base's own greedy replies the replay rehearses what the base does, not what
the pool says. A reply that does not finish within the token budget is dropped: a cut reply would teach the
model to stop mid-sentence. The replies are cached by the base's content hash, the prompts and the budget.

Categories named in ``keep`` (default: harmful) keep the pool's replies: those are refusals, safety data the replay
carries on purpose, and a base that answers harmful requests would teach its compliance instead (without them, a
SmolLM2 LoRA candidate refused 1 of 60 harmful requests where the base refuses 14).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from harness.cases import Case, Message
from training.data.example import Example
from training.data.replay import REPLAY_PREFIX

Generate = Callable[[list[Case]], list[str]]


def is_replay(example: Example, keep: Sequence[str] = ()) -> bool:
    """Whether ``example`` is a replay example whose reply the base gives (its category is not in ``keep``)."""
    return example.source.startswith(REPLAY_PREFIX) and example.stratum not in keep


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
    examples: Sequence[Example],
    generate: Generate,
    *,
    count_tokens: Callable[[str], int],
    budget: int,
    keep: Sequence[str] = ("harmful",),
) -> tuple[list[Example], list[str]]:
    """Every replay example outside the ``keep`` categories answered by ``generate`` (the base model, greedy, at
    most ``budget`` new tokens); other examples unchanged and in place. Returns the examples kept and the ids of
    the replay examples dropped because their reply was empty or did not finish within the budget."""
    replay = [e for e in examples if is_replay(e, keep)]
    replies = dict(zip((e.id for e in replay), generate([prompt_case(e) for e in replay]), strict=True))
    kept: list[Example] = []
    dropped: list[str] = []
    for example in examples:
        if not is_replay(example, keep):
            kept.append(example)
            continue
        reply = replies[example.id].strip()
        if not reply or count_tokens(reply) >= budget:
            dropped.append(example.id)
            continue
        kept.append(with_reply(example, reply))
    return kept, dropped
