"""The model registry: aliases (base, candidate, production, any user alias) over model directories.

The append-only ``history.jsonl`` is the only record: an alias's current target is derived by replaying it
(``set`` pushes a target, ``rollback`` pops one), so the audit log and the state can never disagree. Every
write happens under a file lock, so concurrent writers lose nothing.

A line that cannot be read (torn by a crash, edited by hand) stops every command, naming the line: skipping it
could silently move an alias (a skipped rollback re-exposes the model it rolled back), and this file is the
only record of which model is production. ``harness registry repair`` moves such lines aside, and says so.
"""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from harness.errors import RegistryError
from harness.home import harness_home
from harness.paths import write_atomic

RESERVED = ("base", "candidate", "production")
_ALIAS = re.compile(r"[a-z][a-z0-9_-]{0,63}")  # matched with fullmatch: "$" would let a trailing newline in
ACTIONS = ("set", "rollback")


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    user: str
    action: str  # "set" | "rollback"
    alias: str
    path: str
    content_hash: str | None
    reason: str
    previous: str | None


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise RegistryError(
            f"alias {alias!r} is not valid: use 1 to 64 lowercase letters, digits, '-' or '_', starting with a "
            "letter (no spaces or control characters)"
        )
    return alias


_FIELDS = {f.name: f.type for f in fields(Event)}


def _event(line: str) -> Event:
    """One history line as an Event; ValueError says what is wrong with it."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"expected a JSON object, got {type(raw).__name__}")
    missing = sorted(_FIELDS.keys() - raw.keys())
    unknown = sorted(raw.keys() - _FIELDS.keys())
    if missing or unknown:
        raise ValueError(f"missing keys {missing}" if missing else f"unknown keys {unknown}")
    if not isinstance(raw["seq"], int) or isinstance(raw["seq"], bool):
        raise ValueError(f"seq {raw['seq']!r} is not a whole number")
    if raw["action"] not in ACTIONS:
        raise ValueError(f"action {raw['action']!r} is not valid (one of {', '.join(ACTIONS)})")
    if not all(isinstance(raw[k], str) for k in ("time", "user", "alias", "path", "reason")):
        raise ValueError("time, user, alias, path and reason must be text")
    if not all(raw[k] is None or isinstance(raw[k], str) for k in ("content_hash", "previous")):
        raise ValueError("content_hash and previous must be text or null")
    if not _ALIAS.fullmatch(raw["alias"]):
        raise ValueError(f"alias {raw['alias']!r} is not valid")
    return Event(**raw)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


class Registry:
    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else harness_home() / "registry"
        self.root.mkdir(parents=True, exist_ok=True)
        self.history_path = self.root / "history.jsonl"
        self._lock = FileLock(str(self.root / "registry.lock"), timeout=60)

    def _lines(self) -> list[tuple[int, str]]:
        if not self.history_path.is_file():
            return []
        data = self.history_path.read_bytes().decode("utf-8", errors="replace")
        return [(number, line) for number, line in enumerate(data.splitlines(), start=1) if line.strip()]

    def _unreadable(self, number: int, why: str) -> RegistryError:
        return RegistryError(
            f"{self.history_path}:{number} cannot be read ({why}): the registry history is the only record of "
            "every alias, so nothing is derived from a damaged one; run `harness registry repair` to move the "
            "unreadable line(s) aside (then check `harness registry list`), or fix the line by hand"
        )

    def history(self, alias: str | None = None) -> list[Event]:
        events = []
        for number, line in self._lines():
            try:
                events.append(_event(line))
            except ValueError as exc:
                raise self._unreadable(number, str(exc)) from None
        return [e for e in events if alias is None or e.alias == alias]

    def _stacks(self) -> dict[str, list[Event]]:
        stacks: dict[str, list[Event]] = {}
        for event in self.history():
            stack = stacks.setdefault(event.alias, [])
            if event.action == "rollback":
                if not stack:
                    raise RegistryError(
                        f"{self.history_path}: event #{event.seq} rolls back alias {event.alias!r}, which has no "
                        "target at that point: the history was edited; restore it from a backup"
                    )
                stack.pop()
            else:
                stack.append(event)
        return {alias: stack for alias, stack in stacks.items() if stack}

    def repair(self) -> tuple[Path | None, list[int]]:
        """Move unreadable history lines to ``history.rejected.jsonl``; returns that file and the line numbers."""
        with self._lock:
            kept, rejected = [], []
            for number, line in self._lines():
                try:
                    _event(line)
                    kept.append(line)
                except ValueError:
                    rejected.append((number, line))
            if not rejected:
                return None, []
            aside = self.root / "history.rejected.jsonl"
            with aside.open("a", encoding="utf-8") as handle:
                handle.writelines(f"{line}\n" for _, line in rejected)
            write_atomic(self.history_path, "".join(f"{line}\n" for line in kept))
            return aside, [number for number, _ in rejected]

    def aliases(self) -> dict[str, Event]:
        """Each registered alias and the event that set its current target."""
        return {alias: stack[-1] for alias, stack in sorted(self._stacks().items())}

    def get(self, alias: str) -> Event | None:
        return self.aliases().get(alias)

    def require(self, alias: str) -> Event:
        event = self.get(alias)
        if event is None:
            known = ", ".join(self.aliases()) or "none"
            hint = {
                "base": "run `harness world build` to build and register the reference base model",
                "candidate": "run `harness train CONFIG.yaml` to train and register a candidate",
                "production": "promote a candidate that passed its gates (`harness promote candidate --to production`)",
            }.get(alias, f"register it with `harness registry set {alias} PATH`")
            raise RegistryError(f"alias {alias!r} is not registered (registered: {known}): {hint}")
        return event

    def _append(self, event: Event) -> Event:
        with self.history_path.open("ab") as handle:
            if handle.tell() > 0:  # a crash mid-line must not glue this event onto the torn one
                with self.history_path.open("rb") as reader:
                    reader.seek(-1, 2)
                    if reader.read(1) != b"\n":
                        handle.write(b"\n")
            handle.write((json.dumps(asdict(event)) + "\n").encode("utf-8"))
        return event

    def set(self, alias: str, path: Path | str, *, content_hash: str | None, reason: str) -> Event:
        check_alias(alias)
        with self._lock:
            current = self.get(alias)
            return self._append(
                Event(
                    seq=len(self.history()) + 1,
                    time=datetime.now(UTC).isoformat(timespec="seconds"),
                    user=_user(),
                    action="set",
                    alias=alias,
                    path=str(path),
                    content_hash=content_hash,
                    reason=reason,
                    previous=current.path if current else None,
                )
            )

    def rollback(self, alias: str, *, reason: str) -> Event:
        """Move ``alias`` back to the target it had before its current one."""
        with self._lock:
            stack = self._stacks().get(alias, [])
            if len(stack) < 2:
                raise RegistryError(
                    f"alias {alias!r} has no earlier target to roll back to "
                    f"({len(stack)} target(s) in its history): see `harness registry history {alias}`"
                )
            back_to = stack[-2]
            self._append(
                Event(
                    seq=len(self.history()) + 1,
                    time=datetime.now(UTC).isoformat(timespec="seconds"),
                    user=_user(),
                    action="rollback",
                    alias=alias,
                    path=back_to.path,
                    content_hash=back_to.content_hash,
                    reason=reason,
                    previous=stack[-1].path,
                )
            )
            return back_to
