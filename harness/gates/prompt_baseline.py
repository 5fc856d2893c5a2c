"""Prompt-baseline gate: fine-tuning must beat prompting. The candidate answers the task cases as they are; the
base model (--base-model, or the --baseline model) answers the same cases with ``k`` few-shot examples from the
training split before them, and an optional system prompt. The candidate must be *superior* by ``margin``
(the paired test matching the metric, effect and interval reported), or the fine-tune is not worth its cost.

Few-shot examples are extra user/assistant turns before the case's own messages, so the model's chat template
renders them as a conversation. The ``k`` examples are drawn once, with ``seed``, from the examples file, and
the same ones precede every case; their ids are recorded in the result. An examples file that shares an id or
a prompt with the evaluated cases is refused, naming the overlapping ids.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from harness.cases import Case, Message, jsonl_objects
from harness.errors import ConfigError, DataError
from harness.gates.context import RunContext
from harness.gates.paired import compare_tables, examples
from harness.gates.registry import GateCase, GateKind, register
from harness.gates.result import GateResult
from harness.scoring import TextMetric
from harness.spec import SuiteSpec
from harness.yamlspec import check_fraction


@dataclass(frozen=True)
class PromptBaselineGate:
    """The fine-tuned candidate vs the base model prompted with ``k`` few-shot examples (superiority)."""

    kind: Literal["prompt_baseline"]
    cases: str  # the evaluated cases: a world category (task) or a JSONL / CSV path relative to the suite
    examples: str = "train"  # few-shot pool: a split of the world's task data (train, validation) or a JSONL path
    k: int = 3
    seed: int = 0
    system_prompt: str | None = None
    prompted: Literal["base", "baseline"] = "base"  # the model role that is prompted
    metric: TextMetric = "exact_match"
    margin: float = 0.0  # the candidate must be better by more than this

    def __post_init__(self) -> None:
        check_fraction("margin", self.margin)
        if self.k < 0:
            raise ConfigError(f"k={self.k} must be 0 or more (few-shot examples before each case)")
        if self.system_prompt is not None and not self.system_prompt.strip():
            raise ConfigError("system_prompt is empty: give its text, or leave the key out for none")


def examples_file(suite: SuiteSpec, ref: str, ctx: RunContext) -> Path:
    """A split of the world's task data (``train``) or a JSONL path relative to the suite."""
    if ref.endswith(".jsonl"):
        return suite.resolve(ref)
    task = ctx.world(suite).task
    if ref not in task:
        raise ConfigError(
            f"{suite.path}: examples {ref!r} is neither a split of the world's task data "
            f"({', '.join(sorted(task))}) nor a .jsonl path relative to the suite"
        )
    return task[ref]


def read_shots(path: Path) -> list[tuple[str, tuple[Message, ...]]]:
    """(id, user/assistant turns) per row of a chat JSONL (``messages`` ending with the assistant's reply) or a
    case JSONL (``messages`` ending with the user turn, plus ``answer``). System turns are dropped: the gate's
    ``system_prompt`` is the only one."""
    if not path.is_file():
        raise DataError(f"few-shot examples file {path} does not exist: check `examples` in the suite")
    shots: list[tuple[str, tuple[Message, ...]]] = []
    seen: set[str] = set()
    for where, row in jsonl_objects(path):
        raw_id, raw_messages = row.get("id"), row.get("messages")
        if not raw_id or not isinstance(raw_messages, list) or not all(isinstance(m, dict) for m in raw_messages):
            raise DataError(f"{where}: a few-shot row needs an 'id' and 'messages' (a list of role/content objects)")
        try:
            turns = [Message(str(m.get("role")), m.get("content")) for m in raw_messages]
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
        if turns and turns[-1].role == "user" and isinstance(row.get("answer"), str):
            turns.append(Message("assistant", row["answer"]))
        turns = [m for m in turns if m.role != "system"]
        if not turns or turns[-1].role != "assistant" or turns[0].role != "user":
            raise DataError(
                f"{where}: example {raw_id!r} must start with a user turn and end with the assistant's reply "
                "(or give the reply as 'answer')"
            )
        if str(raw_id) in seen:
            raise DataError(f"{where}: duplicate id {raw_id!r}; ids must be unique within a file")
        seen.add(str(raw_id))
        shots.append((str(raw_id), tuple(turns)))
    if not shots:
        raise DataError(f"few-shot examples file {path} has no rows")
    return shots


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def check_no_overlap(shots: Sequence[tuple[str, tuple[Message, ...]]], cases: Sequence[Case], path: Path) -> None:
    """Refuse an examples file that shares an id or a prompt with the evaluated cases."""
    case_ids = {c.id for c in cases}
    prompts = {_norm(c.prompt): c.id for c in cases}
    overlap: list[str] = []
    for shot_id, turns in shots:
        same_prompt = [prompts[_norm(m.content)] for m in turns if m.role == "user" and _norm(m.content) in prompts]
        if shot_id in case_ids:
            overlap.append(shot_id)
        elif same_prompt:
            overlap.append(f"{shot_id} (prompt of case {same_prompt[0]})")
    if overlap:
        raise ConfigError(
            f"few-shot examples in {path} overlap the evaluated cases: {', '.join(overlap[:10])}"
            + (f" and {len(overlap) - 10} more" if len(overlap) > 10 else "")
            + ": the prompted model would see the test items; remove them from the examples file"
        )


