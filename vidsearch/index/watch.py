"""Keep the index current as videos arrive, change, move and go: filesystem events -> the same indexing path.

Events are hints and the disk is the truth. An event only marks a path as pending; a pending path is
indexed (or forgotten) once it has been quiet, with size and mtime unchanged, for the settle time, by
:func:`vidsearch.index.indexer.index_paths`, the code ``index`` runs. So a file still being copied is not
read half-written, a burst of events gives one job, and a file replaced in place is re-embedded.
Renames and folder moves are applied at once (:func:`vidsearch.index.indexer.move_prefix`): vectors are
kept, nothing is re-embedded.

The :class:`Watcher` holds the index's writer lock for its whole life, first catches up with what
changed while it was not running (:func:`vidsearch.index.indexer.update_index`), and every few seconds
checks for roots that vanished (kept, marked offline) or came back (caught up, watched again).
Only the thread that calls :meth:`Watcher.run` touches the index; watchdog's threads only queue events.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vidsearch.embed.base import Embedder
from vidsearch.index.indexer import (
    Cancelled,
    IndexStats,
    index_paths,
    move_prefix,
    moved_path,
    remove_paths,
    root_of,
    update_index,
)
from vidsearch.index.speech import SpeechReader, videos_of_sidecar
from vidsearch.media.scan import is_video_name, walk_videos
from vidsearch.output.present import plural
from vidsearch.speech.subtitles import SIDECAR_EXTENSIONS

DEFAULT_SETTLE = 2.0  # seconds a file must stay unchanged before it is read
ROOT_CHECK_SECONDS = 3.0  # how often roots are checked for vanishing or coming back
POLL_INTERVAL = 2.0  # seconds between directory scans when polling
# filesystems whose changes made elsewhere send no inotify events: watch them by polling
NETWORK_FS = frozenset(
    "nfs nfs4 cifs smbfs smb3 ncpfs 9p afs ceph glusterfs lustre gpfs sshfs davfs fuse".split()
)

Signature = tuple[int, int]  # (size, mtime_ns)


def file_signature(path: str) -> Signature | None:
    """(size, mtime_ns) of a file, or None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


@dataclass(frozen=True)
class WatchEvent:
    """One thing the watcher did or saw, for its output (a line on stderr or a JSON record).

    ``kind`` is one of: watching, polling, caught-up, indexing, indexed, moved, removed, skipped,
    speech-skipped (the words could not be read; the pictures are indexed), root-offline, root-online,
    note, stopped.
    """

    kind: str
    path: str = ""
    dest: str = ""
    message: str = ""
    moments: int = 0
    video_seconds: float = 0.0
    at: float = field(default_factory=time.time)

    def record(self) -> dict[str, Any]:
        """The event as a JSON-ready dict (empty fields left out; times in seconds)."""
        out: dict[str, Any] = {"time": round(self.at, 3), "event": self.kind}
        if self.path:
            out["path"] = self.path
        if self.dest:
            out["dest"] = self.dest
        if self.message:
            out["message"] = self.message
        if self.kind == "indexed":
            out["moments"] = self.moments
            out["video_seconds"] = round(self.video_seconds, 3)
        return out


@dataclass
class _Pending:
    signature: Signature | None
    changed_at: float


