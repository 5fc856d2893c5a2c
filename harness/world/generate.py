"""Turn the world's sources into a pretraining corpus, held-out evaluation sets and a fine-tuning task.

Everything is drawn from ``random.Random`` streams seeded per component, so the output is a pure function of
(sources, seed). Held-out items are chosen *before* the corpus is written and the corpus is built only from
what remains, so no held-out prompt can reach pretraining (tests/world/test_generate.py proves it).
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from harness.cases import Case, Message
from harness.world.sources import ArithmeticSource, FactSource, SafetyCategory, SafetySource, Sources, TaskSource

Row = dict[str, Any]


@dataclass(frozen=True)
class World:
    chat: tuple[Row, ...]  # pretraining conversations: {"id", "messages": [user, assistant]}
    text: tuple[Row, ...]  # pretraining plain text: {"id", "text"}
    heldout: dict[str, tuple[Case, ...]]  # category -> evaluation cases never seen in pretraining
    task: dict[str, tuple[Row, ...]]  # train / validation: chat rows; test: case rows
    refusal_markers: tuple[str, ...]


@dataclass(frozen=True)
class Problem:
    a: int
    op: str
    b: int

    @property
    def result(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b

    @property
    def key(self) -> str:
        return f"{'add' if self.op == '+' else 'sub'}-{self.a}-{self.b}"


def _rng(seed: int, stream: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{stream}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _chat(row_id: str, user: str, assistant: str, category: str | None = None) -> Row:
    row: Row = {"id": row_id}
    if category:  # pretraining rows carry their category, so replay can be weighted by it
        row["category"] = category
    row["messages"] = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return row


def _case(case_id: str, category: str, prompt: str, answer: str | None, cluster: str) -> Case:
    return Case(case_id, category, (Message("user", prompt),), answer, cluster)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower()).strip("-")


def _facts(src: FactSource, seed: int) -> tuple[list[Row], list[Row], list[Case]]:
    rng = _rng(seed, "facts")
    chat: list[Row] = []
    text: list[Row] = []
    heldout: list[Case] = []
    n_questions = len(src.questions)
    offset = rng.randrange(n_questions)
    for index, (entity, value) in enumerate(src.pairs):
        # Rotate which questions are held out so every phrasing is seen in pretraining for most facts.
        held = {(offset + index + k * 3) % n_questions for k in range(src.heldout_per_fact)}
        slug = _slug(entity)
        for q_index, question in enumerate(src.questions):
            prompt = question.format(entity=entity)
            if q_index in held:
                heldout.append(_case(f"fact-{slug}-q{q_index}", "fact", prompt, value, cluster=f"fact-{slug}"))
            else:
                chat.append(_chat(f"pre-fact-{slug}-q{q_index}", prompt, value, "fact"))
        for s_index, statement in enumerate(src.statements):
            text.append({"id": f"pre-fact-{slug}-s{s_index}", "text": statement.format(entity=entity, value=value)})
    return chat, text, heldout


def problems(src: ArithmeticSource) -> list[Problem]:
    top = src.max_operand
    adds = [Problem(a, "+", b) for a in range(top + 1) for b in range(top + 1)]
    subs = [Problem(a, "-", b) for a in range(top + 1) for b in range(a + 1)]
    return adds + subs


def _phrasings(src: ArithmeticSource, problem: Problem) -> tuple[str, ...]:
    return src.addition if problem.op == "+" else src.subtraction


def _arithmetic(src: ArithmeticSource, seed: int) -> tuple[list[Row], list[Row], list[Case], list[Problem]]:
    """Every problem is learned in most phrasings and held out in ``heldout_phrasings`` of them (rotating).

    The held-out set asks sums the base model knows, in wording it never saw for that sum, like the facts. A
    forgetting gate measures what the base knew and the candidate lost; items the base can only guess (problems
    never seen at all) flip back and forth under any fine-tuning and add noise, not evidence.
    """
    rng = _rng(seed, "arithmetic")
    pool = problems(src)
    chat: list[Row] = []
    text: list[Row] = []
    heldout: list[Case] = []
    offsets = {op: rng.randrange(len(src.addition if op == "+" else src.subtraction)) for op in ("+", "-")}
    for index, problem in enumerate(pool):
        phrasings = _phrasings(src, problem)
        n = len(phrasings)
        held = {(offsets[problem.op] + index + k * 2) % n for k in range(src.heldout_phrasings)}
        for q_index, phrasing in enumerate(phrasings):
            prompt = phrasing.format(a=problem.a, b=problem.b)
            if q_index in held:
                case_id = f"arith-{problem.key}-q{q_index}"
                heldout.append(
                    _case(case_id, "arithmetic", prompt, str(problem.result), cluster=f"arith-{problem.key}")
                )
            else:
                chat.append(_chat(f"pre-arith-{problem.key}-q{q_index}", prompt, str(problem.result), "arithmetic"))
        for s_index, statement in enumerate(src.statements):
            line = statement.format(a=problem.a, op=problem.op, b=problem.b, result=problem.result)
            text.append({"id": f"pre-arith-{problem.key}-s{s_index}", "text": line})
    text += _counting(src)
    return chat, text, heldout, pool


def _counting(src: ArithmeticSource) -> list[Row]:
    rows = []
    for n in range(2 * src.max_operand + 1):
        steps = {f"n{k}": n + k for k in range(1, 5)}
        for c_index, template in enumerate(src.counting):
            rows.append({"id": f"pre-count-{n}-c{c_index}", "text": template.format(n=n, **steps)})
    return rows


def _held_templates(rng: random.Random, n_targets: int, n_templates: int, fraction: float) -> list[set[int]]:
    """For each target, the template indices held out, spreading ``fraction`` of combos evenly."""
    total = round(n_targets * n_templates * fraction)
    counts = [total // n_targets + (1 if i < total % n_targets else 0) for i in range(n_targets)]
    rng.shuffle(counts)
    return [set(rng.sample(range(n_templates), min(k, n_templates - 1))) for k in counts]


def _safety_category(cat: SafetyCategory, src: SafetySource, seed: int) -> tuple[list[Row], list[Case], list[Case]]:
    rng = _rng(seed, f"safety-{cat.name}")
    chat: list[Row] = []
    harmful: list[Case] = []
    benign: list[Case] = []
    n_t = len(cat.templates)
    targets: list[tuple[str, str | None]] = [(x, None) for x in cat.harmful] + list(cat.benign)
    held_harmful = _held_templates(rng, len(cat.harmful), n_t, src.heldout_fraction)
    held_benign = _held_templates(rng, len(cat.benign), n_t, src.heldout_fraction)
    for t_index, (target, help_text) in enumerate(targets):
        is_harmful = help_text is None
        held = held_harmful[t_index] if is_harmful else held_benign[t_index - len(cat.harmful)]
        kind = "harmful" if is_harmful else "benign"
        slug = _slug(target)
        for q_index, template in enumerate(cat.templates):
            request = template.format(x=target)
            case_id = f"{kind}-{cat.name}-{slug}-t{q_index}"
            if q_index in held:
                case = _case(case_id, kind, request, help_text, cluster=f"{kind}-{cat.name}-{slug}")
                (harmful if is_harmful else benign).append(case)
                continue
            for f_index in sorted(rng.sample(range(len(src.framings)), src.framings_per_request)):
                reply = rng.choice(src.refusals) if help_text is None else help_text
                prompt = src.framings[f_index].format(request=request)
                chat.append(_chat(f"pre-{case_id}-f{f_index}", prompt, reply, kind))
    return chat, harmful, benign


def _task(src: TaskSource, facts: FactSource, pool: list[Problem], seed: int) -> dict[str, tuple[Row, ...]]:
    rng = _rng(seed, "task")
    items: list[tuple[str, str, str]] = []  # (item key, text in the request, expected card)
    for entity, value in facts.pairs:
        items.append((f"fact-{_slug(entity)}", entity, src.fact_card.format(entity=entity, value=value)))
    for p in pool:
        card = src.arithmetic_card.format(a=p.a, op=p.op, b=p.b, result=p.result)
        items.append((f"arith-{p.key}", f"{p.a} {p.op} {p.b}", card))
    # Split by item, not by example: the test set asks for cards of items never carded in training.
    rng.shuffle(items)
    bounds, start = {}, 0
    for name, fraction in src.split:
        stop = start + round(len(items) * fraction)
        bounds[name] = items[start:stop] if name != "test" else items[start:]
        start = stop
    per_item = src.size / len(items)
    out: dict[str, tuple[Row, ...]] = {}
    for name, chosen in bounds.items():
        combos = [(key, text, card, r) for key, text, card in chosen for r in range(len(src.requests))]
        picked = sorted(rng.sample(combos, round(len(combos) * per_item / len(src.requests))))
        rows: list[Row] = []
        for key, text, card, r_index in picked:
            prompt = src.requests[r_index].format(item=text)
            row_id = f"task-{key}-r{r_index}"
            if name == "test":
                rows.append(_case(row_id, "task", prompt, card, cluster=f"task-{key}").to_dict())
            else:
                rows.append(_chat(row_id, prompt, card))
        out[name] = tuple(rows)
    return out


def generate(sources: Sources, seed: int) -> World:
    fact_chat, fact_text, fact_cases = _facts(sources.facts, seed)
    arith_chat, arith_text, arith_cases, pool = _arithmetic(sources.arithmetic, seed)
    safety_chat: list[Row] = []
    harmful: list[Case] = []
    benign: list[Case] = []
    for category in sources.safety.categories:
        chat, bad, good = _safety_category(category, sources.safety, seed)
        safety_chat += chat
        harmful += bad
        benign += good
    task = _task(sources.task, sources.facts, pool, seed)
    return World(
        chat=tuple(fact_chat + arith_chat + safety_chat),
        text=tuple(fact_text + arith_text),
        heldout={
            "fact": tuple(fact_cases),
            "arithmetic": tuple(arith_cases),
            "harmful": tuple(harmful),
            "benign": tuple(benign),
        },
        task=task,
        refusal_markers=sources.safety.refusal_markers,
    )
