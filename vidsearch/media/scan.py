"""Walk library roots: which video files exist, and what changed since the index last saw them.

A rescan reads only directory entries and ``stat`` results; file contents are read (a few MiB, for
the fingerprint) only for files that are new or changed, so an unchanged library rescans in seconds.

Only regular files are ever read. A FIFO, a device or a socket named like a video (or a symlink to
one, such as ``x.mp4 -> /dev/zero``) would block ``open`` forever or never reach its end; a symlink
loop has no file at all. The walk hands such names on with the reason (``FoundFile.problem``), so the
indexer can report them once and remember them like any other bad file. Files are opened with
:func:`open_regular`: non-blocking, checked to be regular on the open descriptor, and given up on
after a few seconds (a stalled network share).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from vidsearch.errors import VideoOpenError

VIDEO_EXTENSIONS = frozenset(
    ".mp4 .mov .m4v .mkv .webm .avi .mts .m2ts .3gp .wmv .mpg .mpeg .ts .flv .ogv".split()
)
_CHUNK = 1 << 20  # fingerprint reads this much at the start, middle and end of a file
OPEN_TIMEOUT = 5.0  # seconds an open may take before the file is skipped (a stalled network share)


@dataclass(frozen=True)
class FoundFile:
    """A video file seen on disk by the walk.

    ``problem`` says why a name that looks like a video cannot be read as one (not a regular file, a
    symlink loop, a link to nothing); then ``size`` and ``mtime_ns`` are the link's or node's own, so a
    bad name is remembered until it changes.
    """

    path: str
    size: int
    mtime_ns: int
    problem: str | None = None


def special_kind(mode: int) -> str | None:
    """What a file that is not a regular file or a folder is, in words (None for those two)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _not_regular(kind: str) -> str:
    return kind if kind == "not a regular file" else f"not a regular file: {kind}"


def _unreachable(path: str, exc: OSError) -> FoundFile | None:
    """A name whose ``stat`` failed: a symlink loop or a link to nothing becomes a bad file (kept
    with the link's own times); any other failure returns None (reported, not remembered)."""
    if exc.errno not in (errno.ELOOP, errno.ENOENT):
        return None
    try:
        link = os.lstat(path)
    except OSError:
        return None  # gone while we looked
    if not stat.S_ISLNK(link.st_mode):
        return None
    reason = "a symlink loop" if exc.errno == errno.ELOOP else "a symlink to nothing (its target is missing)"
    return FoundFile(path, link.st_size, link.st_mtime_ns, reason)


def examine(path: str) -> FoundFile | None:
    """``path`` (a video name) as the walk sees it: a regular file, or a bad file with its problem.

    Raises OSError when it cannot be looked at (permission denied, vanished).
    """
    try:
        st = os.stat(path)
    except OSError as exc:
        bad = _unreachable(path, exc)
        if bad is None:
            raise
        return bad
    kind = special_kind(st.st_mode)
    if kind is not None:
        return FoundFile(path, st.st_size, st.st_mtime_ns, _not_regular(kind))
    if stat.S_ISDIR(st.st_mode):
        return None
    return FoundFile(path, st.st_size, st.st_mtime_ns)


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

    Symlinked folders are followed once (loops are cut by device and inode); unreadable folders are
    reported through ``on_problem(path, reason)`` and skipped. Video names that are not regular files
    (FIFOs, devices, sockets, symlink loops, links to nothing) are yielded with their ``problem``.
    """
    report = on_problem or (lambda path, reason: None)
    if not os.path.isdir(root):
        if is_video_name(root):
            try:
                found = examine(os.path.abspath(root))
            except OSError as exc:
                report(root, exc.strerror or str(exc))
                return
            if found is not None:
                yield found
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
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False  # a symlink loop: looked at below like any other name
            try:
                if is_dir:
                    stack.append(entry.path)
                elif is_video_name(entry.name):
                    found = examine(entry.path)
                    if found is not None:
                        yield found
            except OSError as exc:  # a file gone while we looked, permission denied
                report(entry.path, exc.strerror or str(exc))


def open_regular(path: str, timeout: float = OPEN_TIMEOUT) -> int:
    """Open ``path`` (symlinks followed) for reading and return the descriptor; the caller closes it.

    The open never blocks (``O_NONBLOCK``: a FIFO would wait for a writer), the descriptor must be a
    regular file, and an open that has not returned after ``timeout`` seconds (a network share that
    stopped answering) is given up on. Raises VideoOpenError for a file that is not regular or did
    not open in time, OSError for the rest (permission denied, missing).
    """
    state: dict[str, object] = {}
    done = threading.Event()
    lock = threading.Lock()

    def attempt() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            state["error"] = exc
            done.set()
            return
        with lock:
            if state.get("abandoned"):
                os.close(fd)  # the caller gave up on us meanwhile
                return
            state["fd"] = fd
        done.set()

    opener = threading.Thread(target=attempt, name="vidsearch-open", daemon=True)
    opener.start()
    if not done.wait(timeout):
        with lock:
            if "fd" not in state and "error" not in state:
                state["abandoned"] = True
                raise VideoOpenError(f"{path!r} could not be opened within {timeout:g} s (a stalled share?)")
    if "error" in state:
        raise state["error"]  # type: ignore[misc]
    fd = int(state["fd"])  # type: ignore[call-overload]
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise VideoOpenError(f"{path!r} is {_not_regular(special_kind(mode) or 'a folder')}")
    return fd


def readable_size(path: str, timeout: float = OPEN_TIMEOUT) -> int:
    """The size of ``path`` after proving it is a regular file that opens (in ``timeout`` seconds).

    What every reader calls before handing a name to FFmpeg, which would block on a FIFO and read a
    device without end. Raises as :func:`open_regular` does.
    """
    fd = open_regular(path, timeout)
    try:
        return os.fstat(fd).st_size
    finally:
        os.close(fd)


def fingerprint(path: str, size: int | None = None) -> str:
    """A content fingerprint that survives renames and moves: size plus three 1 MiB samples.

    Reads at most 3 MiB, from a regular file only. Raises VideoOpenError when ``path`` is not a
    regular file or does not open in time, OSError when it cannot be read.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as fh:
        if size is None:
            size = os.fstat(fd).st_size
        digest = hashlib.blake2b(digest_size=16)
        digest.update(str(size).encode())
        if size <= 3 * _CHUNK:
            digest.update(fh.read(3 * _CHUNK))  # bounded even if the file grew since its stat
        else:
            for offset in (0, size // 2 - _CHUNK // 2, size - _CHUNK):
                fh.seek(offset)
                digest.update(fh.read(_CHUNK))
    return digest.hexdigest()
