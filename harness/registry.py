"""The model registry: aliases (base, candidate, production, any user alias) over model directories.

The append-only ``history.jsonl`` is the only record: an alias's current target is derived by replaying it
(``set`` pushes a target, ``rollback`` pops one), so the audit log and the state can never disagree. Every
write happens under a file lock, so concurrent writers lose nothing.
"""

from __future__ import annotations

import getpass
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock

from harness.errors import RegistryError
from harness.home import harness_home

RESERVED = ("base", "candidate", "production")
_ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


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
    if not _ALIAS.match(alias):
        raise RegistryError(
            f"alias {alias!r} is not valid: use lowercase letters, digits, '-' or '_', starting with a letter"
        )
    return alias


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

    def history(self, alias: str | None = None) -> list[Event]:
        if not self.history_path.is_file():
            return []
        events = [Event(**json.loads(line)) for line in self.history_path.read_text().splitlines() if line]
        return [e for e in events if alias is None or e.alias == alias]

    def _stacks(self) -> dict[str, list[Event]]:
        stacks: dict[str, list[Event]] = {}
        for event in self.history():
            stack = stacks.setdefault(event.alias, [])
            if event.action == "rollback":
                stack.pop()
            else:
                stack.append(event)
        return {alias: stack for alias, stack in stacks.items() if stack}

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
        with self.history_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(event)) + "\n")
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
