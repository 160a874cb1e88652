"""Keeping the compact search index (``vidsearch.store.ivf``) in step with the database.

Below ``Store.ann_min_moments`` moments sqlite-vec's exact scan is used and no index file is kept.
Above it, the index file beside the database is loaded, caught up with the moments added or deleted
since it was written (the database's ``vector_log``; the changes go to a small delta file), and
rebuilt when it is missing, torn, built for another model or vector size, from a newer copy of the
database, or when the changes outgrow the delta.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsearch.store import ivf

if TYPE_CHECKING:
    from vidsearch.store.db import Store

_UNREADABLE = (OSError, ValueError, KeyError, json.JSONDecodeError)


class SearchIndex:
    """The compact index of one open ``Store``, loaded on first use and kept current."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._index: ivf.IvfIndex | None = None
        self._checked = -1  # change counter the loaded index was last brought up to

    @property
    def path(self) -> Path:
        # beside the real file, as SQLite's own -wal is: every path to the index shares one
        return ivf.index_path(Path(os.path.realpath(self.store.path)))

    def current(self, *, build: bool = True) -> ivf.IvfIndex | None:
        """The index brought up to date, or None when the exact scan is used. ``build=False`` only
        loads and patches what is there."""
        store = self.store
        dim = store.dim
        if dim is None or not store._has_table("moment_vectors"):
            return None
        seq = store.change_counter()
        if self._index is not None and self._checked == seq:
            return self._index
        model_id = store.get_meta("model_id")
        index = self._index
        if index is None or index.model_id != model_id or index.dim != dim:
            index = self._load_matching(model_id, dim)
        if index is not None and index.delta_seq == seq:
            # in step with the database, the index knows how many moments there are: counting them
            # reads the whole moments table (seconds and a hundred megabytes at a million moments)
            moments = len(index)
        else:
            moments = self._count_moments()
        if moments < store.ann_min_moments:
            self._index, self._checked = None, seq
            return None
        if index is not None and index.delta_seq < seq and index is self._index and self.path.exists():
            # another process may have brought the file further (or compacted the log under us)
            with contextlib.suppress(*_UNREADABLE):
                on_disk = ivf.IvfIndex.load(self.path)
                if on_disk.delta_seq > index.delta_seq and on_disk.model_id == index.model_id:
                    index = on_disk
        if index is not None and index.delta_seq != seq:
            index = self._catch_up(index, seq, moments, build)
        if index is None:
            if not build:
                return None
            index = self._build()
        self._index, self._checked = index, seq
        return index

    def refresh(self, *, rebuild: bool = False) -> ivf.IvfIndex | None:
        """Bring the index up to date now (e.g. at the end of an indexing run); ``rebuild`` starts
        it afresh. Returns it (None where the exact scan is used)."""
        if rebuild:
            self._index, self._checked = None, -1
            store = self.store
            if store.dim is not None and store._has_table("moment_vectors"):
                if self._count_moments() >= store.ann_min_moments:
                    self._index = self._build()
                    self._checked = store.change_counter()
                    return self._index
        return self.current()

    def describe(self, moments: int | None = None) -> tuple[str, int]:
        """What nearest-neighbour reads use, in words, and the index file's size (nothing is built)."""
        if moments is None:
            moments = self._count_moments()
        if moments < self.store.ann_min_moments:
            return f"exact sqlite-vec scan (under {self.store.ann_min_moments} moments)", 0
        try:
            index = ivf.IvfIndex.load(self.path)
        except _UNREADABLE:
            return "compact index not built yet (the next search builds it)", 0
        stats = index.stats(self.path)
        pending = self.store.change_counter() - index.delta_seq
        note = f", {pending} changes to apply" if pending > 0 else ""
        return f"{stats.kind}, built in {stats.build_seconds:.1f} s{note}", stats.file_bytes

    def discard(self) -> None:
        """Forget the index, in memory and on disk (it disagreed with the database); the next
        search builds a new one from the database."""
        self._index, self._checked = None, -1
        for path in (self.path, ivf.delta_path(self.path)):
            with contextlib.suppress(OSError):
                path.unlink()

    def verify(self) -> list[str]:
        """Problems of the index file on disk ([] when none, or when there is none): every checksum,
        and its moments against the database's. A damaged file is removed (rebuilt when needed)."""
        if not self.path.exists():
            return []
        try:
            index = ivf.IvfIndex.load(self.path)
            index.check_all()
        except _UNREADABLE as exc:
            self.discard()
            return [f"the search index {self.path} is damaged ({exc}); removed, the next search rebuilds it"]
        if index.delta_seq == self.store.change_counter():
            ids = np.setdiff1d(np.concatenate([np.asarray(index.ids), index.tail_ids]), index.dead)
            held = np.asarray([r[0] for r in self.store.db.execute("SELECT id FROM moments ORDER BY id")], np.int64)
            if not np.array_equal(np.unique(ids), held):
                self.discard()
                return [f"the search index {self.path} holds other moments than the database; removed, "
                        "the next search rebuilds it"]
        return []

    @staticmethod
    def try_save(save: Callable[[Path], None], path: Path) -> None:
        """Write an index file; a read-only folder keeps the index in this process's memory only."""
        with contextlib.suppress(OSError):
            save(path)

    # ---- inside ---------------------------------------------------------------------------
    def _count_moments(self) -> int:
        return int(self.store.db.execute("SELECT count(*) FROM moments").fetchone()[0])

    def _load_matching(self, model_id: str | None, dim: int) -> ivf.IvfIndex | None:
        if not self.path.exists():
            return None
        try:
            index = ivf.IvfIndex.load(self.path)
        except _UNREADABLE:
            return None  # torn or foreign: rebuilt from the vectors here
        if index.model_id != model_id or index.dim != dim:
            return None
        return index

    def _catch_up(self, index: ivf.IvfIndex, seq: int, moments: int, build: bool) -> ivf.IvfIndex | None:
        db = self.store.db
        oldest = db.execute("SELECT min(seq) FROM vector_log").fetchone()[0]
        if index.delta_seq > seq or oldest is None or oldest > index.delta_seq + 1:
            # an older copy of the database, or the log it needs was compacted away
            return self._build(reuse=index) if build else None
        touched = [
            int(r[0]) for r in db.execute("SELECT DISTINCT moment_id FROM vector_log WHERE seq > ?", (index.delta_seq,))
        ]
        if len(touched) + index.delta_size > ivf.DELTA_MAX_FRACTION * max(moments, 1):
            return self._build(reuse=index) if build else None
        present = self._existing_moments(touched)
        index.apply_delta(seq, present, touched, self._fetch)
        self.try_save(index.save_delta, self.path)
        return index

    def _existing_moments(self, ids: Sequence[int]) -> list[int]:
        rows = self.store.db.execute(
            "SELECT id FROM moments WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id",
            (json.dumps(list(ids)),),
        )
        return [int(r[0]) for r in rows]

    def _fetch(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = self.store.db.execute(
            "SELECT moment_id, video_id, embedding FROM moment_vectors"
            " WHERE moment_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        ).fetchall()
        by_id = {mid: (vid, emb) for mid, vid, emb in rows}
        dim = self.store.dim or 0
        kept = [by_id[i] for i in ids if i in by_id]
        vids = np.asarray([v for v, _ in kept], np.int64)
        vecs = np.frombuffer(b"".join(e for _, e in kept), np.float32).reshape(len(kept), dim)
        return vids, vecs

    def _build(self, reuse: Any = None) -> ivf.IvfIndex:
        store = self.store
        with store.db:  # one read snapshot: the vectors and the counter agree
            seq = store.change_counter()
            ids, vids, vecs = store.all_vectors()
        centroids = None
        if reuse is not None and len(reuse.centroids) and 0.5 <= len(ids) / max(len(reuse.ids), 1) <= 2.0:
            centroids = np.asarray(reuse.centroids)  # same library, grown a little: keep the clustering
        model_id = store.get_meta("model_id") or ""
        index = ivf.IvfIndex.build(ids, vids, vecs, seq=seq, model_id=model_id, centroids=centroids)
        self.try_save(index.save, self.path)
        return index
