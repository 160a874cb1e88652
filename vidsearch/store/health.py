"""The index file's health: SQLite's failures as errors a user can act on, checks of the file (quick
and full), and setting a damaged file aside so a new index can start.

SQLite reports a full disk, read-only media, a damaged page or a file it cannot open as exceptions
of its binding; :func:`translate` turns each into the typed error (``vidsearch.errors``) whose
message names the file and the way out, and whose exit code a script can tell apart from "no match".
"""

from __future__ import annotations

import contextlib
import os
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from vidsearch.errors import (
    DiskFullError,
    IndexCorruptError,
    IndexLockedError,
    IndexStorageError,
    VidsearchError,
)

if TYPE_CHECKING:
    from vidsearch.store.db import Store

SQLITE_MAGIC = b"SQLite format 3\0"
# Words of sqlite-vec's errors when its stored chunks do not read back (a damaged page under them).
_VECTOR_READ_WORDS = ("blob", "chunk", "rowid", "vector data", "iter error", "metadata value")
# Files that live beside the index and go with it when it is set aside.
SIDECARS = ("-wal", "-shm", ".vidx", ".vidx-delta")


def path_checksum(raw_path: bytes) -> int:
    """The checksum stored with a video row: its file name's bytes."""
    return zlib.crc32(raw_path)


def moment_checksum(video_id: int, start: float, end: float, vector: bytes) -> int:
    """The checksum stored with a moment row: what an answer is made of (its video, times and vector).

    SQLite checks the structure of its pages, not the values in them: a damaged page can still read
    back as a wrong time or a garbled vector, which would give a wrong answer without an error.
    """
    return zlib.crc32(vector, zlib.crc32(struct.pack("<qdd", int(video_id), float(start), float(end))))


def damaged(path: Path | str, detail: str) -> IndexCorruptError:
    """The error for a damaged index file: what was found, and the way out."""
    return IndexCorruptError(
        f"the index {path} is damaged ({detail}); `vidsearch status --check` lists what is wrong, "
        f"`vidsearch index --rebuild` keeps the damaged file aside and indexes your folders again"
    )


def has_sqlite_header(path: Path | str) -> bool:
    """Whether the file starts as an SQLite database does (so a failure to read it means damage)."""
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def translate(exc: BaseException, path: Path | str) -> VidsearchError | None:
    """The typed error for an SQLite failure on the index at ``path``; None when ``exc`` is not one
    this module knows (a bug, which the caller lets through)."""
    import apsw

    if not isinstance(exc, apsw.Error):
        return None
    reason = str(exc).split(":", 1)[-1].strip() or type(exc).__name__
    # SQLite names a full disk only for its own writes: one met while it maps or grows its -shm or
    # -wal file arrives as an I/O error, told apart here by the space left
    if isinstance(exc, apsw.FullError) or (isinstance(exc, apsw.IOError) and _no_space_left(path)):
        return DiskFullError(
            f"the disk holding the index {path} is full ({reason}); free some space and run the command "
            f"again: everything saved before is kept"
        )
    if isinstance(exc, apsw.CorruptError):
        return damaged(path, reason)
    if isinstance(exc, apsw.NotADBError):
        if has_sqlite_header(path):
            return damaged(path, reason)
        return IndexStorageError(f"{path} is not a vidsearch index (not an SQLite file); give another file with --db")
    if isinstance(exc, apsw.ReadOnlyError):
        return IndexStorageError(
            f"the index {path} cannot be written ({reason}): it is on read-only media or not yours. It can "
            f"still be searched; to index, give a writable file with --db"
        )
    if isinstance(exc, apsw.CantOpenError):
        return IndexStorageError(
            f"cannot open the index {path} ({reason}): is its folder there, and writable? Give another "
            f"file with --db"
        )
    if isinstance(exc, apsw.IOError):
        return IndexStorageError(
            f"reading or writing the index {path} failed ({reason}); check the disk (full, unplugged, "
            f"failing) and run the command again"
        )
    if isinstance(exc, apsw.BusyError):
        return IndexLockedError(f"the index {path} stayed busy ({reason}); another process holds it, try again")
    if isinstance(exc, apsw.SQLError) and any(word in str(exc).lower() for word in _VECTOR_READ_WORDS):
        return damaged(path, f"stored vectors do not read back: {reason}")
    return None


def _no_space_left(path: Path | str) -> bool:
    """Whether the file system holding ``path`` has no free block left for this user."""
    try:
        return os.statvfs(os.path.dirname(os.path.abspath(path))).f_bavail == 0
    except OSError:
        return False


@contextlib.contextmanager
def storage_errors(path: Path | str) -> Iterator[None]:
    """Raise the typed error of any SQLite failure inside the block (see :func:`translate`)."""
    try:
        yield
    except Exception as exc:
        typed = translate(exc, path)
        if typed is None:
            raise
        raise typed from exc


def quick_check(store: Store) -> list[str]:
    """Problems a quick look finds ([] when none): SQLite's ``quick_check`` (every page's structure,
    no index cross-checks) and one vector row per moment. Reads the whole file once."""
    db = store.db
    problems = [row[0] for row in db.execute("PRAGMA quick_check(20)") if row[0] != "ok"]
    if problems:
        return problems
    moments = int(db.execute("SELECT count(*) FROM moments").fetchone()[0])
    if store._has_table("moment_vectors"):
        vectors = int(db.execute("SELECT count(*) FROM moment_vectors_rowids").fetchone()[0])
        if vectors != moments:
            problems.append(f"{moments} moments but {vectors} vectors")
    return problems


def full_check(store: Store) -> list[str]:
    """Problems a full check finds ([] when none): SQLite's ``integrity_check`` (indexes included),
    every moment's vector, times and file name against their checksums, and the compact search
    index's checksums and ids. Reads everything."""
    db = store.db
    problems = [row[0] for row in db.execute("PRAGMA integrity_check(20)") if row[0] != "ok"]
    if problems:
        return problems
    problems += quick_check(store)
    problems += store.verify_rows()
    problems += store.verify_search_index()
    return problems


def set_aside(path: Path) -> Path:
    """Move the index file at ``path`` and its sidecars out of the way (renamed, never deleted);
    return where the index file went (``<name>.damaged-<time>``)."""
    path = Path(os.path.realpath(path))  # the sidecars are beside the real file
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    os.replace(path, target)
    for suffix in SIDECARS:
        side = Path(str(path) + suffix)
        with contextlib.suppress(FileNotFoundError):
            if suffix.startswith(".vidx"):
                side.unlink()  # rebuilt from the new index; never trusted across files
            else:
                os.replace(side, Path(str(target) + suffix))
    return target

