"""Replace personal data in training text with placeholders, and count what was replaced.

Patterns, applied in this order so a longer match is never split by a shorter one:

- ``[EMAIL]``: ``local@domain.tld`` (letters, digits and ``._%+-`` before the ``@``, a dotted domain after).
- ``[CARD]``: 13-19 digits written contiguously, in groups of four (``4111 1111 1111 1111``, last group
  1-4 digits, optional fifth group of 3) or in Amex's 4-6-5 grouping, separated by one space or hyphen
  used consistently; the digits must pass the Luhn checksum, which 9 in 10 random numbers fail, so
  order numbers, timestamps and sums are left alone.
- ``[SSN]``: US social security numbers in the dashed form ``123-45-6789``, excluding the never-issued
  area numbers 000, 666 and 9xx. Undashed nine-digit numbers are not matched: they are too often
  something else.
- ``[PHONE]``: North American numbers ``(555) 123-4567``, ``555-123-4567``, ``555.123.4567``, ``555 123 4567``,
  optionally with a ``+1`` prefix; and international numbers written with a leading ``+`` and 8-15 digits in groups
  (``+44 20 7946 0958``).

Every pattern refuses to start or end next to another digit, and none matches digits separated by
spaced operators, so arithmetic such as ``7 + 5 = 12`` or ``20 - 3`` is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from training.data.example import Example

EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD = re.compile(
    r"(?<![\d-])(?:"
    r"\d{13,19}"
    r"|\d{4}(?P<sep>[ -])\d{4}(?P=sep)\d{4}(?P=sep)\d{1,4}(?:(?P=sep)\d{3})?"
    r"|\d{4}(?P<amex>[ -])\d{6}(?P=amex)\d{5}"
    r")(?![\d-])"
)
SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
PHONE = re.compile(
    r"(?<![\w+-])(?:"
    r"(?:\+1[ .-]?)?(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}"
    r"|\+\d{1,3}(?:[ .-]?\d{1,4}){2,5}"
    r")(?![\d-])"
)
KINDS = ("email", "card", "ssn", "phone")


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group())
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _is_international_phone(match: re.Match[str]) -> bool:
    text = match.group()
    return not text.startswith("+") or 8 <= len(re.sub(r"\D", "", text)) <= 15


Accept = Callable[[re.Match[str]], bool] | None

_RULES: tuple[tuple[str, re.Pattern[str], str, Accept], ...] = (
    ("email", EMAIL, "[EMAIL]", None),
    ("card", CARD, "[CARD]", _is_card),
    ("ssn", SSN, "[SSN]", None),
    ("phone", PHONE, "[PHONE]", _is_international_phone),
)


@dataclass(frozen=True)
class PIIReport:
    counts: dict[str, int]  # kind -> replacements, for every kind in KINDS
    examples_touched: int

    def format(self) -> str:
        found = ", ".join(f"{kind} {self.counts[kind]}" for kind in KINDS)
        return f"PII scrubbed: {found} ({self.examples_touched} example(s) changed)"


def _replacer(kind: str, placeholder: str, accept: Accept, counts: dict[str, int]) -> Callable[[re.Match[str]], str]:
    def substitute(match: re.Match[str]) -> str:
        if accept is not None and not accept(match):
            return match.group()
        counts[kind] += 1
        return placeholder

    return substitute


def scrub_text(text: str, counts: dict[str, int]) -> str:
    """``text`` with every PII match replaced by its placeholder; adds the replacements to ``counts``."""
    for kind, pattern, placeholder, accept in _RULES:
        text = pattern.sub(_replacer(kind, placeholder, accept, counts), text)
    return text


def scrub_pii(examples: Sequence[Example]) -> tuple[list[Example], PIIReport]:
    """Every example with PII replaced in every turn, and how many of each kind were replaced."""
    counts = dict.fromkeys(KINDS, 0)
    scrubbed: list[Example] = []
    touched = 0
    for example in examples:
        messages = tuple((role, scrub_text(content, counts)) for role, content in example.messages)
        if messages != example.messages:
            touched += 1
            example = replace(example, messages=messages)
        scrubbed.append(example)
    return scrubbed, PIIReport(counts=counts, examples_touched=touched)