def draw(shots: Sequence[tuple[str, tuple[Message, ...]]], k: int, seed: int) -> list[tuple[str, tuple[Message, ...]]]:
    if k > len(shots):
        raise ConfigError(f"k={k} few-shot examples asked for, but the examples file has only {len(shots)}")
    return random.Random(seed).sample(list(shots), k)


def prompted(case: Case, shots: Sequence[tuple[str, tuple[Message, ...]]], system_prompt: str | None) -> Case:
    """``case`` with the system prompt and the few-shot turns before its own messages (a case's own leading
    system message is kept first, after the gate's)."""
    own = list(case.messages)
    system = [m.content for m in own[:1] if m.role == "system"]
    if system:
        own = own[1:]
    if system_prompt:
        system.insert(0, system_prompt)
    head = [Message("system", "\n\n".join(system))] if system else []
    turns = [m for _, shot in shots for m in shot]
    return replace(case, messages=tuple(head + turns + own))


def evaluate(case: GateCase[PromptBaselineGate], ctx: RunContext) -> GateResult:
    name, spec, suite = case.name, case.spec, case.suite
    cases = ctx.cases(suite, spec.cases)
    path = examples_file(suite, spec.examples, ctx)
    pool = read_shots(path)
    check_no_overlap(pool, cases, path)
    shots = draw(pool, spec.k, spec.seed)
    shot_ids = [i for i, _ in shots]
    scorer = ctx.scorer(suite)
    few_shot = {"examples": str(path), "ids": shot_ids, "k": spec.k, "seed": spec.seed, "system": spec.system_prompt}
    candidate = scorer.table("candidate", cases, spec.metric)
    reference = scorer.table(
        spec.prompted,
        [prompted(c, shots, spec.system_prompt) for c in cases],
        spec.metric,
        provenance={"few_shot": few_shot},
    )
    ctx.save_table(suite, name, "candidate", candidate)
    ctx.save_table(suite, name, f"{spec.prompted}-{spec.k}shot", reference)
    model = ctx.pool.role(spec.prompted).spec.ref
    outcome = compare_tables(
        f"{spec.metric}: superiority by {spec.margin:g} over {model} prompted {spec.k}-shot",
        candidate,
        reference,
        margin=spec.margin,
        alpha=suite.alpha,
        decision="superiority",
        seed=ctx.seed,
    )
    check = replace(outcome.check, details={**outcome.check.details, "few_shot_ids": shot_ids})
    note = (
        f"{model} ({spec.prompted}) was prompted with {spec.k} few-shot example(s) from {path.name} drawn with seed "
        f"{spec.seed}: {', '.join(shot_ids) or 'none'}" + (" and a system prompt." if spec.system_prompt else ".")
    )
    return GateResult(
        name,
        suite.name,
        "prompt_baseline",
        spec.metric,
        (check,),
        outcome.flipped,
        outcome.improved,
        examples(outcome.flipped, cases, candidate, reference, 10),
        (note,),
    )


register(
    GateKind(
        "prompt_baseline",
        PromptBaselineGate,
        evaluate,
        "fine-tuned candidate vs the base model prompted with few-shot examples",
        cases=lambda spec: [spec.cases],
    )
)
