"""Which files are gating suites. One rule, read by the pytest plugin (what becomes gate items), by promotion
(which suites a run must have covered) and by the training leakage check (whose cases must not be trained on):

    a ``test_*.yaml`` / ``test_*.yml`` file that declares a top-level ``gates:`` key, a ``test_*`` YAML file
    under a directory named by the ``harness_suites`` ini option, or a YAML file that option names itself.

Any other ``test_*.yml`` (a pytest-regressions data file, say) is left to other plugins. The check reads the
text, not the YAML: a suite with a syntax error still declares ``gates:`` and is collected, so it fails with
its parse error instead of silently dropping out of the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

SUFFIXES = (".yaml", ".yml")
_GATES_KEY = re.compile(r"""^(gates|"gates"|'gates')[ \t]*:""", re.MULTILINE)


def _named(path: Path, named: Sequence[Path]) -> tuple[bool, bool]:
    """(``path`` is one of ``named``, ``path`` lies under one of them), paths compared resolved."""
    resolved = path.resolve()
    targets = [p.resolve() for p in named]
    return resolved in targets, any(t in resolved.parents for t in targets)


def declares_gates(path: Path) -> bool:
    """Whether the file has a top-level ``gates:`` key (unreadable files do not)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return _GATES_KEY.search(text) is not None


def is_suite_file(path: Path, named: Sequence[Path] = ()) -> bool:
    """The rule above; ``named`` are the ``harness_suites`` paths."""
    if path.suffix not in SUFFIXES:
        return False
    itself, under = _named(path, named) if named else (False, False)
    if itself:
        return True
    return path.name.startswith("test_") and (under or declares_gates(path))


def suite_paths(locations: Iterable[Path]) -> list[Path]:
    """Suite files at these locations: a file as given (it was named), a directory searched with the rule."""
    out: list[Path] = []
    for location in locations:
        if location.is_dir():
            found = (p for suffix in SUFFIXES for p in location.rglob(f"test_*{suffix}"))
            out += sorted(p for p in found if p.is_file() and is_suite_file(p))
        else:
            out.append(location)
    return out
