"""SQLite + sqlite-vec storage of videos, moments and their vectors.

The standard ``sqlite3`` module of many Pythons (pyenv builds, macOS system Python) cannot load
extensions, so the store uses APSW, which bundles a current SQLite that can. Nothing outside this
package knows which binding is used.

Paths are stored as raw bytes (``os.fsencode``) so names that are not valid UTF-8 survive exactly.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.errors import IndexLockedError, IndexMismatchError, IndexVersionError, UsageError
from vidsearch.types import MomentCost, VideoInfo

SCHEMA_VERSION = 1
ENV_DB = "VIDSEARCH_DB"
KNN_MAX_K = 4096  # sqlite-vec refuses larger k


def default_db_path() -> Path:
    """The index file: ``$VIDSEARCH_DB`` when set, else ``index.db`` in the platform's user data dir."""
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("vidsearch", appauthor=False) / "index.db"


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


# Numbered migrations: MIGRATIONS[i] takes the schema from version i to i + 1. Never edit one that
# has shipped; add the next.
def _m0_initial(db: Any) -> None:
    db.execute(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE roots(
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            added REAL NOT NULL,
            online INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE videos(
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            duration REAL NOT NULL DEFAULT 0,
            fps REAL NOT NULL DEFAULT 0,
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0,
            rotation INTEGER NOT NULL DEFAULT 0,
            codec TEXT,
            created REAL,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX videos_fingerprint ON videos(fingerprint);
        CREATE INDEX videos_root ON videos(root_id);
        CREATE TABLE moments(
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            frames INTEGER NOT NULL DEFAULT 0,
            visual_tokens INTEGER NOT NULL DEFAULT 0,
            exit_layer INTEGER,
            seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX moments_video ON moments(video_id, start);
        """
    )


MIGRATIONS = [_m0_initial]


class Store:
    """An open index file. Use as a context manager or call :meth:`close`.

    ``Store.open(path)`` creates the file (and its folder) when missing and migrates it to the
    current schema. Vectors live in a sqlite-vec ``vec0`` table created once the model's vector size
    is known (:meth:`bind_model`).
    """

    def __init__(self, path: Path, conn: Any) -> None:
        self.path = path
        self.db = conn

    # ---- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Store:
        import apsw
        import sqlite_vec

        db_path = Path(path) if path is not None else default_db_path()
        if not db_path.exists():
            if not create:
                raise UsageError(
                    f"no index at {db_path}; build one with `vidsearch index PATH` (or pass --db)"
                )
            db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = apsw.Connection(str(db_path))
        except apsw.Error as exc:
            raise UsageError(f"cannot open the index {db_path}: {exc}") from exc
        conn.set_busy_timeout(10_000)
        conn.enable_load_extension(True)
        conn.load_extension(sqlite_vec.loadable_path())
        conn.enable_load_extension(False)
        store = cls(db_path, conn)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA synchronous=NORMAL")
            store._migrate()
        except apsw.NotADBError as exc:
            conn.close()
            raise UsageError(f"{db_path} is not a vidsearch index (not an SQLite file)") from exc
        return store

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise IndexVersionError(
                f"the index {self.path} was written by a newer vidsearch (schema {version}, "
                f"this one knows {SCHEMA_VERSION}); upgrade vidsearch"
            )
        if version == 0 and self._has_table("videos"):
            raise UsageError(f"{self.path} is an SQLite file but not a vidsearch index")
        while version < SCHEMA_VERSION:
            with self.db:
                MIGRATIONS[version](self.db)
                version += 1
                self.db.execute(f"PRAGMA user_version={version}")

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

    def videos_by_fingerprint(self, fingerprint: str) -> list[StoredVideo]:
        rows = self.db.execute(f"SELECT {self._VIDEO_COLS} FROM videos WHERE fingerprint=?", (fingerprint,))
        return [self._video(r) for r in rows]

    def move_video(self, video_id: int, path: str, root_id: int | None, size: int, mtime_ns: int) -> None:
        """A file moved or was renamed: keep its moments and vectors, change where it is."""
        self.db.execute(
            "UPDATE videos SET path=?, root_id=?, size=?, mtime_ns=? WHERE id=?",
            (_fs(path), root_id, size, mtime_ns, video_id),
        )

    def touch_video(self, video_id: int, size: int, mtime_ns: int) -> None:
        self.db.execute("UPDATE videos SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, video_id))

    def delete_video(self, video_id: int) -> None:
        if self._has_table("moment_vectors"):
            self.db.execute("DELETE FROM moment_vectors WHERE video_id=?", (video_id,))
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
        error: str | None = None,
    ) -> int:
        """Write one video with all its moments and vectors (or its failure) in one transaction.

        An existing row for the same path is replaced. Returns the video id.
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
                " width, height, rotation, codec, created, indexed_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                    info.created if info else None,
                    time.time(),
                ),
            )
            video_id = int(self.db.last_insert_rowid())
            if error is None and vectors is not None and len(moments):
                vectors = np.ascontiguousarray(vectors, dtype=np.float32)
                for i, (start, end) in enumerate(moments):
                    cost = costs[i] if i < len(costs) else MomentCost()
                    self.db.execute(
                        'INSERT INTO moments(video_id, start, "end", frames, visual_tokens, exit_layer, seconds)'
                        " VALUES(?,?,?,?,?,?,?)",
                        (video_id, start, end, cost.frames, cost.visual_tokens, cost.exit_layer, cost.seconds),
                    )
                    moment_id = self.db.last_insert_rowid()
                    self.db.execute(
                        "INSERT INTO moment_vectors(moment_id, embedding, video_id) VALUES(?,?,?)",
                        (moment_id, vectors[i].tobytes(), video_id),
                    )
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

        The video filter applies inside the KNN scan, so a filtered search still returns ``k`` moments
        when that many exist.
        """
        if not self._has_table("moment_vectors") or k <= 0:
            return []
        if video_ids is not None and not video_ids:
            return []
        k = min(k, KNN_MAX_K)
        vec = np.ascontiguousarray(query, dtype=np.float32).tobytes()
        sql = "SELECT moment_id, distance FROM moment_vectors WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [vec, k]
        if video_ids is not None:
            sql += " AND video_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(video_ids)))
        hits = self.db.execute(sql, params).fetchall()
        return self.candidates({mid: 1.0 - dist for mid, dist in hits})

    def candidates(self, similarity: dict[int, float]) -> list[Candidate]:
        """Load moment rows for the given moment ids, carrying the given similarities, best first."""
        if not similarity:
            return []
        rows = self.db.execute(
            'SELECT m.id, m.video_id, v.path, m.start, m."end", m.frames, m.visual_tokens, m.exit_layer,'
            " m.seconds, COALESCE(r.online, 1) FROM moments m JOIN videos v ON v.id = m.video_id"
            " LEFT JOIN roots r ON r.id = v.root_id WHERE m.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(similarity)),),
        ).fetchall()
        out = [
            Candidate(
                moment_id=mid,
                video_id=vid,
                path=_str(path),
                start=start,
                end=end,
                similarity=float(similarity[mid]),
                cost={"frames": fr, "visual_tokens": vt, "exit_layer": el, "seconds": round(sec, 4)},
                available=bool(online),
            )
            for mid, vid, path, start, end, fr, vt, el, sec, online in rows
        ]
        out.sort(key=lambda c: -c.similarity)
        return out

    def vectors(self, moment_ids: Sequence[int]) -> np.ndarray:
        """The stored vectors of the given moments, in the given order."""
        if not moment_ids:
            return np.zeros((0, self.dim or 0), np.float32)
        rows = dict(
            self.db.execute(
                "SELECT moment_id, embedding FROM moment_vectors WHERE moment_id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(moment_ids)),),
            ).fetchall()
        )
        return np.stack([np.frombuffer(rows[m], dtype=np.float32) for m in moment_ids])

    def moments_of(self, video_id: int) -> list[tuple[int, float, float]]:
        rows = self.db.execute(
            'SELECT id, start, "end" FROM moments WHERE video_id=? ORDER BY start', (video_id,)
        )
        return [(int(i), float(s), float(e)) for i, s, e in rows]

    def sample_moment_ids(self, n: int, within: Sequence[int] | None = None) -> list[int]:
        """A deterministic spread of up to ``n`` moment ids over the library (or over ``within`` videos).

        Used to calibrate scores against what a typical moment of this library looks like.
        """
        if within is not None:
            rows = self.db.execute(
                "SELECT id FROM moments WHERE video_id IN (SELECT value FROM json_each(?)) ORDER BY id",
                (json.dumps(list(within)),),
            )
        else:
            rows = self.db.execute("SELECT id FROM moments ORDER BY id")
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
        size = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                size += os.path.getsize(str(self.path) + suffix)
        dim = self.dim
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
        )

    def failures(self) -> list[tuple[str, str]]:
        rows = self.db.execute("SELECT path, error FROM videos WHERE status='failed' ORDER BY path")
        return [(_str(p), e or "") for p, e in rows]

    def vacuum(self) -> None:
        self.db.execute("VACUUM")


@contextlib.contextmanager
def writer_lock(db_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the index's writer lock: one process writes at a time; readers never wait for it.

    Raises IndexLockedError naming the process that holds it.
    """
    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise IndexLockedError(
                f"the index {db_path} is being written by {holder}; wait for it to finish or stop it"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"vidsearch pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
