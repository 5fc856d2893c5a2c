"""The three row formats a training file may use, their detection, and their conversion to messages.

- ``openai-chat``: ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``
- ``sharegpt``: ``{"conversations": [{"from": "system"|"human"|"gpt", "value": str}, ...]}``
  ("user" and "assistant" are accepted as aliases of "human" and "gpt", as some exports write them)
- ``alpaca``: ``{"instruction": str, "input": str (optional), "output": str, "system": str (optional)}``;
  the user turn is the instruction, followed by a blank line and the input when the input is not empty
  (the join the Alpaca recipe itself uses)
- ``prompt-response``: ``{"prompt": str, "response": str, "system": str (optional)}``, the natural shape of
  a two-column CSV

Detection looks at the keys of a row only, never at the values, so a typo in a value is reported as such
instead of silently switching format.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.errors import ConfigError, DataError

# format -> keys a row must have; the order is the detection order.
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "openai-chat": ("messages",),
    "sharegpt": ("conversations",),
    "alpaca": ("instruction", "output"),
    "prompt-response": ("prompt", "response"),
}
FORMATS = ("auto", *REQUIRED_KEYS)
SHAREGPT_ROLES = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}

Messages = tuple[tuple[str, str], ...]


def check_format(name: str) -> None:
    if name not in FORMATS:
        raise ConfigError(f"unknown data format {name!r}; use one of {list(FORMATS)}")


def _describe_formats() -> str:
    return "; ".join(f"{name} needs {list(keys)}" for name, keys in REQUIRED_KEYS.items())


def detect_format(row: Mapping[str, Any], *, where: str) -> str:
    """The one format whose required keys ``row`` has; an error naming the keys if none or several match."""
    matches = [name for name, keys in REQUIRED_KEYS.items() if all(row.get(key) is not None for key in keys)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DataError(
            f"{where}: row is in no known format (it has keys {sorted(row)}); {_describe_formats()}. "
            "Rename the fields, or convert the file to one of these formats"
        )
    raise DataError(
        f"{where}: row matches several formats {matches} (keys {sorted(row)}); "
        "pass format=... explicitly or drop the extra fields"
    )


def _text(value: Any, *, where: str, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: field {field!r} is {type(value).__name__}, not a string; make it text")
    return value


def _turns(value: Any, *, where: str, field: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(turn, Mapping) for turn in value):
        raise DataError(f"{where}: field {field!r} must be a list of objects, got {type(value).__name__}")
    return value


def _openai_chat(row: Mapping[str, Any], where: str) -> Messages:
    messages = []
    for index, turn in enumerate(_turns(row["messages"], where=where, field="messages")):
        field = f"messages[{index}]"
        role = turn.get("role")
        if role not in ("system", "user", "assistant"):
            raise DataError(f"{where}: {field}.role is {role!r}; use 'system', 'user' or 'assistant'")
        messages.append((role, _text(turn.get("content"), where=where, field=f"{field}.content")))
    return tuple(messages)


def _sharegpt(row: Mapping[str, Any], where: str) -> Messages:
    messages = []
    for index, turn in enumerate(_turns(row["conversations"], where=where, field="conversations")):
        field = f"conversations[{index}]"
        speaker = turn.get("from")
        if speaker not in SHAREGPT_ROLES:
            raise DataError(f"{where}: {field}.from is {speaker!r}; use one of {sorted(SHAREGPT_ROLES)}")
        messages.append((SHAREGPT_ROLES[speaker], _text(turn.get("value"), where=where, field=f"{field}.value")))
    return tuple(messages)


def _with_system(row: Mapping[str, Any], where: str, user: str, reply: str) -> Messages:
    system = row.get("system")
    head = () if system in (None, "") else (("system", _text(system, where=where, field="system")),)
    return (*head, ("user", user), ("assistant", reply))


def _alpaca(row: Mapping[str, Any], where: str) -> Messages:
    instruction = _text(row["instruction"], where=where, field="instruction")
    extra = row.get("input")
    extra = "" if extra is None else _text(extra, where=where, field="input")
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    return _with_system(row, where, user, _text(row["output"], where=where, field="output"))


def _prompt_response(row: Mapping[str, Any], where: str) -> Messages:
    prompt = _text(row["prompt"], where=where, field="prompt")
    return _with_system(row, where, prompt, _text(row["response"], where=where, field="response"))


_CONVERTERS = {
    "openai-chat": _openai_chat,
    "sharegpt": _sharegpt,
    "alpaca": _alpaca,
    "prompt-response": _prompt_response,
}


def to_messages(row: Any, fmt: str, *, where: str) -> Messages:
    """Convert one row in format ``fmt`` to (role, content) pairs; errors name ``where`` and the field."""
    if not isinstance(row, Mapping):
        raise DataError(f"{where}: expected an object (one example per row), got {type(row).__name__}")
    missing = [key for key in REQUIRED_KEYS[fmt] if row.get(key) is None]
    if missing:
        raise DataError(
            f"{where}: row has keys {sorted(row)} but format {fmt!r} needs {list(REQUIRED_KEYS[fmt])} "
            f"(missing {missing}); every row of a file must use the same format"
        )
    return _CONVERTERS[fmt](row, where)
