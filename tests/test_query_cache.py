"""The query-vector cache: bounded, least recently used dropped first, torn files are misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidsearch.embed.cache import LazyEmbedder, QueryCache


def _vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
    return v / np.linalg.norm(v)


def test_least_recently_used_text_goes_first(tmp_path: Path) -> None:
    cache = QueryCache("m", tmp_path, size=3)
    for i, text in enumerate(["a", "b", "c"]):
        cache.put(text, _vec(i))
    assert cache.get("a") is not None  # "a" is now the most recently used; "b" the least
    cache.put("d", _vec(3))
    assert cache.get("b") is None
    assert all(cache.get(t) is not None for t in ("a", "c", "d"))
    np.testing.assert_array_equal(cache.get("d"), _vec(3))


def test_cache_never_holds_more_than_its_size(tmp_path: Path) -> None:
    cache = QueryCache("m", tmp_path, size=4)
    for i in range(12):
        cache.put(f"query {i}", _vec(i))
    assert len(cache) == 4
    assert [cache.get(f"query {i}") is not None for i in range(12)] == [False] * 8 + [True] * 4


def test_models_have_separate_caches_and_torn_files_are_misses(tmp_path: Path) -> None:
    a, b = QueryCache("model-a", tmp_path), QueryCache("model-b", tmp_path)
    a.put("sunset", _vec(1))
    assert b.get("sunset") is None
    a._file("sunset").write_bytes(b"\x93NUMPY torn")
    assert a.get("sunset") is None


class _Model:
    dim = 8
    whole_query_weight = 0.25
    calls = 0

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        _Model.calls += 1
        return np.stack([_vec(len(t)) for t in texts])


def test_repeated_texts_and_attributes_need_no_model(tmp_path: Path) -> None:
    loads = []

    def load() -> _Model:
        loads.append(1)
        return _Model()

    first = LazyEmbedder(load, QueryCache("m", tmp_path))
    vectors = first.embed_queries(["a dog", "on a beach"])
    assert len(loads) == 1
    again = LazyEmbedder(load, QueryCache("m", tmp_path))  # as a later process would
    np.testing.assert_array_equal(again.embed_queries(["on a beach", "a dog"]), vectors[::-1])
    assert again.whole_query_weight == 0.25 and again.dim == 8  # what a search reads besides vectors
    assert len(loads) == 1 and not again.loaded
    again.embed_queries(["a new text"])
    assert len(loads) == 2 and again.loaded


def test_an_attribute_the_model_lacks_is_remembered_as_missing(tmp_path: Path) -> None:
    class Plain:
        dim = 8

        def embed_queries(self, texts: list[str]) -> np.ndarray:
            return np.stack([_vec(len(t)) for t in texts])

    LazyEmbedder(Plain, QueryCache("p", tmp_path)).embed_queries(["x"])
    later = LazyEmbedder(lambda: (_ for _ in ()).throw(AssertionError("loaded")), QueryCache("p", tmp_path))
    assert getattr(later, "whole_query_weight", 0.0) == 0.0
    assert later.embed_queries(["x"]).shape == (1, 8)