class SettleQueue:
    """Paths waiting to be quiet: due once no event and no size/mtime change for ``settle`` seconds.

    Pure bookkeeping (the clock is passed in, ``stat`` can be replaced), so it is tested without
    threads or sleeps. A path that is gone when it falls due is returned too (the caller forgets it).
    """

    def __init__(self, settle: float, stat: Callable[[str], Signature | None] = file_signature) -> None:
        self.settle = settle
        self._stat = stat
        self._items: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, path: object) -> bool:
        return path in self._items

    def touch(self, path: str, now: float) -> None:
        """Something happened to ``path`` at ``now``: (re)start its quiet period."""
        self._items[path] = _Pending(self._stat(path), now)

    def rename(self, old: str, new: str) -> None:
        """``old`` (a file or folder) became ``new``: pending paths under it follow, keeping their clocks."""
        for path in [p for p in self._items if moved_path(p, old, new) is not None]:
            target = moved_path(path, old, new)
            assert target is not None
            self._items[target] = self._items.pop(path)

    def discard_under(self, prefix: str) -> None:
        """Forget pending paths at or under ``prefix`` (a root that went offline)."""
        for path in [p for p in self._items if moved_path(p, prefix, prefix) is not None]:
            del self._items[path]

    def due(self, now: float) -> list[str]:
        """Take out and return the paths that are settled at ``now`` (sorted)."""
        ready = []
        for path, item in list(self._items.items()):
            if now - item.changed_at < self.settle:
                continue
            sig = self._stat(path)
            if sig != item.signature:  # still growing or rewritten without an event (polling, NFS)
                item.signature, item.changed_at = sig, now
                continue
            ready.append(path)
            del self._items[path]
        return sorted(ready)

    def sizes(self) -> set[int]:
        """Sizes of the pending files that exist (to recognise a file that moved between roots)."""
        return {item.signature[0] for item in self._items.values() if item.signature is not None}

    def next_due(self, now: float) -> float | None:
        """Seconds from ``now`` until the earliest pending path may be due; None when nothing is pending."""
        if not self._items:
            return None
        return max(0.0, min(i.changed_at for i in self._items.values()) + self.settle - now)


