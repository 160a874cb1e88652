"""The compact index beside the database: recall, filters inside the search, staying in step with writes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vidsearch.store import Store
from vidsearch.store import ivf as ann_mod

DIM = 48
PER_VIDEO = 20


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _library(videos: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Clustered unit vectors: 30 topics, each video drifting around one topic."""
    rng = np.random.default_rng(seed)
    topics = _unit(rng.standard_normal((30, DIM)))
    vecs = []
    for v in range(videos):
        drift = 0.5 * _unit(rng.standard_normal(DIM))
        vecs.append(_unit(topics[v % 30] + drift + 0.5 * _unit(rng.standard_normal((PER_VIDEO, DIM)))))
    return np.concatenate(vecs), topics


@pytest.fixture
def big_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    monkeypatch.setattr(Store, "ann_min_moments", 0)  # use the compact index even on a small library
    vectors, _ = _library(300)
    store = Store.open(tmp_path / "index.db")
    store.bind_model("lite", "test-model", DIM)
    for v in range(300):
        store.save_video(
            path=f"/lib/{'a' if v % 10 else 'b'}/v{v}.mp4", root_id=None, size=1, mtime_ns=1, fingerprint=str(v),
            info=None, moments=[(float(i), i + 1.0) for i in range(PER_VIDEO)],
            vectors=vectors[v * PER_VIDEO : (v + 1) * PER_VIDEO],
        )
    return store


def _queries(count: int) -> np.ndarray:
    _, topics = _library(1)
    rng = np.random.default_rng(7)
    return _unit(topics[rng.integers(0, 30, count)] + 0.7 * _unit(rng.standard_normal((count, DIM))))


def _recall(store: Store, k: int, video_ids: list[int] | None = None) -> float:
    found = []
    for q in _queries(20):
        exact = set(store.nearest_exact(q, k, video_ids))
        got = {c.moment_id for c in store.nearest(q, k, video_ids)}
        found.append(len(exact & got) / len(exact))
    return float(np.mean(found))


@pytest.mark.slow
def test_compact_index_finds_what_exact_search_finds(big_store: Store) -> None:
    assert _recall(big_store, 10) >= 0.95
    assert big_store.search_index_path.exists()
    assert "IVF int8" in big_store.info().search_index  # status can say what search uses


@pytest.mark.slow
def test_ranking_is_by_exact_cosine(big_store: Store) -> None:
    q = _queries(1)[0]
    hits = big_store.nearest(q, 10)
    sims = [h.similarity for h in hits]
    assert sims == sorted(sims, reverse=True)
    exact = big_store.vectors([h.moment_id for h in hits]) @ q
    assert np.allclose(sims, exact, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["/lib/b", "/lib/a"])  # 10 % and 90 % of the library
def test_filtered_search_returns_full_count_and_keeps_recall(big_store: Store, folder: str) -> None:
    ids = big_store.video_ids_under([folder])
    for q in _queries(5):
        hits = big_store.nearest(q, 50, ids)
        assert len(hits) == 50
        assert {h.path.rsplit("/", 1)[0] for h in hits} == {folder}
    assert _recall(big_store, 10, ids) >= 0.95


@pytest.mark.slow
def test_index_follows_adds_deletes_and_moves(big_store: Store) -> None:
    q = _queries(1)[0]
    before = big_store.change_counter()
    # add a video whose moment is exactly the query: it must come first at once
    big_store.save_video(path="/lib/new/clip.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="new",
                         info=None, moments=[(0.0, 1.0)], vectors=q[None, :])
    assert big_store.change_counter() > before
    top = big_store.nearest(q, 1)[0]
    assert top.path == "/lib/new/clip.mp4" and top.similarity == pytest.approx(1.0, abs=1e-5)
    # a second process sees the same, from the delta written beside the index
    again = Store.open(big_store.path)
    assert again.nearest(q, 1)[0].path == "/lib/new/clip.mp4"
    # moved: found under its new folder (filters read paths from SQLite)
    video = big_store.video_by_path("/lib/new/clip.mp4")
    assert video is not None
    big_store.move_video(video.id, "/lib/moved/clip.mp4", None, 1, 1)
    moved = big_store.nearest(q, 1, big_store.video_ids_under(["/lib/moved"]))
    assert [h.path for h in moved] == ["/lib/moved/clip.mp4"]
    # deleted: gone from every result
    big_store.delete_video(video.id)
    assert all(h.video_id != video.id for h in big_store.nearest(q, 20))
    assert all(h.video_id != video.id for h in again.nearest(q, 20))
    assert _recall(again, 10) >= 0.95
    again.close()


