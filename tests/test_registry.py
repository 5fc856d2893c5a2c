"""The registry: aliases derived from an append-only history, rollback, and lossless concurrent writes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from harness.errors import RegistryError
from harness.registry import Registry


def test_set_get_and_history(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    assert reg.get("base") is None
    reg.set("base", "/models/a", content_hash="h1", reason="first build")
    reg.set("base", "/models/b", content_hash="h2", reason="rebuild")
    current = reg.require("base")
    assert (current.path, current.content_hash, current.previous) == ("/models/b", "h2", "/models/a")
    assert [e.seq for e in reg.history()] == [1, 2]
    assert all(e.user and e.time for e in reg.history())


def test_rollback_steps_back_one_target_at_a_time(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    for name in ("a", "b", "c"):
        reg.set("production", f"/m/{name}", content_hash=name, reason=f"promote {name}")
    assert reg.rollback("production", reason="bad release").path == "/m/b"
    assert reg.require("production").path == "/m/b"
    assert reg.rollback("production", reason="also bad").path == "/m/a"
    with pytest.raises(RegistryError, match="no earlier target"):
        reg.rollback("production", reason="nothing left")
    actions = [e.action for e in reg.history("production")]
    assert actions == ["set", "set", "set", "rollback", "rollback"]


def test_unknown_alias_names_the_command_that_registers_it(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match="harness world build"):
        reg.require("base")
    with pytest.raises(RegistryError, match="harness promote candidate --to production"):
        reg.require("production")


def test_invalid_alias_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="not valid"):
        Registry(tmp_path).set("Bad Alias!", "/x", content_hash=None, reason="")


def _writer(root: str, worker: int, count: int) -> None:
    reg = Registry(Path(root))
    for i in range(count):
        reg.set(f"w{worker}", f"/m/{worker}/{i}", content_hash=None, reason="concurrent")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), w, 15)) for w in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    history = Registry(tmp_path).history()
    assert len(history) == 60
    assert sorted(e.seq for e in history) == list(range(1, 61)), "sequence numbers are unique and gapless"
    assert {e.alias: e.path for e in history} == {f"w{w}": f"/m/{w}/14" for w in range(4)}


@pytest.mark.parametrize("alias", ["nl\n", "nl\r", "a b", "tab\t", "", "x" * 65])
def test_aliases_with_control_characters_or_spaces_are_refused(tmp_path: Path, alias: str) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match=r"is not valid: use 1 to 64 lowercase letters"):
        reg.set(alias, "/x", content_hash=None, reason="")
    assert reg.history() == []


def _torn(tmp_path: Path, line: str) -> Registry:
    reg = Registry(tmp_path)
    reg.set("base", "/m/a", content_hash="a", reason="built")
    reg.set("production", "/m/a", content_hash="a", reason="promoted")
    with reg.history_path.open("a") as handle:
        handle.write(line)
    return reg


@pytest.mark.parametrize(
    "line, why",
    [
        ('{"seq": 3, "time": "2026', "not valid JSON"),
        ('{"seq": 3}\n', r"missing keys \['action', 'alias'"),
        ("[1, 2]\n", "expected a JSON object, got list"),
        (
            '{"seq": 3, "time": "t", "user": "u", "action": "drop", "alias": "base", "path": "/p", '
            '"content_hash": null, "reason": "", "previous": null}\n',
            "action 'drop' is not valid",
        ),
    ],
)
def test_an_unreadable_history_line_stops_every_command_naming_it_and_the_repair(
    tmp_path: Path, line: str, why: str
) -> None:
    reg = _torn(tmp_path, line)
    for command in (reg.aliases, lambda: reg.get("base"), reg.history):
        with pytest.raises(RegistryError, match=rf"history.jsonl:3 cannot be read \({why}.*harness registry repair"):
            command()
    with pytest.raises(RegistryError, match=r"history.jsonl:3 cannot be read"):
        reg.set("candidate", "/m/c", content_hash="c", reason="trained")


def test_repair_moves_unreadable_lines_aside_and_later_writes_stay_whole(tmp_path: Path) -> None:
    reg = _torn(tmp_path, '{"seq": 3, "time": "2026')  # a crash mid-append: no newline
    aside, lines = reg.repair()
    assert lines == [3] and aside is not None and aside.read_text() == '{"seq": 3, "time": "2026\n'
    assert set(reg.aliases()) == {"base", "production"}
    reg.set("candidate", "/m/c", content_hash="c", reason="trained")
    assert reg.require("candidate").path == "/m/c"
    assert reg.repair() == (None, [])


def test_an_event_appended_after_a_torn_line_keeps_its_own_line(tmp_path: Path) -> None:
    reg = _torn(tmp_path, '{"seq": 3, "time": "2026')  # a writer crashed mid-line
    event = Registry(tmp_path / "elsewhere").set("candidate", "/m/c", content_hash="c", reason="trained")
    reg._append(event)  # the next writer's append must not be glued onto the torn line
    assert reg.repair()[1] == [3]
    assert reg.require("candidate").path == "/m/c"
