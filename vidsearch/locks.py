"""File locks: one writer per index, one query service per socket.

Both are ``flock`` locks on a small file beside what they guard, so they vanish with the process that
held them (a killed indexer never leaves a stale lock behind).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from vidsearch.errors import IndexLockedError, IndexStorageError


def _try_lock(fd: int) -> bool:
    """Take an exclusive ``flock`` on ``fd`` without waiting; False when another process holds it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike[str]) -> Iterator[int | None]:
    """Try to take an exclusive lock on ``lock_path`` (created 0600) without waiting.

    Yields the open descriptor when the lock is ours, None when another process holds it; the lock
    is released on leaving the block.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield fd if _try_lock(fd) else None
    finally:
        os.close(fd)


def writer_lock_path(db_path: str | os.PathLike[str]) -> Path:
    """The lock file of the index at ``db_path``: named after the real file, so that every path that
    leads to it (a symlink, another spelling) takes the same lock."""
    return Path(os.path.realpath(db_path) + ".lock")


@contextlib.contextmanager
def writer_lock(db_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the index's writer lock: one process writes at a time; readers never wait for it.

    Raises IndexLockedError naming the process that holds it, IndexStorageError when the lock file
    cannot be made (read-only media).
    """
    from vidsearch.config import private_dir

    lock_path = writer_lock_path(db_path)
    try:
        private_dir(lock_path.parent)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise IndexStorageError(
            f"the index {db_path} cannot be written ({exc.strerror or exc}: {lock_path}); it can still be "
            f"searched, but to index give a writable file with --db"
        ) from exc
    try:
        if not _try_lock(fd):
            with open(lock_path, "rb") as f:
                holder = f.read(200).decode(errors="replace").strip() or "another process"
            raise IndexLockedError(
                f"the index {db_path} is being written by {holder}; wait for it to finish or stop it"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"vidsearch pid {os.getpid()}".encode(), 0)
        yield
    finally:
        os.close(fd)
