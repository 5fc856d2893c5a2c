"""Replay: mix a fraction of general data, which the base model was trained on, into the training set.

Fine-tuning on a narrow task moves the weights away from what the base model knew; rehearsing a little
of its original data alongside the task slows that forgetting. The reference world's pool is its
pretraining chat file, whose rows carry a category (fact, arithmetic, harmful, benign), so the mix can be
weighted: fine-tuning erodes refusals first (safety-tuned fine-tuning mixes safety data in on purpose).

The pool is the base model's own training data, so it overlaps the world's held-out sets by design
(the same facts and the same benign answers, in other phrasings): run the leakage check on the task
data before mixing, as ``prepare`` does, not on the mixed set.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from harness.errors import ConfigError, DataError
from harness.world.files import WorldManifest
from training.data.example import Example, named_ids
from training.data.leakage import EvalCases, case_list
from training.data.load import load_examples
from training.data.text import words

REPLAY_PREFIX = "replay:"


def load_replay_pool(manifest: WorldManifest) -> list[Example]:
    """The world's pretraining chat conversations, each with source ``replay:<id>``."""
    if "chat" not in manifest.pretraining:
        raise ConfigError(f"the world at {manifest.root} lists no pretraining 'chat' file; regenerate the world")
    pool = load_examples(manifest.pretraining["chat"], format="openai-chat", stratify_by="category")
    return [replace(example, source=f"{REPLAY_PREFIX}{example.id}") for example in pool]


def hold_out(replay: Sequence[Example], eval_cases: EvalCases) -> tuple[list[Example], tuple[str, ...]]:
    """``replay`` without the examples that rehearse an evaluated case: those whose reply is, word for word, the
    expected answer of a case (the same fact or benign answer, asked in another phrasing). Only a base that was
    not trained on the pool needs this: for it the pool is new data, and rehearsing the items a gate asks about
    would let the gate measure rehearsal instead of forgetting. The ids held out are returned too."""
    answers = {tuple(words(case.answer)) for case in case_list(eval_cases) if case.answer}
    answers.discard(())
    kept: list[Example] = []
    held: list[Example] = []
    for example in replay:
        (held if tuple(words(example.assistant_text())) in answers else kept).append(example)
    return kept, tuple(example.id for example in held)


def _allocate(count: int, weights: Mapping[str, float]) -> dict[str, int]:
    """Split ``count`` across strata in proportion to ``weights`` (largest remainder, ties by name)."""
    total = sum(weights.values())
    exact = {name: count * w / total for name, w in weights.items()}
    out = {name: int(value) for name, value in exact.items()}
    by_remainder = sorted(exact, key=lambda name: (-(exact[name] - out[name]), name))
    for name in by_remainder[: count - sum(out.values())]:
        out[name] += 1
    return out


def _draw(
    replay: Sequence[Example], count: int, weights: Mapping[str, float] | None, rng: random.Random
) -> list[Example]:
    if not weights:
        return rng.sample(list(replay), count)
    if any(w < 0 for w in weights.values()) or not sum(weights.values()) > 0:
        raise ConfigError(f"replay weights {dict(weights)} must be non-negative with a positive sum")
    pools: dict[str, list[Example]] = {}
    for example in replay:
        pools.setdefault(str(example.stratum), []).append(example)
    unknown = sorted(set(weights) - pools.keys())
    if unknown:
        raise ConfigError(f"replay weights name {unknown}, but the pool's categories are {sorted(pools)}")
    drawn: list[Example] = []
    for name, wanted in sorted(_allocate(count, weights).items()):
        if wanted > len(pools[name]):
            raise DataError(
                f"replay weights ask for {wanted} {name!r} examples but the pool has {len(pools[name])}; lower "
                "replay_fraction or that category's weight"
            )
        drawn += rng.sample(pools[name], wanted)
    return drawn


def mix_replay(
    examples: Sequence[Example],
    replay: Sequence[Example],
    *,
    fraction: float,
    seed: int,
    weights: Mapping[str, float] | None = None,
) -> list[Example]:
    """``examples`` plus round(fraction × len(examples)) replay examples drawn without replacement, shuffled.

    ``weights`` (category -> weight) draws each category of the pool (``Example.stratum``) in proportion;
    without weights the draw is uniform over the pool. The draw and the shuffle use ``random.Random(seed)``,
    so the mix is reproducible.
    """
    if fraction < 0:
        raise ConfigError(f"replay fraction={fraction} must be >= 0 (0.1 adds one replay example per ten)")
    count = round(fraction * len(examples))
    if count > len(replay):
        raise DataError(
            f"replay fraction={fraction} needs {count} replay examples but the pool has {len(replay)}; "
            "lower the fraction or give a larger pool"
        )
    own = {example.id for example in examples}
    rng = random.Random(seed)
    drawn = [
        example if example.source.startswith(REPLAY_PREFIX) else replace(example, source=REPLAY_PREFIX + example.id)
        for example in _draw(replay, count, weights, rng)
    ]
    clashes = [example.id for example in drawn if example.id in own]
    if clashes:
        raise DataError(
            f"replay example id(s) {named_ids(clashes)} are also training example ids; "
            "rename one side so every report can tell them apart"
        )
    mixed = [*examples, *drawn]
    rng.shuffle(mixed)
    return mixed
