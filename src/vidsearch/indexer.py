"""Bring the index in step with the library: the incremental loop behind `vidsearch index` and `watch`.

scan (stat only) -> what is new, changed, moved, gone -> decode -> segment -> embed -> store, one
video per transaction, so an interrupted run leaves a consistent index and the next run resumes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vidsearch.embed.base import Embedder
from vidsearch.errors import MediaError
from vidsearch.scan import FoundFile, fingerprint, walk_videos
from vidsearch.store import Store, StoredVideo
from vidsearch.types import MomentCost, Segment, VideoInfo

EMBED_BATCH = 8  # moments per embedder call


@dataclass
class IndexStats:
    """What one run did; shown as the summary and used by the benchmark."""

    seen: int = 0
    indexed: int = 0
    unchanged: int = 0
    moved: int = 0
    removed: int = 0
    moments: int = 0
    video_seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    remembered_failures: int = 0  # bad files seen before and not changed since
    offline_roots: list[str] = field(default_factory=list)
    decode_seconds: float = 0.0
    embed_seconds: float = 0.0
    store_seconds: float = 0.0
    elapsed: float = 0.0


class IndexProgress(Protocol):
    """Callbacks the CLI uses to draw progress; every method is optional in spirit (no-ops are fine)."""

    def planned(self, files: int, total_bytes: int) -> None: ...

    def file_started(self, path: str) -> None: ...

    def file_done(self, path: str, size: int, moments: int, video_seconds: float) -> None: ...

    def skipped(self, path: str, reason: str) -> None: ...

    def note(self, message: str) -> None: ...


class SilentProgress:
    def planned(self, files: int, total_bytes: int) -> None:
        pass

    def file_started(self, path: str) -> None:
        pass

    def file_done(self, path: str, size: int, moments: int, video_seconds: float) -> None:
        pass

    def skipped(self, path: str, reason: str) -> None:
        pass

    def note(self, message: str) -> None:
        pass


@dataclass(frozen=True)
class _Job:
    file: FoundFile
    root_id: int
    fingerprint: str


def sample_interval(duration: float) -> float:
    """Seconds between sampled frames: dense enough to see cuts, sparser for very long files."""
    if duration > 3600:
        return 2.0
    if duration > 1200:
        return 1.0
    return 0.5


def update_index(
    store: Store,
    roots: Sequence[str],
    get_embedder: Callable[[], Embedder],
    progress: IndexProgress | None = None,
    *,
    model_name: str = "lite",
    min_len: float = 2.0,
    max_len: float = 10.0,
) -> IndexStats:
    """Index every video under ``roots`` (registering them as library roots) and return what was done.

    ``get_embedder`` is called at most once, and only when some file needs embedding; its vectors
    are recorded in the index as ``model_name``'s. Unchanged files
    (same path, size and mtime) cost one ``stat``; moved files keep their vectors; files gone from an
    online root are dropped; a root that is missing is reported offline and its moments are kept.
    """
    progress = progress or SilentProgress()
    stats = IndexStats()
    t0 = time.perf_counter()
    root_ids = [(store.add_root(r), os.path.abspath(r)) for r in roots]

    jobs, missing = _plan(store, root_ids, stats, progress)
    progress.planned(len(jobs), sum(j.file.size for j in jobs))

    # files that disappeared and did not turn up elsewhere
    with store.transaction():
        for video in missing.values():
            store.delete_video(video.id)
            stats.removed += 1

    embedder: Embedder | None = None
    for job in jobs:
        if embedder is None:
            embedder = get_embedder()
            store.bind_model(model_name, embedder.model_id, embedder.dim)
        _index_file(store, embedder, job, stats, progress, min_len=min_len, max_len=max_len)
    stats.elapsed = time.perf_counter() - t0
    return stats


def _plan(
    store: Store,
    root_ids: Sequence[tuple[int, str]],
    stats: IndexStats,
    progress: IndexProgress,
) -> tuple[list[_Job], dict[str, StoredVideo]]:
    """Walk the roots; apply moves at once; return the files to embed and the videos gone missing."""
    known: dict[str, StoredVideo] = {}
    found: list[tuple[FoundFile, int]] = []
    for root_id, root in root_ids:
        if not os.path.exists(root):
            store.set_root_online(root_id, False)
            stats.offline_roots.append(root)
            progress.note(f"root offline, keeping its moments: {root}")
            continue
        store.set_root_online(root_id, True)
        known.update(store.videos_under(root_id))
        for f in walk_videos(root, on_problem=lambda p, r: _skip(stats, progress, p, r)):
            found.append((f, root_id))
    seen_paths = {f.path for f, _ in found}
    missing = {p: v for p, v in known.items() if p not in seen_paths}
    jobs: list[_Job] = []
    for f, root_id in found:
        stats.seen += 1
        old = known.get(f.path) or store.video_by_path(f.path)
        if old is not None and old.size == f.size and old.mtime_ns == f.mtime_ns:
            if old.root_id != root_id:
                store.move_video(old.id, f.path, root_id, f.size, f.mtime_ns)
            stats.unchanged += 1
            if old.status == "failed":
                stats.remembered_failures += 1
            continue
        try:
            fp = fingerprint(f.path, f.size)
        except OSError as exc:
            _skip(stats, progress, f.path, exc.strerror or str(exc))
            continue
        moved_from = next(
            (v for v in store.videos_by_fingerprint(fp) if v.path in missing or not os.path.exists(v.path)),
            None,
        )
        if moved_from is not None and old is None:
            with store.transaction():
                store.move_video(moved_from.id, f.path, root_id, f.size, f.mtime_ns)
            missing.pop(moved_from.path, None)
            stats.moved += 1
            progress.note(f"moved: {moved_from.path} -> {f.path}")
            continue
        if old is not None and old.fingerprint == fp:
            # touched but not changed (mtime only): keep the vectors
            store.touch_video(old.id, f.size, f.mtime_ns)
            stats.unchanged += 1
            continue
        jobs.append(_Job(f, root_id, fp))
    return jobs, missing


def _skip(stats: IndexStats, progress: IndexProgress, path: str, reason: str) -> None:
    stats.skipped.append((path, reason))
    progress.skipped(path, reason)


def _index_file(
    store: Store,
    embedder: Embedder,
    job: _Job,
    stats: IndexStats,
    progress: IndexProgress,
    *,
    min_len: float,
    max_len: float,
) -> None:
    from vidsearch import decode
    from vidsearch.segment import Segmenter

    path = job.file.path
    progress.file_started(path)
    info: VideoInfo | None = None
    moments: list[tuple[float, float]] = []
    vectors: list[np.ndarray] = []
    costs: list[MomentCost] = []
    pending: list[Segment] = []

    def flush() -> None:
        if not pending:
            return
        t = time.perf_counter()
        vecs, cost = embedder.embed_moments(pending)
        stats.embed_seconds += time.perf_counter() - t
        moments.extend((s.start, s.end) for s in pending)
        vectors.append(np.asarray(vecs, dtype=np.float32))
        costs.extend(cost)
        pending.clear()

    try:
        t = time.perf_counter()
        info = decode.probe(path)
        segmenter = Segmenter(min_len=min_len, max_len=max_len)
        frames = decode.iter_frames(path, sample_interval(info.duration), embedder.frame_side, info)
        while True:
            t = time.perf_counter()
            frame = next(frames, None)
            stats.decode_seconds += time.perf_counter() - t
            done = segmenter.push(frame) if frame is not None else segmenter.finish(info.duration)
            for seg in done:
                if seg.frames:
                    pending.append(seg)
                if len(pending) >= EMBED_BATCH:
                    flush()
            if frame is None:
                break
        flush()
        if not moments:
            raise MediaError("no frames could be decoded")
    except (MediaError, OSError) as exc:
        reason = str(exc) if isinstance(exc, MediaError) else (exc.strerror or str(exc))
        _skip(stats, progress, path, reason)
        _save_failure(store, job, info, reason)
        return
    t = time.perf_counter()
    store.save_video(
        path=path,
        root_id=job.root_id,
        size=job.file.size,
        mtime_ns=job.file.mtime_ns,
        fingerprint=job.fingerprint,
        info=info,
        moments=moments,
        vectors=np.concatenate(vectors),
        costs=costs,
    )
    stats.store_seconds += time.perf_counter() - t
    stats.indexed += 1
    stats.moments += len(moments)
    stats.video_seconds += info.duration
    progress.file_done(path, job.file.size, len(moments), info.duration)


def _save_failure(store: Store, job: _Job, info: VideoInfo | None, reason: str) -> None:
    """Remember a bad file so it is not retried until it changes."""
    store.save_video(
        path=job.file.path,
        root_id=job.root_id,
        size=job.file.size,
        mtime_ns=job.file.mtime_ns,
        fingerprint=job.fingerprint,
        info=info,
        error=reason,
    )
