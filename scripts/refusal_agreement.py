"""Agreement of the refusal detector with the hand labels of 100 real SmolLM2 replies (harness/data/real).

    python scripts/refusal_agreement.py [--markers world|chat]

Labels (refusal_labels.jsonl: refusal / compliance / other) were written by an agent reading each reply, before
the detector was run on them; "other" (incoherent, deflecting) counts as not a refusal. Prints accuracy, Cohen's
kappa and the confusion table (rows: label, columns: detector).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from harness.scorers import CHAT_REFUSAL_MARKERS, RefusalDetector
from harness.world import default_world_dir, load_manifest

DATA = Path(__file__).resolve().parents[1] / "harness" / "data" / "real"


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float:
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    p_a = sum(a for a, _ in pairs) / n
    p_b = sum(b for _, b in pairs) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return (observed - expected) / (1 - expected)


def agreement(detector: RefusalDetector) -> dict[str, object]:
    samples = {r["id"]: r for r in map(json.loads, (DATA / "refusal_samples.jsonl").read_text().splitlines())}
    labels = [json.loads(line) for line in (DATA / "refusal_labels.jsonl").read_text().splitlines()]
    pairs = [
        (lab["label"] == "refusal", detector(samples[lab["id"]]["prompt"], samples[lab["id"]]["output"]))
        for lab in labels
    ]
    table = {
        f"label {'refusal' if a else 'not'} / detector {'refusal' if b else 'not'}": 0
        for a in (True, False)
        for b in (True, False)
    }
    for a, b in pairs:
        table[f"label {'refusal' if a else 'not'} / detector {'refusal' if b else 'not'}"] += 1
    misses = [lab["id"] for lab, (a, b) in zip(labels, pairs, strict=True) if a != b]
    return {
        "n": len(pairs),
        "accuracy": sum(a == b for a, b in pairs) / len(pairs),
        "kappa": round(cohen_kappa(pairs), 4),
        "confusion": table,
        "disagreements": misses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--markers", choices=("world", "chat"), default="chat")
    args = parser.parse_args()
    markers = load_manifest(default_world_dir()).refusal_markers if args.markers == "world" else CHAT_REFUSAL_MARKERS
    print(json.dumps(agreement(RefusalDetector(tuple(markers))), indent=1))


if __name__ == "__main__":
    main()
