"""The baseline gate refuses a stored baseline whose scores are not comparable with the candidate's."""

from __future__ import annotations

from harness.gates.baseline import recorded_differently

RECORDED = {
    "metric": "exact_match",
    "cases_hash": "c1",
    "decoding": {"max_new_tokens": 32, "batch_size": 32, "temperature": 0.0, "top_p": 1.0, "seed": 0},
}


def test_the_same_recording_is_comparable_whatever_the_batch_size() -> None:
    current = {**RECORDED, "decoding": {**RECORDED["decoding"], "batch_size": "auto"}}
    assert recorded_differently(RECORDED, current) is None


def test_another_metric_cases_or_decoding_makes_the_baseline_stale() -> None:
    # a lenient metric against strict stored scores would flatter the candidate
    assert "metric ('exact_match', now 'contains')" in str(
        recorded_differently(RECORDED, {**RECORDED, "metric": "contains"})
    )
    assert "case set" in str(recorded_differently(RECORDED, {**RECORDED, "cases_hash": "c2"}))
    sampled = {**RECORDED, "decoding": {**RECORDED["decoding"], "temperature": 0.7}}
    assert "decoding" in str(recorded_differently(RECORDED, sampled))
    assert recorded_differently({}, RECORDED) is not None, "a baseline recorded without provenance is not trusted"
