"""The models of a run by role: defaults (and the note saying so), resolution up front, one load per model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.pool import build_pool
from harness.registry import Registry


def test_baseline_falls_back_to_base_and_says_so(tiny_model_dir: Path) -> None:
    Registry().set("base", tiny_model_dir, content_hash=None, reason="t")
    pool = build_pool(str(tiny_model_dir))
    assert pool.role("baseline").spec.ref == "base"
    assert "no production model is registered" in str(pool.role("baseline").note)
    assert pool.role("base").spec.ref == "base"


def test_production_is_the_default_baseline_once_registered(tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    Registry().set("base", tiny_model_dir, content_hash=None, reason="t")
    Registry().set("production", tiny_adapter_dir, content_hash=None, reason="t")
    pool = build_pool(str(tiny_model_dir))
    assert pool.role("baseline").spec.ref == "production"


def test_an_adapter_candidate_is_compared_with_its_own_base(tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    pool = build_pool(str(tiny_adapter_dir), baseline=str(tiny_model_dir))
    assert pool.role("base").resolved.path == tiny_model_dir
    assert pool.role("base").note == "from the adapter's config"


def test_provenance_names_the_base_and_the_quantisation(tmp_path: Path, tiny_model_dir: Path) -> None:
    import shutil

    candidate = tmp_path / "cand"
    shutil.copytree(tiny_model_dir, candidate)
    (candidate / "candidate.json").write_text(
        json.dumps({"base_model": {"path": str(tiny_model_dir)}, "load_in_4bit": True})
    )
    pool = build_pool(str(candidate), baseline=str(tiny_model_dir))
    assert pool.role("base").note == "from the candidate's provenance"
    assert pool.role("candidate").spec.load_in_4bit


def test_each_model_is_loaded_once_and_shared_by_roles_with_the_same_content(tiny_model_dir: Path) -> None:
    pool = build_pool(str(tiny_model_dir), baseline=str(tiny_model_dir), base_model=str(tiny_model_dir))
    assert pool.loads == 0, "resolving roles loads nothing"
    first = pool.load("candidate")
    assert pool.load("baseline") is first and pool.load("base") is first
    assert pool.loads == 1


def test_a_candidate_json_that_is_not_json_is_named(tmp_path: Path, tiny_model_dir: Path) -> None:
    import shutil

    from harness.errors import ModelLoadError

    candidate = tmp_path / "cand"
    shutil.copytree(tiny_model_dir, candidate)
    (candidate / "candidate.json").write_text('{"base_model": ')
    with pytest.raises(ModelLoadError, match=r"cand/candidate.json is not valid JSON .*training provenance"):
        build_pool(str(candidate), baseline=str(tiny_model_dir))