def poll_reason(path: str, mounts_file: str = "/proc/mounts") -> str | None:
    """Why ``path`` should be polled rather than watched for events, or None when events work there.

    Events made on another machine never reach a network or FUSE filesystem's inotify; the type comes
    from the longest mount point holding the path in ``mounts_file`` (Linux; elsewhere returns None).
    """
    try:
        with open(mounts_file, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best: tuple[str, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        if moved_path(real, mount, mount) is not None or mount == "/":
            if best is None or len(mount) > len(best[0]):
                best = (mount, parts[2])
    if best is None:
        return None
    fstype = best[1]
    base = fstype.split(".")[0]
    if fstype in NETWORK_FS or (base == "fuse" and fstype != "fuseblk") or base in NETWORK_FS:
        return f"{fstype} filesystem at {best[0]} sends no change events"
    return None


@dataclass(frozen=True)
class _RawEvent:
    kind: str  # created, modified, closed, moved, deleted
    src: str
    dest: str
    is_dir: bool
    synthetic: bool
    at: float  # monotonic time it arrived


class _Inbox:
    """The watchdog event handler: turns events into plain records on a queue (runs in watchdog's thread)."""

    def __init__(self, wake: threading.Event) -> None:
        self.events: queue.Queue[_RawEvent] = queue.Queue()
        self.wake = wake

    def dispatch(self, event: Any) -> None:
        kind = {"created": "created", "modified": "modified", "closed": "closed", "moved": "moved",
                "deleted": "deleted"}.get(event.event_type)
        if kind is None:
            return
        src, dest = os.fsdecode(event.src_path), os.fsdecode(event.dest_path or "")
        self.events.put(
            _RawEvent(kind, src, dest, bool(event.is_directory), bool(getattr(event, "is_synthetic", False)),
                      time.monotonic())
        )
        self.wake.set()


class _EventProgress:
    """Implements vidsearch.index.indexer.IndexProgress by turning its callbacks into WatchEvents."""

    def __init__(self, emit: Callable[[WatchEvent], None]) -> None:
        self.emit = emit
        self.current = ""

    def planned(self, files: int, total_bytes: int) -> None:
        pass

    def file_started(self, path: str) -> None:
        self.current = path
        self.emit(WatchEvent("indexing", path))

    def file_done(self, path: str, size: int, moments: int, video_seconds: float) -> None:
        self.current = ""
        self.emit(WatchEvent("indexed", path, moments=moments, video_seconds=video_seconds))

    def skipped(self, path: str, reason: str) -> None:
        self.current = ""
        self.emit(WatchEvent("skipped", path, message=reason))

    def note(self, message: str) -> None:
        self.emit(WatchEvent("note", message=message))

    def thumbnails(self, done: int, total: int) -> None:
        pass  # the start and any skipped file come as notes
    def speech_skipped(self, path: str, reason: str) -> None:
        self.emit(WatchEvent("speech-skipped", path, message=reason))

    def speech_refresh(self, done: int, total: int) -> None:
        if done == 0:
            self.emit(WatchEvent("note", message=f"reading the words of {total} indexed video(s), pictures kept"))


class Watcher:
    """Follow library roots and keep the index at ``store_path`` current until stopped.

    ``roots`` are folders (registered as library roots if new); ``get_embedder`` loads the model and
    is called at most once, when the first file needs embedding (the model is then kept);
    ``model_name`` is what the index records. ``settle`` is the quiet time in seconds before a changed
    file is read. ``poll`` forces polling for every root (otherwise only where events cannot work).
    ``on_event`` receives a :class:`WatchEvent` for each thing done. ``speech`` reads what is said in the
    videos (None: words are not read); a subtitle file that appears, changes or goes beside a video gets
    that video's words read again. ``stop`` (or :meth:`request_stop`)
    ends :meth:`run` within a moment; a file being indexed then is rolled back (not saved).
    """

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        roots: Sequence[str],
        get_embedder: Callable[[], Embedder],
        *,
        model_name: str = "lite",
        settle: float = DEFAULT_SETTLE,
        poll: bool = False,
        poll_interval: float = POLL_INTERVAL,
        root_check: float = ROOT_CHECK_SECONDS,
        on_event: Callable[[WatchEvent], None] | None = None,
        stop: threading.Event | None = None,
        min_len: float = 2.0,
        max_len: float = 10.0,
        speech: SpeechReader | None = None,
    ) -> None:
        self.store_path = store_path
        self.roots = [os.path.abspath(r) for r in roots]
        self.model_name = model_name
        self.settle = settle
        self.poll = poll
        self.poll_interval = poll_interval
        self.root_check = root_check
        self.on_event = on_event or (lambda event: None)
        self.stop = stop or threading.Event()
        self.min_len, self.max_len = min_len, max_len
        self.speech = speech
        self._factory = get_embedder
        self._embedder: Embedder | None = None
        self._wake = threading.Event()
        self._inbox = _Inbox(self._wake)
        self._pending = SettleQueue(settle)
        self._progress = _EventProgress(self._emit)
        self._store: Any = None
        self._root_ids: dict[str, int] = {}
        self._online: dict[str, bool] = {}
        self._was_mount: dict[str, bool] = {}
        self._watches: dict[str, tuple[Any, Any]] = {}
        self._observers: dict[str, Any] = {}

    # ---- lifecycle -----------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask :meth:`run` to return (safe from a signal handler or another thread)."""
        self.stop.set()
        self._wake.set()

    def run(self) -> None:
        """Take the writer lock, catch up, then follow events until stopped.

        Raises IndexLockedError when another process writes the index, IndexMismatchError when the
        index belongs to another model, UsageError when watchdog is not installed.
        """
        from vidsearch.locks import writer_lock
        from vidsearch.store import Store

        with writer_lock(self.store_path), Store.open(self.store_path) as store:
            self._store = store
            for root in list(self.roots):
                if os.path.isfile(root):  # a single file indexed as a root: nothing to follow
                    self.roots.remove(root)
                    self._emit(WatchEvent("note", root, message=f"not a folder, not watched: {root}"))
                    continue
                self._root_ids[root] = store.add_root(root)
            try:
                note = f"{plural(len(self.roots), 'root')}, settle {self.settle:g} s"
                self._emit(WatchEvent("watching", message=note))
                self._check_roots()
                self._loop()
                self._emit(WatchEvent("stopped"))
            except Cancelled:
                current = self._progress.current
                self._emit(WatchEvent("stopped", current, message="interrupted; this file was not saved"
                                      if current else ""))
            finally:
                for observer in self._observers.values():
                    observer.stop()
                for observer in self._observers.values():
                    observer.join(timeout=2.0)
                if self._embedder is not None:
                    self._embedder.close()
                self._store = None

    def _loop(self) -> None:
        next_root_check = time.monotonic() + self.root_check
        while not self.stop.is_set():
            self._drain()
            now = time.monotonic()
            if now >= next_root_check:
                self._check_roots()
                next_root_check = now + self.root_check
            ready = self._pending.due(now)
            if ready:
                self._reconcile(ready)
                continue
            waits = [next_root_check - now, 1.0]  # 1 s: notice a stop Event set without request_stop
            due_in = self._pending.next_due(now)
            if due_in is not None:
                waits.append(due_in)
            self._wake.wait(max(0.01, min(waits)))
            self._wake.clear()

    # ---- helpers -------------------------------------------------------------------------
    def _emit(self, event: WatchEvent) -> None:
        self.on_event(event)

    def _cancelled(self) -> bool:
        return self.stop.is_set()

    def _get_embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = self._factory()
        return self._embedder

    def _root_for(self, path: str) -> str | None:
        found = root_of(path, [(0, r) for r in self.roots if self._online.get(r)])
        return found[1] if found else None

    def _root_present(self, root: str) -> bool:
        if not os.path.isdir(root):
            return False
        # an unmounted drive can leave its empty mount point behind: that is not "every file deleted"
        return not self._was_mount.get(root) or os.path.ismount(root)

    # ---- roots ---------------------------------------------------------------------------
    def _check_roots(self) -> None:
        """Notice roots that vanished (keep their moments, mark offline) or appeared (catch up, watch)."""
        back: list[str] = []
        for root in self.roots:
            here = self._root_present(root)
            was = self._online.get(root)
            if here == was:
                continue
            self._online[root] = here
            if here:
                self._was_mount.setdefault(root, os.path.ismount(root))
                self._store.set_root_online(self._root_ids[root], True)
                self._watch_root(root)
                back.append(root)
                if was is False:
                    self._emit(WatchEvent("root-online", root))
            else:
                self._store.set_root_online(self._root_ids[root], False)
                self._unwatch_root(root)
                self._pending.discard_under(root)
                self._emit(WatchEvent("root-offline", root, message="moments kept, marked unavailable"))
        if back:
            stats = update_index(
                self._store, back, self._get_embedder, self._progress, model_name=self.model_name,
                min_len=self.min_len, max_len=self.max_len, cancel=self._cancelled, speech=self.speech,
            )
            self._emit(WatchEvent("caught-up", message=_summary(stats)))

    def _watch_root(self, root: str) -> None:
        from vidsearch.errors import UsageError

        try:
            from watchdog.events import (
                DirCreatedEvent,
                DirDeletedEvent,
                DirMovedEvent,
                FileClosedEvent,
                FileCreatedEvent,
                FileDeletedEvent,
                FileModifiedEvent,
                FileMovedEvent,
            )
        except ImportError as exc:
            raise UsageError(
                "watch needs the watchdog package, which vidsearch depends on but this install lacks: "
                "pip install watchdog (in vidsearch's environment)"
            ) from exc
        wanted = [FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileMovedEvent, FileDeletedEvent,
                  DirCreatedEvent, DirMovedEvent, DirDeletedEvent]
        reason = "--poll" if self.poll else poll_reason(root)
        if reason is None:
            try:
                observer = self._observer("events")
                self._watches[root] = (observer, observer.schedule(self._inbox, root, recursive=True,
                                                                   event_filter=wanted))
                return
            except OSError as exc:  # e.g. the inotify watch limit; polling still works
                reason = f"change events unavailable ({exc.strerror or exc})"
        observer = self._observer("polling")
        self._watches[root] = (observer, observer.schedule(self._inbox, root, recursive=True,
                                                           event_filter=wanted))
        self._emit(WatchEvent("polling", root, message=f"every {self.poll_interval:g} s: {reason}"))

    def _observer(self, kind: str) -> Any:
        if kind not in self._observers:
            # Any: watchdog's stubs want a FileSystemEventHandler, and _Inbox only duck-types one
            # (subclassing it would import the optional watchdog with this module).
            observer: Any
            if kind == "polling":
                from watchdog.observers.polling import PollingObserver

                observer = PollingObserver(timeout=self.poll_interval)
            else:
                from watchdog.observers import Observer

                observer = Observer()
            observer.daemon = True
            observer.start()
            self._observers[kind] = observer
        return self._observers[kind]

    def _unwatch_root(self, root: str) -> None:
        entry = self._watches.pop(root, None)
        if entry is None:
            return
        observer, watch = entry
        try:
            observer.unschedule(watch)
        except (KeyError, OSError):
            pass  # its emitter already stopped when the folder went away

    # ---- events --------------------------------------------------------------------------
    def _drain(self) -> None:
        while True:
            try:
                event = self._inbox.events.get_nowait()
            except queue.Empty:
                return
            self._apply(event)

    def _apply(self, event: _RawEvent) -> None:
        if event.kind == "moved":
            if not event.synthetic:  # watchdog's per-file copies of a folder move: already applied
                self._moved(event.src, event.dest, event.is_dir, event.at)
            return
        if self._root_for(event.src) is None:
            return
        if event.kind == "deleted":
            if event.src in self.roots:
                self._check_roots()
            elif event.is_dir or is_video_name(event.src):
                self._pending.touch(event.src, event.at)  # forgotten once settled, if still gone
            else:
                self._subtitle_changed(event.src, event.at)
        elif event.is_dir:
            if event.kind == "created":  # a folder made, copied or moved in: follow what it holds
                self._touch_all(walk_videos(event.src), event.at)
        elif is_video_name(event.src):
            self._pending.touch(event.src, event.at)
        else:
            self._subtitle_changed(event.src, event.at)

    def _subtitle_changed(self, path: str, at: float) -> None:
        """When ``path`` is a subtitle file that appeared, changed or went, its videos get their words
        read again once they settle (their pictures are unchanged, so only the words are read)."""
        if self.speech is None or not path.lower().endswith(SIDECAR_EXTENSIONS):
            return
        for video in videos_of_sidecar(path):
            if self._root_for(video) is not None:
                self._pending.touch(video, at)

    def _touch_all(self, files: Iterable[Any], at: float) -> None:
        for f in files:
            self._pending.touch(f.path, at)

    def _moved(self, src: str, dest: str, is_dir: bool, at: float) -> None:
        self._pending.rename(src, dest)  # a file still being copied keeps settling under its new name
        moved, dropped = move_prefix(self._store, src, dest)
        if moved:
            self._emit(WatchEvent("moved", src, dest, message=f"{moved} videos" if is_dir else ""))
            if not is_dir and self.speech is not None:
                self._pending.touch(dest, at)  # a renamed video may have other subtitle files now
        if dropped:
            self._emit(WatchEvent("removed", src, message=f"moved out of the library: {dest}"))
        if not is_dir:  # a subtitle file renamed: the videos it belonged to, and those it belongs to now
            self._subtitle_changed(src, at)
            self._subtitle_changed(dest, at)
        if moved or dropped or self._root_for(dest) is None:
            return
        if is_dir:
            self._touch_all(walk_videos(dest), at)
        elif is_video_name(dest):
            self._pending.touch(dest, at)  # e.g. a download renamed from .part to .mp4

    def _reconcile(self, paths: Sequence[str]) -> None:
        """Bring settled paths in step with the disk: index what is there, forget what is gone."""
        self._check_roots()
        present = [p for p in paths if os.path.lexists(p)]  # a symlink loop is there (and bad), not gone
        gone = [p for p in paths if p not in present and self._root_for(p) is not None]
        if present:
            index_paths(
                self._store, present, self._get_embedder, self._progress, model_name=self.model_name,
                min_len=self.min_len, max_len=self.max_len, cancel=self._cancelled, speech=self.speech,
            )
        arriving = self._pending.sizes()
        for path in gone:
            video = self._store.video_by_path(path)
            if video is not None and video.size in arriving:
                # perhaps the same file, moved to another root (seen there as a new file still
                # settling): keep it until that one is indexed, so its vectors move with it
                self._pending.touch(path, time.monotonic())
                continue
            removed = remove_paths(self._store, [path])
            if removed:
                self._emit(WatchEvent("removed", path, message=f"{removed} videos" if removed > 1 else ""))


def _summary(stats: IndexStats) -> str:
    return ", ".join([f"{stats.indexed} indexed", *stats.counts()])
