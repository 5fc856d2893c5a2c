"""Row formats: detection by keys, conversion to (role, content) turns, and errors that name the field."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError, DataError
from training.data.formats import check_format, detect_format, to_messages


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"messages": []}, "openai-chat"),
        ({"conversations": [], "id": "x"}, "sharegpt"),
        ({"instruction": "a", "output": "b"}, "alpaca"),
        ({"instruction": "a", "input": "", "output": "b"}, "alpaca"),
        ({"prompt": "a", "response": "b"}, "prompt-response"),
    ],
)
def test_detects_each_format_by_its_keys(row: dict, expected: str) -> None:
    assert detect_format(row, where="f.jsonl:1") == expected


def test_a_row_in_no_format_names_the_place_its_keys_and_every_format() -> None:
    with pytest.raises(DataError) as info:
        detect_format({"question": "q", "answer": "a"}, where="data.jsonl:7")
    message = str(info.value)
    assert "data.jsonl:7" in message
    assert "['answer', 'question']" in message
    for required in ("messages", "conversations", "instruction", "output", "prompt", "response"):
        assert required in message


def test_a_row_matching_two_formats_is_ambiguous() -> None:
    with pytest.raises(DataError, match="several formats"):
        detect_format({"messages": [], "conversations": []}, where="f.jsonl:1")


def test_openai_chat_keeps_roles_and_order() -> None:
    row = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    }
    assert to_messages(row, "openai-chat", where="w") == (
        ("system", "Be brief."),
        ("user", "Hi"),
        ("assistant", "Hello"),
    )


def test_openai_chat_errors_name_the_message_field() -> None:
    with pytest.raises(DataError, match=r"w: messages\[1\]\.role is 'tool'"):
        to_messages(
            {"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "y"}]}, "openai-chat", where="w"
        )
    with pytest.raises(DataError, match=r"messages\[0\]\.content.*int"):
        to_messages({"messages": [{"role": "user", "content": 3}]}, "openai-chat", where="w")


def test_sharegpt_maps_speakers_to_roles() -> None:
    row = {
        "conversations": [
            {"from": "system", "value": "S"},
            {"from": "human", "value": "Q"},
            {"from": "gpt", "value": "A"},
        ]
    }
    assert to_messages(row, "sharegpt", where="w") == (("system", "S"), ("user", "Q"), ("assistant", "A"))
    with pytest.raises(DataError, match=r"conversations\[0\]\.from is 'bot'"):
        to_messages({"conversations": [{"from": "bot", "value": "x"}]}, "sharegpt", where="w")


def test_alpaca_joins_a_non_empty_input_after_the_instruction() -> None:
    with_input = {"instruction": "Translate.", "input": "Bonjour", "output": "Hello", "system": "Be exact."}
    assert to_messages(with_input, "alpaca", where="w") == (
        ("system", "Be exact."),
        ("user", "Translate.\n\nBonjour"),
        ("assistant", "Hello"),
    )
    blank_input = {"instruction": "Say hi.", "input": "  ", "output": "Hi"}
    assert to_messages(blank_input, "alpaca", where="w") == (("user", "Say hi."), ("assistant", "Hi"))


def test_an_explicit_format_reports_its_missing_keys() -> None:
    with pytest.raises(DataError, match=r"format 'alpaca' needs \['instruction', 'output'\] \(missing \['output'\]\)"):
        to_messages({"instruction": "x"}, "alpaca", where="w")


def test_unknown_format_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown data format 'jsonl'"):
        check_format("jsonl")
