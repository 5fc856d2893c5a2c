"""The whole pipeline in one call, for the trainer: load, scrub, validate, deduplicate, check leakage,
split, mix replay. Each step stays callable on its own; this only fixes their order and keeps every report.

The order matters. PII is scrubbed before anything else sees the text. Validation errors stop the run
before any work is wasted. Duplicates are removed across training and validation files together,
training first, so a validation copy of a training example is what goes (it would flatter validation
loss). Leakage is checked on the task data only, before replay is mixed in: the replay pool is the base
model's own pretraining data and overlaps the held-out sets by design. Replay goes into the training
split only, so validation loss keeps measuring the task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError
from training.data.dedup import deduplicate
from training.data.example import Example, named_ids
from training.data.leakage import EvalCases, check_leakage
from training.data.load import load_examples
from training.data.pii import PIIReport, scrub_pii
from training.data.replay import hold_out, mix_replay
from training.data.split import split
from training.data.validate import ValidationReport, validate


@dataclass(frozen=True)
class PreparedData:
    train: tuple[Example, ...]  # replay included
    validation: tuple[Example, ...]
    pii: PIIReport
    report: ValidationReport  # of the scrubbed task data, before deduplication
    duplicates_removed: dict[str, list[str]]  # kept id -> removed ids
    n_replay: int
    leakage_n: int
    leakage_checked: bool = True
    replay_dropped: tuple[str, ...] = ()  # replay examples whose base reply did not finish (replay_replies: base)
    replay_held_out: tuple[str, ...] = ()  # pool examples not drawn: they rehearse an evaluated case (replay_holdout)
    replay_answered: tuple[tuple[str, int, int], ...] = ()  # (category, answered by the base, dropped unfinished)

    def _lopsided_drops(self) -> list[str]:
        """A warning per category that lost most of its replay to unfinished replies: the mix is then not the one
        the weights asked for (a verbose base drops long how-to answers first)."""
        return [
            f"WARNING: replay {category}: {dropped} of {answered} base replies did not finish and were dropped; "
            "raise data.replay_reply_tokens, or keep the pool's replies for it (data.replay_keep)"
            for category, answered, dropped in self.replay_answered
            if dropped * 2 > answered
        ]

    def format(self) -> str:
        removed = sum(len(ids) for ids in self.duplicates_removed.values())
        return "\n".join(
            [
                self.report.format(),
                self.pii.format(),
                f"duplicates removed: {removed}",
                f"leakage: no {self.leakage_n}-word overlap with the evaluation cases"
                if self.leakage_checked
                else "leakage: NOT checked (data.leakage_suites is empty: name the gating suites to check against)",
                f"split: {len(self.train)} train ({self.n_replay} of them replay) / {len(self.validation)} validation",
                *(
                    [f"replay: {len(self.replay_held_out)} pool examples held out (they rehearse evaluated cases)"]
                    if self.replay_held_out
                    else []
                ),
                *(
                    [f"replay answered by the base model: {len(self.replay_dropped)} unfinished replies dropped"]
                    if self.replay_dropped
                    else []
                ),
                *self._lopsided_drops(),
            ]
        )


def _check_unique_ids(examples: Sequence[Example]) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for example in examples:
        if example.id in seen:
            clashes.append(f"{example.id} ({seen[example.id]} and {example.source})")
        seen.setdefault(example.id, example.source)
    if clashes:
        raise DataError(f"example ids used twice across the files: {named_ids(clashes)}; make the ids unique")


def prepare(
    train_path: Path | Sequence[Path],
    tokenizer: Any,
    *,
    max_length: int,
    eval_cases: EvalCases,
    validation_path: Path | None = None,
    validation_fraction: float = 0.1,
    format: str = "auto",
    stratify_by: str | None = None,
    replay: Sequence[Example] = (),
    replay_fraction: float = 0.0,
    replay_weights: Mapping[str, float] | None = None,
    replay_holdout: bool = False,
    seed: int = 0,
    near_threshold: float | None = 0.9,
    leakage_n: int = 8,
) -> PreparedData:
    """Run every step and return the training and validation examples with the reports.

    ``train_path`` may be several files, read in order and trained on together (ids unique across them).
    Without ``validation_path`` the training file is split (stratified when ``stratify_by`` is given).
    With ``replay_holdout`` the pool's examples that rehearse an evaluated case are not drawn (``hold_out``).
    Raises DataError on validation errors or leakage, naming the examples.
    """
    paths = [train_path] if isinstance(train_path, Path) else list(train_path)
    train = [e for path in paths for e in load_examples(path, format=format, stratify_by=stratify_by)]
    given = [] if validation_path is None else load_examples(validation_path, format=format, stratify_by=stratify_by)
    _check_unique_ids([*train, *given])
    scrubbed, pii = scrub_pii([*train, *given])
    # near_threshold=None turns near-duplicate removal off, not the report of them
    report = validate(scrubbed, tokenizer, max_length=max_length, near_threshold=near_threshold or 0.9)
    if report.errors:
        raise DataError(f"the training data has errors; fix them and run again:\n{report.format()}")
    kept, removed = deduplicate(scrubbed, near_threshold=near_threshold)
    check_leakage(kept, eval_cases, n=leakage_n)
    kept_ids = {example.id for example in kept}
    loaded = len(train)
    train = [e for e in scrubbed[:loaded] if e.id in kept_ids]
    validation = [e for e in scrubbed[loaded:] if e.id in kept_ids]
    if not given:
        fractions = {"train": 1 - validation_fraction, "validation": validation_fraction}
        parts = split(train, fractions, seed=seed, stratify=stratify_by is not None)
        train, validation = parts["train"], parts["validation"]
    for part, rows in (("training", train), ("validation", validation)):
        if not rows:
            raise DataError(
                f"the {part} set is empty after deduplication and splitting: add data, or lower "
                "data.validation_fraction / set data.near_duplicate_threshold to null"
            )
    n_task = len(train)
    held: tuple[str, ...] = ()
    if replay_holdout:
        replay, held = hold_out(replay, eval_cases)
    if replay_fraction:
        train = mix_replay(train, replay, fraction=replay_fraction, seed=seed, weights=replay_weights)
    return PreparedData(
        train=tuple(train),
        validation=tuple(validation),
        pii=pii,
        report=report,
        duplicates_removed=removed,
        n_replay=len(train) - n_task,
        leakage_n=leakage_n,
        leakage_checked=bool(eval_cases),
        replay_held_out=held,
    )
