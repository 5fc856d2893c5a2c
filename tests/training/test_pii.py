"""PII scrubbing: each kind replaced and counted, Luhn-checked cards, and numbers that are not PII untouched."""

from __future__ import annotations

import pytest

from tests.training.helpers import chat
from training.data.load import load_examples
from training.data.pii import KINDS, luhn_valid, scrub_pii, scrub_text


def _scrub(text: str) -> tuple[str, dict[str, int]]:
    counts = dict.fromkeys(KINDS, 0)
    return scrub_text(text, counts), {kind: n for kind, n in counts.items() if n}


@pytest.mark.parametrize(
    ("text", "expected", "kind"),
    [
        ("write to jane.doe+news@mail.example.co.uk today", "write to [EMAIL] today", "email"),
        ("card 4111 1111 1111 1111 ok", "card [CARD] ok", "card"),
        ("card 4111-1111-1111-1111", "card [CARD]", "card"),
        ("card 4111111111111111.", "card [CARD].", "card"),
        ("amex 3782 822463 10005", "amex [CARD]", "card"),
        ("ssn 123-45-6789", "ssn [SSN]", "ssn"),
        ("call (555) 123-4567", "call [PHONE]", "phone"),
        ("call 555-123-4567 or", "call [PHONE] or", "phone"),
        ("call +1 555 123 4567", "call [PHONE]", "phone"),
        ("ring +44 20 7946 0958.", "ring [PHONE].", "phone"),
    ],
)
def test_each_kind_is_replaced_and_counted(text: str, expected: str, kind: str) -> None:
    assert _scrub(text) == (expected, {kind: 1})


@pytest.mark.parametrize(
    "text",
    [
        "7 + 5 = 12",
        "20 - 3 = 17, and 100 - 200 - 3000",
        "on 2024-01-15 at 10:30",
        "pi is 3.14159 and a million is 1,000,000",
        "4111 1111 1111 1112",  # fails Luhn
        "order 1234567890123",  # 13 digits, fails Luhn
        "000-12-3456 and 666-12-3456 and 912-34-5678",  # never-issued SSN areas
        "+5 points",
        "ISBN 978-3-16-148410-0, version 1.2.3.4",
    ],
)
def test_numbers_that_are_not_pii_are_left_alone(text: str) -> None:
    assert _scrub(text) == (text, {})


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")


def test_scrub_pii_counts_and_keeps_untouched_examples_identical() -> None:
    examples = [
        chat("a", "Mail a@b.com or c@d.org", "Call 555-123-4567"),
        chat("b", "What is 7 + 5?", "12"),
    ]
    scrubbed, report = scrub_pii(examples)
    assert scrubbed[0].messages == (("user", "Mail [EMAIL] or [EMAIL]"), ("assistant", "Call [PHONE]"))
    assert scrubbed[0].id == "a" and scrubbed[0].source == "test:a"
    assert scrubbed[1] is examples[1]
    assert report.counts == {"email": 2, "card": 0, "ssn": 0, "phone": 1}
    assert report.examples_touched == 1
    assert "email 2" in report.format() and "1 example(s) changed" in report.format()


def test_the_world_task_data_has_nothing_to_scrub(world) -> None:  # type: ignore[no-untyped-def]
    # Thousands of "problem: 13 - 4, answer: 9" cards: arithmetic must not look like phone numbers.
    _, report = scrub_pii(load_examples(world.task["train"]))
    assert report.examples_touched == 0, report.counts
