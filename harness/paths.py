"""File names and writes under a run or cache directory: one sanitiser and one atomic write for the package.

:func:`safe_component` turns any name (a gate, a suite, an lm-eval task) into one path component that can
neither leave its directory nor collide with another name's component; :func:`write_atomic` makes readers
see the old file or the whole new one, never half of it.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

# Kept as is: lowercase (case-insensitive file systems fold case), starts with a letter or digit (never "."
# or ".."), at most 80 characters. Anything else gets the sanitised form plus "+" and a hash of the exact
# name; "+" never survives sanitising, so a kept name can never equal a hashed one.
_KEPT = re.compile(r"[a-z0-9][a-z0-9_.-]{0,79}")


def safe_component(name: str) -> str:
    """One file-name component for ``name``; different names always give different components."""
    if _KEPT.fullmatch(name):
        return name
    cleaned = "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in name.lower())
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{cleaned.lstrip('.')[:60]}+{digest}"


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same directory and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
