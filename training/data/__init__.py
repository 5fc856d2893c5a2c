"""The training data pipeline: load, normalise, scrub, validate, deduplicate, check leakage, split,
mix replay, encode, and the preflight summary. Every step is a function of its own; ``prepare`` chains them.
"""

from training.data.dedup import deduplicate, exact_duplicates, near_duplicates
from training.data.encode import IGNORE_INDEX, Encoded, encode
from training.data.example import Example
from training.data.formats import FORMATS
from training.data.leakage import EvalCases, Leak, check_leakage, find_leaks, world_eval_cases
from training.data.load import load_examples
from training.data.pii import PIIReport, scrub_pii
from training.data.preflight import Preflight, preflight, size_advice
from training.data.prepare import PreparedData, prepare
from training.data.replay import load_replay_pool, mix_replay
from training.data.split import split
from training.data.validate import LengthStats, ValidationReport, validate

__all__ = [
    "FORMATS",
    "IGNORE_INDEX",
    "Encoded",
    "EvalCases",
    "Example",
    "Leak",
    "LengthStats",
    "PIIReport",
    "Preflight",
    "PreparedData",
    "ValidationReport",
    "check_leakage",
    "deduplicate",
    "encode",
    "exact_duplicates",
    "find_leaks",
    "load_examples",
    "load_replay_pool",
    "mix_replay",
    "near_duplicates",
    "preflight",
    "prepare",
    "scrub_pii",
    "size_advice",
    "split",
    "validate",
    "world_eval_cases",
]
