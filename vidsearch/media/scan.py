"""Walk library roots: which video files exist, and what changed since the index last saw them.

A rescan reads only directory entries and ``stat`` results; file contents are read (a few MiB, for
the fingerprint) only for files that are new or changed, so an unchanged library rescans in seconds.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .m4v .mkv .webm .avi .mts .m2ts .3gp .wmv .mpg .mpeg .ts .flv .ogv".split()
)
_CHUNK = 1 << 20  # fingerprint reads this much at the start, middle and end of a file


@dataclass(frozen=True)
class FoundFile:
    """A video file seen on disk by the walk."""

    path: str
    size: int
    mtime_ns: int


def is_video_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in VIDEO_EXTENSIONS


def root_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` cannot be a library root, in a user's words, or None when it can: a root is a
    folder or a video file (by its name); a device such as /dev/null, a pipe or a text file would
    be registered and then silently hold nothing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "no such file or folder"
    except OSError as exc:
        return exc.strerror or str(exc)
    if stat.S_ISDIR(st.st_mode):
        return None
    if not stat.S_ISREG(st.st_mode):
        return "not a folder or a video file (a device, a pipe or a socket)"
    if not is_video_name(os.fspath(path)):
        return "not a folder or a video file (.mp4, .mov, .mkv and the like)"
    return None


def walk_videos(root: str, on_problem: Callable[[str, str], None] | None = None) -> Iterator[FoundFile]:
    """Yield every video file under ``root`` (a folder or a single file), recursively.

    Symlinked folders are followed once (loops are cut by device and inode); unreadable folders and
    broken links are reported through ``on_problem(path, reason)`` and skipped.
    """
    report = on_problem or (lambda path, reason: None)
    try:
        st = os.stat(root)
    except OSError as exc:
        report(root, exc.strerror or str(exc))
        return
    if not os.path.isdir(root):
        if is_video_name(root):
            yield FoundFile(os.path.abspath(root), st.st_size, st.st_mtime_ns)
        return
    seen: set[tuple[int, int]] = set()
    stack = [os.path.abspath(root)]
    while stack:
        folder = stack.pop()
        try:
            fst = os.stat(folder)
        except OSError as exc:
            report(folder, exc.strerror or str(exc))
            continue
        key = (fst.st_dev, fst.st_ino)
        if key in seen:
            continue  # a symlink loop or a folder reached twice
        seen.add(key)
        try:
            entries = list(os.scandir(folder))
        except OSError as exc:
            report(folder, exc.strerror or str(exc))
            continue
        for entry in sorted(entries, key=lambda e: e.name):
            try:
                if entry.is_dir():
                    stack.append(entry.path)
                elif is_video_name(entry.name):
                    est = entry.stat()
                    if not os.path.isfile(entry.path):
                        continue
                    yield FoundFile(entry.path, est.st_size, est.st_mtime_ns)
            except OSError as exc:  # a broken symlink, a file gone while we looked
                report(entry.path, exc.strerror or str(exc))


def fingerprint(path: str, size: int | None = None) -> str:
    """A content fingerprint that survives renames and moves: size plus three 1 MiB samples.

    Raises OSError when the file cannot be read.
    """
    if size is None:
        size = os.path.getsize(path)
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(size).encode())
    with open(path, "rb") as fh:
        if size <= 3 * _CHUNK:
            digest.update(fh.read())
        else:
            for offset in (0, size // 2 - _CHUNK // 2, size - _CHUNK):
                fh.seek(offset)
                digest.update(fh.read(_CHUNK))
    return digest.hexdigest()
