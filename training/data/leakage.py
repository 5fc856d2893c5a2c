"""Refuse to train on the gating suites' evaluation items: word n-gram overlap with their cases.

Text is compared as normalised words (``text.words``: lowercase, punctuation dropped, arithmetic
operators kept). A training example leaks an evaluation case when any one of its turns

- shares an n-gram (n = 8 by default) with the case's prompt followed by its answer, or
- contains the case's whole prompt contiguously, when the prompt has fewer than n words (short prompts
  such as "Which city is the capital of France?" have no 8-gram at all). Prompts of one or two words
  ("Hello?") would match nearly any text, so they leak only when a turn is exactly that prompt.

Only the prompt (the last user turn) and the answer are indexed: earlier turns of a case are usually a
shared system prompt or few-shot preamble, which would flag every example that uses the same preamble.
The case n-grams go into one dict, so the check costs a look-up per window of training text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from harness.cases import Case, read_cases
from harness.errors import ConfigError, DataError
from harness.world.files import WorldManifest
from training.data.example import MAX_NAMED, Example
from training.data.text import words

MIN_CONTAINED_WORDS = 3
EvalCases = Sequence[Case] | Mapping[str, Sequence[Case]]  # cases, or cases by the file they came from
Gram = tuple[str, ...]


@dataclass(frozen=True)
class Leak:
    example_id: str
    case_id: str
    case_file: str
    overlap: str  # the shared text, as normalised words


def world_eval_cases(manifest: WorldManifest) -> dict[str, list[Case]]:
    """The reference world's held-out cases (every gating category, the task's test set among them) by file."""
    return {str(path): read_cases(path) for path in dict.fromkeys(manifest.heldout.values())}


def _labelled(eval_cases: EvalCases) -> list[tuple[str, Case]]:
    if isinstance(eval_cases, Mapping):
        return [(str(file), case) for file, cases in eval_cases.items() for case in cases]
    # A bare Case does not know its file; a "file" entry in meta is used when the caller put one there.
    return [(str(case.meta.get("file", f"<{case.category} cases>")), case) for case in eval_cases]


def case_list(eval_cases: EvalCases) -> list[Case]:
    """Every evaluation case, whichever file it came from."""
    return [case for _, case in _labelled(eval_cases)]


class _Index:
    """The evaluation cases' n-grams, short prompts and very short prompts, each mapped to case numbers."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.grams: defaultdict[Gram, list[int]] = defaultdict(list)
        self.contained: defaultdict[int, defaultdict[Gram, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.whole: defaultdict[Gram, list[int]] = defaultdict(list)

    def add(self, number: int, case: Case) -> None:
        prompt = words(case.prompt)
        sequence = prompt + words(case.answer or "")
        for i in range(len(sequence) - self.n + 1):
            self.grams[tuple(sequence[i : i + self.n])].append(number)
        if MIN_CONTAINED_WORDS <= len(prompt) < self.n:
            self.contained[len(prompt)][tuple(prompt)].append(number)
        elif 0 < len(prompt) < MIN_CONTAINED_WORDS:
            self.whole[tuple(prompt)].append(number)

    def hits(self, tokens: list[str]) -> dict[int, str]:
        """Case number -> the longest text of ``tokens`` it shares, for every case the tokens leak."""
        spans: dict[int, tuple[int, int]] = {}

        def record(number: int, start: int, end: int) -> None:
            old = spans.get(number)
            if old is None or end - start > old[1] - old[0]:
                spans[number] = (start, end)

        runs: dict[int, tuple[int, int]] = {}  # case -> (first window, last window) of the current run
        for i in range(len(tokens) - self.n + 1):
            for number in self.grams.get(tuple(tokens[i : i + self.n]), ()):
                first, last = runs.get(number, (i, i - 1))
                runs[number] = (first, i) if last == i - 1 else (i, i)
                record(number, runs[number][0], i + self.n)
        for length, prompts in self.contained.items():
            for i in range(len(tokens) - length + 1):
                for number in prompts.get(tuple(tokens[i : i + length]), ()):
                    record(number, i, i + length)
        for number in self.whole.get(tuple(tokens), ()):
            record(number, 0, len(tokens))
        return {number: " ".join(tokens[start:end]) for number, (start, end) in spans.items()}


def find_leaks(examples: Sequence[Example], eval_cases: EvalCases, *, n: int = 8) -> list[Leak]:
    """Every (training example, evaluation case) pair that overlaps, with the longest shared text."""
    if n < 1:
        raise ConfigError(f"leakage n={n} must be a positive number of words; 8 is the usual choice")
    labelled = _labelled(eval_cases)
    index = _Index(n)
    for number, (_, case) in enumerate(labelled):
        index.add(number, case)
    leaks: list[Leak] = []
    for example in examples:
        found: dict[int, str] = {}
        for _, content in example.messages:
            for number, overlap in index.hits(words(content)).items():
                if len(overlap) > len(found.get(number, "")):
                    found[number] = overlap
        for number in sorted(found):
            file, case = labelled[number]
            leaks.append(Leak(example_id=example.id, case_id=case.id, case_file=file, overlap=found[number]))
    return leaks


def check_leakage(examples: Sequence[Example], eval_cases: EvalCases, *, n: int = 8) -> None:
    """Raise a DataError naming the leaked examples and the evaluation cases they copy, if there are any."""
    leaks = find_leaks(examples, eval_cases, n=n)
    if not leaks:
        return
    leaked = sorted({leak.example_id for leak in leaks})
    shown = "\n".join(
        f"  {leak.example_id} -> {leak.case_id} ({leak.case_file}): {leak.overlap!r}" for leak in leaks[:MAX_NAMED]
    )
    more = f"\n  ... and {len(leaks) - MAX_NAMED} more" if len(leaks) > MAX_NAMED else ""
    raise DataError(
        f"{len(leaked)} training example(s) overlap the gating suites' evaluation cases ({len(leaks)} pair(s), "
        f"{n}-word overlap):\n{shown}{more}\n"
        "Training on evaluation items makes the gate measure memory, not skill: remove these examples."
    )