@pytest.mark.slow
def test_large_change_rebuilds_and_corrupt_file_is_rebuilt(big_store: Store) -> None:
    big_store.nearest(_queries(1)[0], 5)
    path = big_store.search_index_path
    built = ann_mod.IvfIndex.load(path).seq
    for v in range(0, 300, 3):  # a third of the library goes: too big for a delta
        video = big_store.video_by_path(f"/lib/{'a' if v % 10 else 'b'}/v{v}.mp4")
        assert video is not None
        big_store.delete_video(video.id)
    assert _recall(big_store, 10) >= 0.95
    assert ann_mod.IvfIndex.load(path).seq > built  # rebuilt, not patched
    path.write_bytes(b"garbage")
    fresh = Store.open(big_store.path)
    assert _recall(fresh, 10) >= 0.95
    assert ann_mod.IvfIndex.load(path).seq == fresh.change_counter()
    fresh.close()


@pytest.mark.slow
def test_compact_drops_the_covered_log_and_keeps_results(big_store: Store) -> None:
    q = _queries(1)[0]
    want = [h.moment_id for h in big_store.nearest(q, 10)]
    before, after = big_store.compact()
    assert after <= before
    assert big_store.db.execute("SELECT count(*) FROM vector_log").fetchone()[0] == 0
    assert [h.moment_id for h in big_store.nearest(q, 10)] == want


def test_small_library_uses_exact_scan_without_index_file(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "small.db")
    store.bind_model("lite", "test-model", DIM)
    vectors, _ = _library(5)
    store.save_video(path="/lib/x.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="x", info=None,
                     moments=[(float(i), i + 1.0) for i in range(len(vectors))], vectors=vectors)
    assert len(store.nearest(vectors[3], 5)) == 5
    assert not store.search_index_path.exists()
    assert "exact" in (store.info().search_index or "")


@pytest.mark.slow
def test_vectors_read_from_chunks_match_the_vec0_table(big_store: Store) -> None:
    import json

    ids = [1, 2, 777, 3001, 5999, 6000]
    rows = dict(big_store.db.execute(
        "SELECT moment_id, embedding FROM moment_vectors WHERE moment_id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids),),
    ).fetchall())
    got = big_store.vectors(ids)
    assert np.array_equal(got, np.stack([np.frombuffer(rows[i], np.float32) for i in ids]))


@pytest.mark.slow
def test_a_long_running_reader_survives_another_process_compacting(big_store: Store) -> None:
    q = _queries(1)[0]
    reader = Store.open(big_store.path)  # e.g. the query service
    first = reader.nearest(q, 5)[0]
    big_store.delete_video(first.video_id)
    big_store.save_video(path="/lib/late.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="late",
                         info=None, moments=[(0.0, 1.0)], vectors=q[None, :])
    big_store.compact()  # rebuilds the index file and drops the log the reader has not seen
    hits = reader.nearest(q, 20)
    assert hits[0].path == "/lib/late.mp4"
    assert all(h.video_id != first.video_id for h in hits)
    reader.close()


@pytest.mark.slow
def test_an_index_file_of_an_older_format_is_rebuilt_not_read(big_store: Store) -> None:
    q = _queries(1)[0]
    want = [h.moment_id for h in big_store.nearest(q, 10)]
    path = big_store.search_index_path
    index = ann_mod.IvfIndex.load(path)
    # the same arrays under another format name: a reader must not trust what it cannot know
    index.header = dict(index.header, format="vidsearch-ivf-int8-1")
    index.codes = np.zeros_like(np.asarray(index.codes))  # and, were it read, useless codes
    index.bits = np.zeros_like(np.asarray(index.bits))
    index.save(path)
    fresh = Store.open(big_store.path)
    assert [h.moment_id for h in fresh.nearest(q, 10)] == want
    assert ann_mod.IvfIndex.load(path).header["format"] == ann_mod.FORMAT
    fresh.close()


