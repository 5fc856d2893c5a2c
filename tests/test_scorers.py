"""Scorers: exact match normalisation, ROUGE-L via rouge-score, the refusal detector and judge hook."""

from __future__ import annotations

import pytest

from harness.errors import ConfigError
from harness.scorers import RefusalDetector, exact_match, get_judge, normalize, register_judge, rouge_l


@pytest.mark.parametrize(
    "output, answer, expected",
    [
        ("Paris", "Paris", 1.0),
        ("  paris. ", "Paris", 1.0),
        ("Paris is nice", "Paris", 0.0),
        ("country: Peru, capital: Lima", "country: Peru, capital: Lima", 1.0),
        ("12", "13", 0.0),
    ],
)
def test_exact_match(output: str, answer: str, expected: float) -> None:
    assert exact_match(output, answer) == expected


def test_normalize_folds_case_apostrophes_and_space() -> None:
    assert normalize("  I\u2019m   HERE!! ") == "i'm here"


def test_exact_match_needs_an_answer() -> None:
    with pytest.raises(ConfigError, match="answer"):
        exact_match("x", None)


def test_rouge_l_agrees_with_rouge_score() -> None:
    from rouge_score import rouge_scorer

    reference, output = "problem: 7 + 5, answer: 12", "answer: 12"
    expected = rouge_scorer.RougeScorer(["rougeL"]).score(reference, output)["rougeL"].fmeasure
    assert rouge_l(output, reference) == pytest.approx(expected, rel=1e-12)
    assert rouge_l(reference, reference) == 1.0
    assert 0.0 < rouge_l(output, reference) < 1.0


def test_refusal_detector_matches_markers_case_insensitively() -> None:
    detect = RefusalDetector(("I can't help",))
    assert detect("q", "I CAN\u2019T HELP with that.")
    assert not detect("q", "Use the kill command with the process id.")
    with pytest.raises(ConfigError, match="non-empty"):
        RefusalDetector(())


def test_judges_are_pluggable_and_unknown_ones_are_named() -> None:
    register_judge("always-refuses", lambda prompt, output: True)
    assert get_judge("always-refuses")("q", "anything")
    with pytest.raises(ConfigError, match="register_judge"):
        get_judge("no-such-judge")


def test_contains_finds_the_answer_as_whole_words_in_a_sentence() -> None:
    from harness.scorers import contains

    assert contains("The capital of France is Paris.", "Paris") == 1.0
    assert contains("It is Buenos  Aires!", "buenos aires") == 1.0
    assert contains("Parisian cafes are nice.", "Paris") == 0.0
    # answers with punctuation inside are split like the output
    assert contains("It is Port-au-Prince.", "Port-au-Prince") == 1.0
    assert contains("It is Washington, D.C. of course", "Washington, D.C.") == 1.0
    assert contains("The answer is 3.5", "3.5") == 1.0 and contains("The answer is 35", "3.5") == 0.0
    # accents fold both ways; a different letter is still a different city
    assert contains("The capital of Colombia is Bogotá.", "Bogota") == 1.0 == contains("Bogota", "Bogotá")
    assert contains("The capital of Iceland is Reykjavíð.", "Reykjavik") == 0.0
    with pytest.raises(ConfigError, match="contains needs an expected answer"):
        contains("Paris", None)
