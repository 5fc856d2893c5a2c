"""Which cases a suite evaluates on: world categories or JSONL / CSV files named by its gates.

Gates resolve their cases here, and the trainer collects every suite's cases here to refuse training data
that overlaps them (training/data/leakage.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.cases import Case, read_cases
from harness.discovery import suite_paths
from harness.errors import ConfigError
from harness.gates.registry import get
from harness.spec import SuiteSpec, load_suite
from harness.world import WorldManifest, default_world_dir, load_manifest

PACKAGED = "harness:"  # case files shipped with the package: harness:real/harmful.jsonl


def suite_world(suite: SuiteSpec) -> WorldManifest:
    return load_manifest(default_world_dir() if suite.world == "default" else suite.resolve(suite.world))


def case_file(suite: SuiteSpec, ref: str, world: WorldManifest) -> Path:
    """A world category (fact, arithmetic, harmful, benign, task), a JSONL / CSV path relative to the suite, or
    ``harness:real/harmful.jsonl``: a file shipped in the package's data directory (the real suite's sets)."""
    if ref.startswith(PACKAGED):
        from harness.resources import data_dir

        return data_dir() / ref.removeprefix(PACKAGED)
    if ref.endswith((".jsonl", ".csv")):
        return suite.resolve(ref)
    if ref not in world.heldout:
        raise ConfigError(
            f"{suite.path}: cases {ref!r} is neither a world category ({', '.join(sorted(world.heldout))}) "
            "nor a .jsonl or .csv file path relative to the suite"
        )
    return world.heldout[ref]


def case_refs(suite: SuiteSpec) -> list[str]:
    """The case sets the suite's gates evaluate on, as each gate's kind declares them."""
    return [ref for spec in suite.gates.values() for ref in get(spec.kind).cases(spec)]


def evaluation_sets(locations: Iterable[Path]) -> dict[str, list[Case]]:
    """Every case file the suites at ``locations`` evaluate on, by file path."""
    sets: dict[str, list[Case]] = {}
    for path in suite_paths(locations):
        suite = load_suite(path)
        world = suite_world(suite)
        for ref in case_refs(suite):
            file = case_file(suite, ref, world)
            sets.setdefault(str(file), read_cases(file))
    return sets