@pytest.mark.parametrize("dim", [48, 64, 384, 500])
def test_sign_bit_distance_counts_the_signs_that_differ(dim: int) -> None:
    rng = np.random.default_rng(dim)
    rows, mean = rng.standard_normal((50, dim)).astype(np.float32), rng.standard_normal(dim).astype(np.float32)
    query = rng.standard_normal(dim).astype(np.float32)
    packed = ann_mod.sign_bits(rows - mean)
    assert packed.shape == (50, -(-dim // 64)) and packed.dtype == np.uint64
    expected = ((rows > mean) != (query > mean)).sum(axis=1)
    assert np.array_equal(ann_mod._hamming(packed, ann_mod.sign_bits(query[None] - mean)[0]), expected)


@pytest.mark.slow
def test_calibration_sample_comes_from_the_index_and_spreads_over_the_library(big_store: Store) -> None:
    big_store.refresh_search_index()
    sample = big_store.library_sample(200)
    assert sample.shape == (200, DIM)
    ids, _, stored = big_store.all_vectors()
    # every row is a stored vector, exactly, and they come from all over the library
    match = np.argmax(sample @ stored.T, axis=1)
    assert np.allclose(stored[match], sample)
    videos = {int(big_store.db.execute("SELECT video_id FROM moments WHERE id=?", (int(ids[m]),)).fetchone()[0])
              for m in match}
    assert len(videos) >= 150
    reads = []
    big_store.db.exec_trace = lambda cursor, sql, bindings: reads.append(sql) or True
    big_store.library_sample(200)
    big_store.db.exec_trace = None
    assert not [sql for sql in reads if "moment_vectors" in sql]  # no vector read from SQLite


@pytest.mark.slow
def test_filtered_search_sees_videos_added_after_the_build(big_store: Store) -> None:
    q = _queries(1)[0]
    big_store.nearest(q, 5)
    vid = big_store.save_video(path="/lib/c/late.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="c",
                               info=None, moments=[(0.0, 1.0), (1.0, 2.0)], vectors=np.stack([q, -q]))
    hits = big_store.nearest(q, 5, big_store.video_ids_under(["/lib/c"]) + big_store.video_ids_under(["/lib/b"]))
    assert hits[0].video_id == vid and len(hits) == 5
    assert {h.path.rsplit("/", 1)[0] for h in hits} <= {"/lib/c", "/lib/b"}


def _tamper(path: Path, change: Callable[[dict[str, np.ndarray]], None], fix_checksums: bool) -> None:
    """Rewrite the index file at ``path`` with ``change`` applied to its arrays; ``fix_checksums``
    recomputes its checksums too (as a careless tool or a hostile one would), so only the check of
    its contents against the database can tell."""
    header, mapped = ann_mod._read(path)
    arrays = {name: np.array(value) for name, value in mapped.items()}
    del mapped
    change(arrays)
    if fix_checksums:
        ann_mod.IvfIndex.seal(header, arrays)
    ann_mod._write(path, header, arrays)


def _shuffle_ids(a: dict[str, np.ndarray]) -> None:
    a["ids"] = np.random.default_rng(1).permutation(a["ids"])


def _random_ids(a: dict[str, np.ndarray]) -> None:
    a["ids"] = np.random.default_rng(1).integers(1, 10**9, a["ids"].shape).astype(a["ids"].dtype)


def _random_codes(a: dict[str, np.ndarray]) -> None:
    a["codes"] = np.random.default_rng(1).integers(-127, 128, a["codes"].shape).astype(np.int8)


def _nan_scales(a: dict[str, np.ndarray]) -> None:
    a["scales"] = np.full_like(a["scales"], np.nan)


@pytest.mark.slow
@pytest.mark.parametrize("fix_checksums", [False, True], ids=["stale-checksums", "recomputed-checksums"])
@pytest.mark.parametrize("change", [_shuffle_ids, _random_ids, _random_codes, _nan_scales],
                         ids=["shuffled-ids", "random-ids", "random-codes", "nan-scales"])
def test_a_tampered_index_file_never_gives_wrong_hits(
    big_store: Store, change: Callable[[dict[str, np.ndarray]], None], fix_checksums: bool
) -> None:
    queries = _queries(8)
    before = [[c.moment_id for c in big_store.nearest(q, 10)] for q in queries]
    db, path = big_store.path, big_store.search_index_path
    big_store.close()
    _tamper(path, change, fix_checksums)
    with Store.open(db) as store:
        after = [[c.moment_id for c in store.nearest(q, 10)] for q in queries]
        exact = [[c.moment_id for c in store.candidates(store.nearest_exact(q, 10))] for q in queries]
        assert after == before  # the file was found out and rebuilt from the database
        assert all(a[0] == e[0] for a, e in zip(after, exact, strict=True))
        assert store.verify_search_index() == []  # and what is on disk now is sound
