"""The normalised training conversation every step of the pipeline works on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.cases import ROLES
from harness.errors import DataError

MAX_NAMED = 20  # error messages name this many items, then say how many more there are


@dataclass(frozen=True)
class Example:
    """One training conversation.

    ``messages`` are (role, content) pairs with roles system/user/assistant, ending with an assistant turn
    (the reply the loss is computed on). ``source`` says where it came from ("train.jsonl:12", "replay:<id>"),
    so every report can point back at the line to fix. ``stratum`` groups examples for stratified splits.
    """

    id: str
    messages: tuple[tuple[str, str], ...]
    source: str
    stratum: str | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise DataError(f"{self.source}: an example has an empty id; give every row a unique, non-empty 'id'")
        if not self.messages:
            raise DataError(f"{self.source} (example {self.id!r}): no messages; add a user and an assistant turn")
        for index, (role, content) in enumerate(self.messages):
            if role not in ROLES:
                raise DataError(
                    f"{self.source} (example {self.id!r}): message {index} has role {role!r}; use one of {ROLES}"
                )
            if not isinstance(content, str):
                raise DataError(
                    f"{self.source} (example {self.id!r}): message {index} content is {type(content).__name__}, "
                    "not a string; give every turn text content"
                )
        if self.messages[-1][0] != "assistant":
            raise DataError(
                f"{self.source} (example {self.id!r}): the last turn is {self.messages[-1][0]!r}; a training "
                "conversation must end with the assistant reply the model learns (drop trailing turns or add it)"
            )

    def chat(self) -> list[dict[str, str]]:
        """The messages as chat-template input: ``[{"role": ..., "content": ...}, ...]``."""
        return [{"role": role, "content": content} for role, content in self.messages]

    def assistant_text(self) -> str:
        """Every assistant turn, one per line: the text the loss is computed on."""
        return "\n".join(content for role, content in self.messages if role == "assistant")

    def text(self) -> str:
        """Every turn, one per line with its role: what duplicate detection compares."""
        return "\n".join(f"{role}: {content}" for role, content in self.messages)


def named_ids(ids: Sequence[str], limit: int = MAX_NAMED) -> str:
    """``'a', 'b', 'c' and 4 more``: the ids an error message names."""
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(repr(i) for i in ids[:limit]) + more
