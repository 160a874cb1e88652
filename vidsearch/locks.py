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

from vidsearch.errors import IndexLockedError


@contextlib.contextmanager
def exclusive(lock_path: str | os.PathLike[str]) -> Iterator[int | None]:
    """Try to take an exclusive lock on ``lock_path`` (created 0600) without waiting.

    Yields the open descriptor when the lock is ours, None when another process holds it; the lock
    is released on leaving the block.
    """
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield fd
    finally:
        os.close(fd)


@contextlib.contextmanager
def writer_lock(db_path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the index's writer lock: one process writes at a time; readers never wait for it.

    Raises IndexLockedError naming the process that holds it.
    """
    lock_path = Path(str(db_path) + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(lock_path) as fd:
        if fd is None:
            with open(lock_path, "rb") as f:
                holder = f.read(200).decode(errors="replace").strip() or "another process"
            raise IndexLockedError(
                f"the index {db_path} is being written by {holder}; wait for it to finish or stop it"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"vidsearch pid {os.getpid()}".encode(), 0)
        yield
