"""SQLite + sqlite-vec storage of videos, moments and their vectors.

The standard ``sqlite3`` module of many Pythons (pyenv builds, macOS system Python) cannot load
extensions, so the store uses APSW, which bundles a current SQLite that can. Nothing outside this
package knows which binding is used.

Paths are stored as raw bytes (``os.fsencode``) so names that are not valid UTF-8 survive exactly.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import config
from vidsearch.errors import IndexMismatchError, IndexStorageError, SearchIndexDamaged, UsageError
from vidsearch.store.health import damaged, has_sqlite_header, moment_checksum, path_checksum, storage_errors
from vidsearch.store.migrations import migrate
from vidsearch.store.searchindex import SearchIndex
from vidsearch.store.textindex import TextCounts, TextIndex
from vidsearch.store.thumbnails import Thumbnails
from vidsearch.store.videofacts import FactsSummary, FactsTable
from vidsearch.types import ESCALATED, MomentCost, MomentThumbnails, VideoFacts, VideoInfo

KNN_MAX_K = 4096  # sqlite-vec refuses larger k
RERANK_EXTRA = 50  # the compact index's shortlist holds k + max(k / 2, this) moments for exact re-ranking
MMAP_BYTES = 1 << 36
VECTOR_CACHE_MAX = 200_000  # vectors kept in memory by one open Store (about 300 MB at 384-d)


def _create_private(db_path: Path) -> None:
    """Make an empty index file only this user can read (SQLite gives its -wal and -shm the same mode)."""
    config.private_dir(db_path.parent)
    try:
        os.close(os.open(db_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # made by another process meanwhile
    except OSError as exc:
        raise IndexStorageError(
            f"cannot create the index {db_path}: {exc.strerror or exc}; give a writable place with --db"
        ) from exc


def _make_private(db_path: Path, st: os.stat_result) -> None:
    """Close an index file (and its sidecars) that others can read, when it is ours to change."""
    if stat.S_IMODE(st.st_mode) & 0o077 and st.st_uid == os.getuid():
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):  # read-only media: nothing to change there
                os.chmod(f"{db_path}{suffix}", 0o600)


def _writable(db_path: Path) -> bool:
    """Whether SQLite can write the index and make its -wal and -shm files beside it."""
    return os.access(db_path, os.W_OK) and os.access(db_path.parent, os.W_OK | os.X_OK)


def _read_only_uri(db_path: Path) -> str:
    """An SQLite URI that reads an index on read-only media.

    A WAL-mode file needs its -shm file, which cannot be made there; with no pending -wal content the
    file alone is the whole index, so it is opened as immutable (no locks, no -shm).
    """
    from urllib.parse import quote

    wal = Path(f"{db_path}-wal")
    pending = wal.exists() and wal.stat().st_size > 0
    return f"file:{quote(os.fsencode(os.path.abspath(db_path)))}" + ("?mode=ro" if pending else "?immutable=1")


def _file_identity(db_path: Path) -> tuple[int, ...] | None:
    """(device, inode, size, SQLite's file change counter) of the index file; None when it is gone."""
    try:
        with open(db_path, "rb") as f:
            st = os.fstat(f.fileno())
            header = f.read(28)
    except OSError:
        return None
    counter = int.from_bytes(header[24:28], "big") if len(header) == 28 else -1
    return st.st_dev, st.st_ino, st.st_size, counter


def _fs(path: str | os.PathLike[str] | bytes) -> bytes:
    return os.fsencode(path)


def _str(raw: bytes | str) -> str:
    return os.fsdecode(raw) if isinstance(raw, bytes) else raw


@dataclass(frozen=True)
class StoredVideo:
    """A video row: where it is, what it looked like when last indexed, and how that went."""

    id: int
    path: str
    root_id: int | None
    size: int
    mtime_ns: int
    fingerprint: str
    status: str  # "indexed" or "failed"
    error: str | None
    duration: float


@dataclass(frozen=True)
class StoredMoment:
    """One moment and where to see it: its video's file, the span, the video's codec and whether its
    root is online."""

    id: int
    video_id: int
    path: str
    start: float
    end: float
    codec: str | None
    online: bool


@dataclass(frozen=True)
class Candidate:
    """One moment returned by a nearest-neighbour read."""

    moment_id: int
    video_id: int
    path: str
    start: float
    end: float
    similarity: float  # cosine similarity, 1.0 = same direction
    cost: dict[str, Any]
    available: bool


@dataclass(frozen=True)
class IndexInfo:
    path: Path
    schema_version: int
    model: str | None  # what the user asked for ("lite", a hub id or a folder)
    model_id: str | None  # what the embedder calls itself
    dim: int | None
    roots: list[tuple[str, bool]]  # (path, online)
    videos: int
    failed: int
    moments: int
    seconds_indexed: float
    size_bytes: int
    embed_seconds: float
    mean_frames: float
    search_index: str | None = None  # what nearest-neighbour reads use, in words
    search_index_bytes: int = 0  # size of the compact index beside the file (counted in size_bytes)
    # moments per budget decision ("static", "some motion", "busy", ...; "" where no policy chose), and
    # how many of them were embedded again at the full budget because their visual features still moved
    budgets: dict[str, int] = field(default_factory=dict)
    budget_escalations: int = 0
    # moments per budget setting ("faithful", "fast", ...; "" where none was recorded)
    budget_settings: dict[str, int] = field(default_factory=dict)
    thumbnails: int = 0  # moments that have their thumbnails
    thumbnail_bytes: int = 0  # their size in all (counted in size_bytes)
    when_where: FactsSummary | None = None  # dates, positions, places and cameras of the videos
    words: TextCounts = field(default_factory=TextCounts)  # what is said and shown in words


class Store:
    """An open index file. Use as a context manager or call :meth:`close`.

    ``Store.open(path)`` creates the file (and its folder) when missing and migrates it to the
    current schema. Vectors live in a sqlite-vec ``vec0`` table created once the model's vector size
    is known (:meth:`bind_model`).
    """

    # Below this many moments sqlite-vec's exact scan is fast enough (tens of ms) and no index file
    # is kept; tests lower it to exercise the compact index on small libraries.
    ann_min_moments = 20_000

    def __init__(self, path: Path, conn: Any) -> None:
        self.path = path
        self.db = conn
        self._index = SearchIndex(self)
        self.thumbnails = Thumbnails(self)
        self.facts = FactsTable(self)  # when, where and with what each video was filmed
        self.text = TextIndex(self)  # what moments say and show in words, and the files' names
        self._vector_cache: dict[int, np.ndarray] = {}
        self._vector_cache_seq = -1
        self.read_only = False  # opened from read-only media: searched, never written
        self._identity: tuple[int, ...] | None = None  # the file as opened (see ``replaced``)

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
        """Open (``create``: or make) the index at ``path`` (default: ``vidsearch.config.db_path``).

        A new index is made private (the file 0600, and the folders created for it 0700). An index
        on read-only media opens read-only: it can be searched, not changed. Raises UsageError when
        there is no index and ``create`` is false or the path is not a regular file, and the typed
        errors of ``vidsearch.store.health.translate`` when SQLite cannot use the file.
        """
        db_path = config.db_path(path)
        with storage_errors(db_path):
            return cls._open(db_path, create)

    @classmethod
    def _open(cls, db_path: Path, create: bool) -> Store:
        import apsw
        import sqlite_vec

        try:
            st: os.stat_result | None = os.stat(db_path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise IndexStorageError(f"cannot reach the index {db_path}: {exc.strerror or exc}") from exc
        if st is None:
            if not create:
                raise UsageError(
                    f"no index at {db_path}; build one with `vidsearch index PATH` (or pass --db)"
                )
            _create_private(db_path)
        elif not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{db_path} is not a regular file; give the path of an index file with --db")
        else:
            _make_private(db_path, st)
        read_only = not _writable(db_path)
        try:
            if read_only:
                conn = apsw.Connection(_read_only_uri(db_path), flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
            else:
                conn = apsw.Connection(str(db_path))
        except apsw.Error as exc:
            raise UsageError(f"cannot open the index {db_path}: {exc}") from exc
        conn.set_busy_timeout(10_000)
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        store = cls(db_path, conn)
        store.read_only = read_only
        store._identity = _file_identity(db_path)
        try:
            if not read_only:
                conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Memory-mapped reads: reading one vector out of a sqlite-vec chunk walks that chunk's
            # overflow pages, ~10x faster mapped than through read() calls (measured). SQLite caps
            # the size at its compile-time limit.
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
            migrate(conn, db_path)
            store._identity = _file_identity(db_path)  # after the migration's own writes
        except apsw.NotADBError as exc:
            conn.close()
            if has_sqlite_header(db_path):
                raise damaged(db_path, str(exc)) from exc
            raise UsageError(f"{db_path} is not a vidsearch index (not an SQLite file)") from exc
        except BaseException:
            conn.close()
            raise
        return store

    def replaced(self) -> bool:
        """Whether the file at this index's path is no longer the one opened: deleted, another file in
        its place, restored from a copy, or changed by SQLite's checkpoint of another process (then a
        fresh connection is cheap and safe). Compares inode, size and SQLite's change counter."""
        return _file_identity(self.path) != self._identity

    def _has_table(self, name: str) -> bool:
        row = self.db.execute("SELECT 1 FROM sqlite_master WHERE name=?", (name,)).fetchone()
        return row is not None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all (an interrupted run leaves no half video)."""
        with self.db:
            yield

    # ---- meta and model ------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (key, value),
        )

    @property
    def model(self) -> str | None:
        """The model name the index was built with ("lite", a hub id or a folder), if any."""
        return self.get_meta("model")

    @property
    def dim(self) -> int | None:
        value = self.get_meta("dim")
        return int(value) if value else None

    def bind_model(self, model: str, model_id: str, dim: int) -> None:
        """Record which model writes this index; refuse a different one.

        Raises IndexMismatchError naming both models and the way out.
        """
        have_id, have_dim = self.get_meta("model_id"), self.dim
        if have_id is None:
            with self.transaction():
                self.set_meta("model", model)
                self.set_meta("model_id", model_id)
                self.set_meta("dim", str(dim))
                self.db.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS moment_vectors USING vec0("
                    f"moment_id INTEGER PRIMARY KEY, embedding float[{dim}] distance_metric=cosine, "
                    f"video_id INTEGER)"
                )
            return
        if have_id != model_id or have_dim != dim:
            raise IndexMismatchError(
                f"the index {self.path} was built with model {self.model!r} ({have_id}, {have_dim}-d); "
                f"it cannot hold vectors of {model!r} ({model_id}, {dim}-d). Leave --model out to use "
                f"the index's model, pass --rebuild to re-index everything with the new one, or use "
                f"another index with --db"
            )

    def reset_vectors(self) -> None:
        """Forget every moment, vector and the model binding (for --rebuild); roots stay."""
        with self.transaction():
            self.db.execute("DROP TABLE IF EXISTS moment_vectors")
            self.text.drop_vectors()
            self.db.execute("DELETE FROM moments")
            self.db.execute("DELETE FROM videos")
            for key in ("model", "model_id", "dim"):
                self.db.execute("DELETE FROM meta WHERE key=?", (key,))

    # ---- roots ---------------------------------------------------------------------------
    def add_root(self, path: str | os.PathLike[str]) -> int:
        raw = _fs(os.path.abspath(path))
        self.db.execute(
            "INSERT INTO roots(path, added) VALUES(?, ?) ON CONFLICT(path) DO NOTHING", (raw, time.time())
        )
        return int(self.db.execute("SELECT id FROM roots WHERE path=?", (raw,)).fetchone()[0])

    def roots(self) -> list[tuple[int, str, bool]]:
        rows = self.db.execute("SELECT id, path, online FROM roots ORDER BY path").fetchall()
        return [(rid, _str(p), bool(online)) for rid, p, online in rows]

    def set_root_online(self, root_id: int, online: bool) -> None:
        self.db.execute("UPDATE roots SET online=? WHERE id=?", (int(online), root_id))

    def root_counts(self) -> dict[int, tuple[int, int]]:
        """Root id -> (videos, moments) recorded under it (roots with none are left out)."""
        rows = self.db.execute(
            "SELECT v.root_id, count(DISTINCT v.id), count(m.id) FROM videos v "
            "LEFT JOIN moments m ON m.video_id = v.id WHERE v.root_id IS NOT NULL GROUP BY v.root_id"
        ).fetchall()
        return {int(rid): (int(videos), int(moments)) for rid, videos, moments in rows}

    def remove_root(self, root_id: int, rehome: Mapping[int, int] | None = None) -> None:
        """Forget a root with every video, moment and vector recorded under it, in one transaction;
        videos named in ``rehome`` (video id -> root id) move to that root with their vectors instead."""
        rehome = rehome or {}
        with self.transaction():
            for (video_id,) in self.db.execute("SELECT id FROM videos WHERE root_id=?", (root_id,)).fetchall():
                if int(video_id) in rehome:
                    self.db.execute("UPDATE videos SET root_id=? WHERE id=?", (rehome[int(video_id)], video_id))
                else:
                    self.delete_video(int(video_id))
            self.db.execute("DELETE FROM roots WHERE id=?", (root_id,))

    # ---- videos --------------------------------------------------------------------------
    _VIDEO_COLS = "id, path, root_id, size, mtime_ns, fingerprint, status, error, duration"

    def _video(self, row: Sequence[Any]) -> StoredVideo:
        vid, path, root_id, size, mtime_ns, fp, status, error, duration = row
        return StoredVideo(vid, _str(path), root_id, size, mtime_ns, fp, status, error, duration)

    def videos_under(self, root_id: int) -> dict[str, StoredVideo]:
        rows = self.db.execute(f"SELECT {self._VIDEO_COLS} FROM videos WHERE root_id=?", (root_id,))
        return {v.path: v for v in map(self._video, rows)}

    def video_by_path(self, path: str | os.PathLike[str]) -> StoredVideo | None:
        row = self.db.execute(
            f"SELECT {self._VIDEO_COLS} FROM videos WHERE path=?", (_fs(os.path.abspath(path)),)
        ).fetchone()
        return self._video(row) if row else None

    def video(self, video_id: int) -> StoredVideo | None:
        row = self.db.execute(f"SELECT {self._VIDEO_COLS} FROM videos WHERE id=?", (video_id,)).fetchone()
        return self._video(row) if row else None

    def moment(self, moment_id: int) -> StoredMoment | None:
        """The moment with this id and its video's file, or None when there is none."""
        row = self.db.execute(
            'SELECT m.id, m.video_id, v.path, m.start, m."end", v.codec, COALESCE(r.online, 1) FROM moments m'
            " JOIN videos v ON v.id = m.video_id LEFT JOIN roots r ON r.id = v.root_id WHERE m.id=?",
            (moment_id,),
        ).fetchone()
        if row is None:
            return None
        mid, vid, path, start, end, codec, online = row
        return StoredMoment(int(mid), int(vid), _str(path), float(start), float(end), codec, bool(online))

    def videos_by_fingerprint(self, fingerprint: str) -> list[StoredVideo]:
        rows = self.db.execute(f"SELECT {self._VIDEO_COLS} FROM videos WHERE fingerprint=?", (fingerprint,))
        return [self._video(r) for r in rows]

    def move_video(self, video_id: int, path: str, root_id: int | None, size: int, mtime_ns: int) -> None:
        """A file moved or was renamed: keep its moments and vectors, change where it is."""
        raw = _fs(path)
        self.db.execute(
            "UPDATE videos SET path=?, root_id=?, size=?, mtime_ns=?, checksum=? WHERE id=?",
            (raw, root_id, size, mtime_ns, path_checksum(raw), video_id),
        )
        self.text.name_video(video_id, _fs(path), root_id)

    def touch_video(self, video_id: int, size: int, mtime_ns: int) -> None:
        self.db.execute("UPDATE videos SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, video_id))

    def delete_video(self, video_id: int) -> None:
        if self._has_table("moment_vectors"):
            self.db.execute("DELETE FROM moment_vectors WHERE video_id=?", (video_id,))
        self.text.forget_vectors(video_id)  # the rest of its words go with it (foreign keys, triggers)
        self.db.execute("DELETE FROM moments WHERE video_id=?", (video_id,))
        self.db.execute("DELETE FROM videos WHERE id=?", (video_id,))

    def save_video(
        self,
        *,
        path: str,
        root_id: int | None,
        size: int,
        mtime_ns: int,
        fingerprint: str,
        info: VideoInfo | None,
        moments: Sequence[tuple[float, float]] = (),
        vectors: np.ndarray | None = None,
        costs: Sequence[MomentCost] = (),
        thumbnails: Sequence[MomentThumbnails | None] = (),
        error: str | None = None,
        facts: VideoFacts | None = None,
    ) -> int:
        """Write one video with all its moments, vectors and thumbnails (or its failure) in one transaction.

        ``thumbnails`` go with ``moments`` by position (None or a short list: none for those).
        ``facts`` are when and where it was filmed (left unread when None). An existing row for the
        same path is replaced. Returns the video id.
        """
        if error is None and vectors is not None and len(moments) != len(vectors):
            raise ValueError("one vector per moment")
        raw = _fs(path)
        with self.transaction():
            old = self.db.execute("SELECT id FROM videos WHERE path=?", (raw,)).fetchone()
            if old:
                self.delete_video(old[0])
            self.db.execute(
                "INSERT INTO videos(path, root_id, size, mtime_ns, fingerprint, status, error, duration, fps,"
                " width, height, rotation, codec, indexed_at, checksum) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    raw,
                    root_id,
                    size,
                    mtime_ns,
                    fingerprint,
                    "failed" if error else "indexed",
                    error,
                    info.duration if info else 0.0,
                    info.fps if info else 0.0,
                    info.width if info else 0,
                    info.height if info else 0,
                    info.rotation if info else 0,
                    info.codec if info else None,
                    time.time(),
                    path_checksum(raw),
                ),
            )
            video_id = int(self.db.last_insert_rowid())
            if facts is not None:
                self.facts.write(video_id, facts)
            self.text.name_video(video_id, raw, root_id)
            screen: list[tuple[int, str]] = []
            if error is None and vectors is not None and len(moments):
                vectors = np.ascontiguousarray(vectors, dtype=np.float32)
                for i, (start, end) in enumerate(moments):
                    cost = costs[i] if i < len(costs) else MomentCost()
                    vector = vectors[i].tobytes()
                    self.db.execute(
                        'INSERT INTO moments(video_id, start, "end", frames, visual_tokens, exit_layer, seconds,'
                        " budget, setting, checksum) VALUES(?,?,?,?,?,?,?,?,?,?)",
                        (
                            video_id, start, end, cost.frames, cost.visual_tokens, cost.exit_layer, cost.seconds,
                            cost.budget, cost.setting, moment_checksum(video_id, start, end, vector),
                        ),  # fmt: skip
                    )
                    moment_id = self.db.last_insert_rowid()
                    self.db.execute(
                        "INSERT INTO moment_vectors(moment_id, embedding, video_id) VALUES(?,?,?)",
                        (moment_id, vector, video_id),
                    )
                    pictures = thumbnails[i] if i < len(thumbnails) else None
                    if pictures is not None:
                        self.thumbnails.add(moment_id, pictures)
                    screen.append((moment_id, cost.screen_text))
                self.text.save_screen_text(video_id, screen)
        return video_id

    def video_ids_under(self, prefixes: Iterable[str | os.PathLike[str]]) -> list[int]:
        """Ids of the videos at or below any of the given paths (files or folders)."""
        ids: set[int] = set()
        for prefix in prefixes:
            raw = _fs(os.path.abspath(prefix))
            folder = raw.rstrip(b"/") + b"/"
            rows = self.db.execute(
                "SELECT id FROM videos WHERE path=? OR substr(path, 1, ?)=?", (raw, len(folder), folder)
            )
            ids.update(r[0] for r in rows)
        return sorted(ids)

    # ---- moments and vectors -------------------------------------------------------------
    def nearest(
        self, query: np.ndarray, k: int, video_ids: Sequence[int] | None = None
    ) -> list[Candidate]:
        """The ``k`` moments closest to ``query`` (a unit vector), optionally only from ``video_ids``.

        The video filter applies inside the nearest-neighbour search, so a filtered search still
        returns ``k`` moments when that many exist. Small libraries use sqlite-vec's exact scan; large
        ones a compact index beside the file (int8 codes, inverted lists) whose shortlist is re-ranked
        by exact cosine on the float vectors stored here.
        """
        if not self._has_table("moment_vectors") or k <= 0:
            return []
        if video_ids is not None and not video_ids:
            return []
        q = np.asarray(query, np.float32)
        for _ in range(2):  # a second time with the index rebuilt from the database
            ann = self.search_index()
            if ann is None:
                break
            try:
                shortlist, approx = ann.search(q, k + max(k // 2, RERANK_EXTRA), video_ids)
                ids, exact = self._rerank(ann, shortlist, approx, q)
            except SearchIndexDamaged:
                self._index.discard()
                continue
            best = np.argsort(-exact, kind="stable")[:k]
            return self.candidates({ids[i]: float(exact[i]) for i in best})
        nearest = self.nearest_exact(q, k, video_ids)
        # the scan reads vectors unchecked: those it returns are verified against their moments'
        # checksums (a garbled vector raises IndexCorruptError rather than rank by a wrong score)
        self.vectors(list(nearest))
        return self.candidates(nearest)

    def _rerank(
        self, ann: Any, shortlist: np.ndarray, approx: np.ndarray, q: np.ndarray
    ) -> tuple[list[int], np.ndarray]:
        """The compact index's shortlist and its exact cosines from the vectors stored here.

        The index file is never trusted: every moment it names must be here (unless deleted since it
        was brought up to date), and its int8 score must agree with the exact one within the int8
        rounding bound. Raises SearchIndexDamaged when not (shuffled ids, garbled codes or scales).
        """
        ids = [int(i) for i in shortlist]
        found = self._verified_vectors(ids)
        if len(found) < len(ids):
            if self.change_counter() == ann.delta_seq:
                raise SearchIndexDamaged("the search index names moments the database does not hold")
            keep = [i for i, m in enumerate(ids) if m in found]  # deleted by another process meanwhile
            ids, approx = [ids[i] for i in keep], np.asarray(approx)[keep]
        if not ids:
            return [], np.zeros(0, np.float32)
        vectors = np.stack([found[m] for m in ids])
        exact = vectors @ q
        # |codes * scale - v| <= scale / 2 in every coordinate, scale = max|v| / 127 (ivf.quantize)
        bound = np.abs(vectors).max(axis=1) / 254.0 * float(np.abs(q).sum()) * 1.001 + 1e-4
        if not np.all(np.abs(np.asarray(approx, np.float32) - exact) <= bound):
            raise SearchIndexDamaged("the search index's scores disagree with the stored vectors")
        return ids, exact

    def nearest_exact(
        self, query: np.ndarray, k: int, video_ids: Sequence[int] | None = None
    ) -> dict[int, float]:
        """sqlite-vec's exact scan: {moment id: cosine similarity} of the ``k`` closest (k <= 4096)."""
        if not self._has_table("moment_vectors") or k <= 0 or (video_ids is not None and not video_ids):
            return {}
        k = min(k, KNN_MAX_K)
        vec = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        sql = "SELECT moment_id, distance FROM moment_vectors WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [vec, k]
        if video_ids is not None:
            sql += " AND video_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(video_ids)))
        found = self.db.execute(sql, params).fetchall()
        if any(dist is None for _, dist in found):  # a vector that reads back as NaN: damaged storage
            raise damaged(self.path, "stored vectors read back as not-a-number")
        return {mid: 1.0 - dist for mid, dist in found}

    # ---- the compact index beside the file -----------------------------------------------
    def change_counter(self) -> int:
        """A number that grows with every insert or delete of a moment (the vector_log's sequence)."""
        if not self._has_table("vector_log"):
            return 0
        row = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name='vector_log'").fetchone()
        return int(row[0]) if row else 0

    @property
    def search_index_path(self) -> Path:
        """The compact index's file beside the database."""
        return self._index.path

    def search_index(self, *, build: bool = True) -> Any:
        """The compact index brought up to date, or None where the exact scan is used
        (``vidsearch.store.searchindex.SearchIndex.current``)."""
        return self._index.current(build=build)

    def refresh_search_index(self, *, rebuild: bool = False) -> Any:
        """Bring the compact index up to date now (e.g. at the end of an indexing run); returns it."""
        return self._index.refresh(rebuild=rebuild)

    def verify_search_index(self) -> list[str]:
        """Problems of the compact index file ([] when none); a damaged one is removed to be rebuilt."""
        return self._index.verify()

    def verify_rows(self) -> list[str]:
        """Every moment's video, times and vector, and every video's file name, against their
        checksums; the problems found (at most 20 named)."""
        problems: list[str] = []
        for vid, path, checksum in self.db.execute("SELECT id, path, checksum FROM videos"):
            if checksum is not None and path_checksum(bytes(path)) != checksum:
                problems.append(f"video {vid}: its file name does not match its checksum")
        if self._has_table("moment_vectors"):
            rows = {
                mid: (vid, start, end, checksum)
                for mid, vid, start, end, checksum in self.db.execute(
                    'SELECT id, video_id, start, "end", checksum FROM moments'
                )
            }
            seen = set()
            for mid, vector in self.db.execute("SELECT moment_id, embedding FROM moment_vectors"):
                seen.add(mid)
                row = rows.get(mid)
                if row is None:
                    problems.append(f"vector {mid} belongs to no moment")
                elif row[3] is not None and moment_checksum(row[0], row[1], row[2], bytes(vector)) != row[3]:
                    problems.append(f"moment {mid}: its video, times or vector do not match its checksum")
            problems += [f"moment {mid} has no vector" for mid in rows if mid not in seen]
        if len(problems) > 20:
            problems = problems[:20] + [f"... and {len(problems) - 20} more"]
        return problems

    def describe_search_index(self, moments: int | None = None) -> tuple[str, int]:
        """What nearest-neighbour reads use, in words, and the index file's size (nothing is built)."""
        return self._index.describe(moments)

    def all_vectors(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every stored vector: (moment ids, video ids, (n, dim) float32 vectors), in one read snapshot."""
        dim = self.dim or 0
        ids: list[int] = []
        vids: list[int] = []
        blobs: list[bytes] = []
        for mid, vid, emb in self.db.execute("SELECT moment_id, video_id, embedding FROM moment_vectors"):
            ids.append(mid)
            vids.append(vid)
            blobs.append(emb)
        vecs = np.frombuffer(b"".join(blobs), np.float32).reshape(len(ids), dim)
        return np.asarray(ids, np.int64), np.asarray(vids, np.int64), vecs

    def candidates(self, similarity: dict[int, float]) -> list[Candidate]:
        """Load moment rows for the given moment ids, carrying the given similarities, best first."""
        if not similarity:
            return []
        rows = self.db.execute(
            'SELECT m.id, m.video_id, v.path, m.start, m."end", m.frames, m.visual_tokens, m.exit_layer,'
            " m.seconds, m.budget, m.setting, COALESCE(r.online, 1), v.checksum FROM moments m"
            " JOIN videos v ON v.id = m.video_id LEFT JOIN roots r ON r.id = v.root_id"
            " WHERE m.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(similarity)),),
        ).fetchall()
        for row in rows:
            if row[-1] is not None and path_checksum(row[2]) != row[-1]:
                raise damaged(self.path, f"the file name of video {row[1]} does not match its checksum")
        out = [
            Candidate(
                moment_id=mid,
                video_id=vid,
                path=_str(path),
                start=start,
                end=end,
                similarity=float(similarity[mid]),
                cost=MomentCost(fr, vt, el, sec, budget, setting).as_dict(),
                available=bool(online),
            )
            for mid, vid, path, start, end, fr, vt, el, sec, budget, setting, online, _ in rows
        ]
        out.sort(key=lambda c: -c.similarity)
        return out

    def vectors(self, moment_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of the given moments, in the given order, each verified against its
        moment's checksum.

        Vectors read once are kept in memory while the index does not change (a search reads the
        same shortlist and library sample again; a long-running service reads them once). Raises
        IndexCorruptError when a moment's vector is missing or does not match its checksum.
        """
        found = self._verified_vectors(moment_ids)
        lost = [m for m in moment_ids if m not in found]
        if lost:
            raise damaged(self.path, f"moment {lost[0]} has no vector")
        if not moment_ids:
            return np.zeros((0, self.dim or 0), np.float32)
        return np.stack([found[m] for m in moment_ids])

    def _verified_vectors(self, moment_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """{moment id: vector} of those of ``moment_ids`` that have one (verified, see ``vectors``)."""
        if not moment_ids:
            return {}
        seq = self.change_counter()
        if seq != self._vector_cache_seq or len(self._vector_cache) > VECTOR_CACHE_MAX:
            self._vector_cache, self._vector_cache_seq = {}, seq
        cache = self._vector_cache
        missing = [m for m in moment_ids if m not in cache]
        if missing:
            read: dict[int, np.ndarray] = {}
            left = self._read_vector_chunks(missing, read)
            if left:
                rows = self.db.execute(
                    "SELECT moment_id, embedding FROM moment_vectors"
                    " WHERE moment_id IN (SELECT value FROM json_each(?))",
                    (json.dumps(left),),
                ).fetchall()
                for mid, emb in rows:
                    read[mid] = np.frombuffer(emb, dtype=np.float32)
            self._verify_moments(read)
            cache.update(read)
        return {m: cache[m] for m in moment_ids if m in cache}

    def _verify_moments(self, vectors: dict[int, np.ndarray]) -> None:
        """Check freshly read vectors, with their moments' video and times, against the moments'
        checksums; raise IndexCorruptError naming the first that does not match."""
        if not vectors:
            return
        rows = self.db.execute(
            'SELECT id, video_id, start, "end", checksum FROM moments WHERE id IN (SELECT value FROM json_each(?))',
            (json.dumps(list(vectors)),),
        ).fetchall()
        known = set()
        for mid, vid, start, end, checksum in rows:
            known.add(mid)
            if checksum is not None and moment_checksum(vid, start, end, vectors[mid].tobytes()) != checksum:
                raise damaged(self.path, f"moment {mid} does not match its checksum")
        if len(known) != len(vectors):
            stray = next(m for m in vectors if m not in known)
            raise damaged(self.path, f"vector {stray} belongs to no moment")

    def _read_vector_chunks(
        self, moment_ids: list[int], into: dict[int, np.ndarray], table: str = "moment_vectors"
    ) -> list[int]:
        """Read vectors of the vec0 ``table`` straight from sqlite-vec's storage (its rowids table + chunk blobs).

        Why: a ``moment_id IN (...)`` read through the vec0 table costs time that grows with the
        library (about a second for 150 vectors at a million moments, measured), while opening the
        chunk blob at the vector's offset costs tens of microseconds with the file memory-mapped.
        Relies on sqlite-vec 0.1's layout; any surprise returns every id unread, and the caller
        uses the vec0 table instead. Returns the ids not read.
        """
        import apsw

        dim = self.dim or 0
        if not dim or not self._has_table(f"{table}_rowids"):
            return moment_ids
        width = dim * 4
        try:
            rows = self.db.execute(
                f"SELECT rowid, chunk_id, chunk_offset FROM {table}_rowids"
                " WHERE rowid IN (SELECT value FROM json_each(?))",
                (json.dumps(moment_ids),),
            ).fetchall()
            blob = None
            try:
                for mid, chunk, offset in rows:
                    if blob is None:
                        blob = self.db.blob_open("main", f"{table}_vector_chunks00", "vectors", chunk, False)
                    else:
                        blob.reopen(chunk)
                    if (offset + 1) * width > blob.length():
                        return moment_ids
                    blob.seek(offset * width)
                    into[mid] = np.frombuffer(blob.read(width), dtype=np.float32)
            finally:
                if blob is not None:
                    blob.close()
        except apsw.Error:
            return moment_ids
        return [m for m in moment_ids if m not in into]

    def moments_of(self, video_id: int) -> list[tuple[int, float, float]]:
        rows = self.db.execute(
            'SELECT id, start, "end" FROM moments WHERE video_id=? ORDER BY start', (video_id,)
        )
        return [(int(i), float(s), float(e)) for i, s, e in rows]

    def library_sample(self, n: int) -> np.ndarray:
        """Vectors of up to ``n`` moments spread over the whole library, to calibrate scores against.

        Read from the compact index's file when there is one (it keeps such a spread, taken when it
        was built: a thousand reads from SQLite cost more than the search itself at a million
        moments); else the stored vectors of ``sample_moment_ids(n)``.
        """
        ann = self.search_index()
        if ann is not None and len(ann.sample) >= min(n, len(ann)):
            return np.asarray(ann.library_sample(n), np.float32)
        return self.vectors(self.sample_moment_ids(n))

    def sample_moment_ids(self, n: int, within: Sequence[int] | None = None) -> list[int]:
        """A deterministic spread of up to ``n`` moment ids over the library (or over ``within`` videos).

        Used to calibrate scores against what a typical moment of this library looks like.
        """
        if within is None:
            lo, hi, count = self.db.execute("SELECT min(id), max(id), count(*) FROM moments").fetchone()
            if count > 4 * n:
                # a big library: n indexed look-ups at evenly spaced ids, not a read of every id
                targets = [lo + (hi - lo) * i // n for i in range(n)]
                picked = (
                    self.db.execute("SELECT id FROM moments WHERE id >= ? ORDER BY id LIMIT 1", (t,)).fetchone()
                    for t in targets
                )
                return sorted({row[0] for row in picked if row is not None})
            rows = self.db.execute("SELECT id FROM moments ORDER BY id")
        else:
            rows = self.db.execute(
                "SELECT id FROM moments WHERE video_id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(list(within)),),
            )
        ids = [r[0] for r in rows]
        if len(ids) <= n:
            return ids
        step = len(ids) / n
        return [ids[int(i * step)] for i in range(n)]

    # ---- reporting -----------------------------------------------------------------------
    def info(self) -> IndexInfo:
        q = self.db.execute
        videos = q("SELECT count(*) FROM videos WHERE status='indexed'").fetchone()[0]
        failed = q("SELECT count(*) FROM videos WHERE status='failed'").fetchone()[0]
        moments, seconds, embed_s, frames = q(
            'SELECT count(*), COALESCE(sum("end" - start), 0), COALESCE(sum(seconds), 0),'
            " COALESCE(avg(frames), 0) FROM moments"
        ).fetchone()
        budgets: dict[str, int] = {}
        escalations = 0
        # the decision is the reason's words before its measured numbers: "static (motion 0.000, ...)"
        for kind, again, count in q(
            "SELECT CASE WHEN instr(budget, ' (') > 0 THEN substr(budget, 1, instr(budget, ' (') - 1)"
            " ELSE budget END, instr(budget, ?) > 0, count(*) FROM moments GROUP BY 1, 2",
            (ESCALATED,),
        ):
            if kind:
                budgets[kind] = budgets.get(kind, 0) + count
            escalations += count if again else 0
        settings = dict(q("SELECT setting, count(*) FROM moments GROUP BY 1 ORDER BY 2 DESC").fetchall())
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(str(self.path) + suffix)
        dim = self.dim
        described, index_bytes = self.describe_search_index(int(moments))
        size += index_bytes
        thumbnails, thumbnail_bytes = self.thumbnails.totals()
        return IndexInfo(
            path=self.path,
            schema_version=int(q("PRAGMA user_version").fetchone()[0]),
            model=self.model,
            model_id=self.get_meta("model_id"),
            dim=dim,
            roots=[(p, online) for _, p, online in self.roots()],
            videos=videos,
            failed=failed,
            moments=moments,
            seconds_indexed=float(seconds),
            size_bytes=size,
            embed_seconds=float(embed_s),
            mean_frames=float(frames),
            search_index=described,
            search_index_bytes=index_bytes,
            budgets=dict(sorted(budgets.items(), key=lambda kv: -kv[1])),
            budget_escalations=escalations,
            budget_settings=settings,
            thumbnails=thumbnails,
            thumbnail_bytes=thumbnail_bytes,
            when_where=self.facts.summary(),
            words=self.text.counts(),
        )

    def failures(self) -> list[tuple[str, str]]:
        rows = self.db.execute("SELECT path, error FROM videos WHERE status='failed' ORDER BY path")
        return [(_str(p), e or "") for p, e in rows]

    def vacuum(self) -> None:
        self.db.execute("VACUUM")

    def compact(self) -> tuple[int, int]:
        """Rebuild the compact index, drop the change log it covers, and VACUUM the file.

        Returns (bytes before, bytes after), index file included.
        """
        before = self.info().size_bytes
        index = self.refresh_search_index(rebuild=True)
        upto = index.seq if index is not None else self.change_counter()
        with self.transaction():
            if self._has_table("vector_log"):
                self.db.execute("DELETE FROM vector_log WHERE seq <= ?", (upto,))
        self.db.execute("VACUUM")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return before, self.info().size_bytes
