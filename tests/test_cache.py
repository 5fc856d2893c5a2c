"""The result cache: computed once per key, shared by processes, torn entries recomputed."""

from __future__ import annotations

from pathlib import Path

from harness.cache import ResultCache, cache_key


def test_second_lookup_is_a_hit(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    calls: list[int] = []
    key = cache_key(model="h", cases="c", decoding={"max_new_tokens": 4})
    assert cache.get_or_compute(key, lambda: calls.append(1) or ["a", "b"]) == ["a", "b"]
    assert cache.get_or_compute(key, lambda: calls.append(1) or ["x"]) == ["a", "b"]
    assert calls == [1] and (cache.hits, cache.misses) == (1, 1)
    assert ResultCache(tmp_path).get_or_compute(key, lambda: ["y"]) == ["a", "b"], "another process sees it"


def test_keys_depend_on_every_part() -> None:
    base = cache_key(model="h", cases="c", decoding={"max_new_tokens": 4})
    assert base != cache_key(model="h2", cases="c", decoding={"max_new_tokens": 4})
    assert base != cache_key(model="h", cases="c", decoding={"max_new_tokens": 5})
    assert base == cache_key(cases="c", decoding={"max_new_tokens": 4}, model="h")


def test_a_torn_entry_is_recomputed(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    key = cache_key(x=1)
    cache.get_or_compute(key, lambda: [1])
    path = next(tmp_path.rglob(f"{key}.json"))
    path.write_text('{"trunc')
    assert cache.get_or_compute(key, lambda: [2]) == [2]
