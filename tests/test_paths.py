"""One sanitiser for every file name under a run directory, and one atomic write."""

from __future__ import annotations

from pathlib import Path

from harness.paths import safe_component, write_atomic


def test_plain_names_are_kept_and_others_never_collide() -> None:
    assert safe_component("forgetting_facts") == "forgetting_facts"
    names = ["g x", "g_x", "g/x", "G_x", "..", ".", "../../../escaped", "retention[arith]", "retention_arith_", "nl\n"]
    components = [safe_component(n) for n in names]
    assert len(set(components)) == len(names), components
    for component in components:
        assert "/" not in component and component not in (".", "..") and not component.startswith(".")
        assert component == safe_component(component) or "+" in component


def test_write_atomic_replaces_the_whole_file_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "results.json"
    write_atomic(target, "old")
    write_atomic(target, "new")
    assert target.read_text() == "new"
    assert sorted(p.name for p in target.parent.iterdir()) == ["results.json"]
