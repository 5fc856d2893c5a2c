"""Word-level text normalisation shared by duplicate, repetition and leakage checks.

Tokens are lowercase runs of letters and digits, plus arithmetic operators as tokens of their own.
Punctuation is dropped so "Paris." and "paris" match, but operators are kept: with them stripped,
"14 - 3" and "14 + 3" would normalise to the same words and look like copies of each other.
"""

from __future__ import annotations

import re

_TOKEN = re.compile(r"[^\W_]+|[+\-*/=×÷^<>%]")


def words(text: str) -> list[str]:
    """Normalised word tokens of ``text``."""
    return _TOKEN.findall(text.lower())


def shingles(tokens: list[str], size: int) -> set[tuple[str, ...]]:
    """Contiguous ``size``-grams of ``tokens``; a text shorter than ``size`` is one shingle of itself."""
    if len(tokens) < size:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}
