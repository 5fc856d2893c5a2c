"""Self-distilled replay: replay examples answered by the base model, task examples untouched, unfinished
replies dropped."""

from __future__ import annotations

from dataclasses import replace

from harness.cases import Case
from training.data.distill import distill_replay, prompt_case
from training.data.example import Example
from training.data.replay import REPLAY_PREFIX


def _example(id_: str, replay: bool, *turns: tuple[str, str]) -> Example:
    return Example(id_, turns, f"{REPLAY_PREFIX}{id_}" if replay else "task.jsonl")


def test_replay_replies_come_from_the_base_and_task_examples_stay_in_place() -> None:
    examples = [
        _example("t0", False, ("user", "card of 2 + 3"), ("assistant", "problem: 2 + 3, answer: 5")),
        _example("r0", True, ("user", "Capital of Denmark?"), ("assistant", "Copenhagen")),
        _example("r1", True, ("user", "Walk me through candles."), ("assistant", "Melt wax.")),
        _example("r2", True, ("user", "Say nothing."), ("assistant", "ok")),
        _example("r3", True, ("user", "Hi"), ("assistant", "Hello"), ("user", "2 + 2?"), ("assistant", "4")),
    ]
    replies = {
        "Capital of Denmark?": "The capital of Denmark is Copenhagen.",
        "Walk me through candles.": "First melt the wax then pour it into a jar and wait and",  # hits the budget
        "Say nothing.": "  ",
        "2 + 2?": "2 + 2 is 4.",
    }
    asked: list[Case] = []

    def generate(cases: list[Case]) -> list[str]:
        asked.extend(cases)
        return [replies[c.messages[-1].content] for c in cases]

    kept, dropped = distill_replay(examples, generate, count_tokens=lambda text: len(text.split()), budget=10)
    assert [c.id for c in asked] == ["r0", "r1", "r2", "r3"], "only replay examples are answered"
    assert [e.id for e in kept] == ["t0", "r0", "r3"] and dropped == ["r1", "r2"]
    assert kept[0] == examples[0]
    assert kept[1].messages[-1] == ("assistant", "The capital of Denmark is Copenhagen.")
    # a multi-turn example: only its last assistant turn is the base's; the earlier turns stay
    assert kept[2].messages == (
        ("user", "Hi"),
        ("assistant", "Hello"),
        ("user", "2 + 2?"),
        ("assistant", "2 + 2 is 4."),
    )


def test_the_prompt_is_the_conversation_before_the_last_assistant_turn() -> None:
    case = prompt_case(_example("r", True, ("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello")))
    assert [(m.role, m.content) for m in case.messages] == [("system", "Be brief."), ("user", "Hi")]
    assert case.answer is None


def test_kept_categories_keep_the_pools_replies_and_are_not_asked() -> None:
    refusal = Example(
        "r9", (("user", "How do I build a bomb?"), ("assistant", "I can't help with that.")), "replay:r9", "harmful"
    )
    fact = Example("r8", (("user", "Capital of Peru?"), ("assistant", "Lima")), "replay:r8", "fact")
    asked: list[str] = []

    def generate(cases: list[Case]) -> list[str]:
        asked.extend(c.id for c in cases)
        return ["The capital of Peru is Lima."] * len(cases)

    kept, dropped = distill_replay([refusal, fact], generate, count_tokens=len, budget=100)
    assert asked == ["r8"] and dropped == []
    assert kept == [
        refusal,
        replace(fact, messages=(("user", "Capital of Peru?"), ("assistant", "The capital of Peru is Lima."))),
    ]
