"""Bring the index in step with the library: the incremental loop behind `vidsearch index` and `watch`.

scan (stat only) -> what is new, changed, moved, gone -> decode -> segment -> embed -> what is said
(``vidsearch.index.speech``) -> store, one video per transaction, so an interrupted run leaves a
consistent index and the next run resumes. Videos whose pictures are current but whose words are
missing or stale get their words read on their own (``_refresh_speech``).
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
from vidsearch.index.backfill import read_outdated_facts
from vidsearch.index.speech import Heard, SpeechReader, save_heard, spoken_moments, stale_speech
from vidsearch.media.facts import NAME_OR_MTIME_SOURCES, ReadFacts, facts_from_probe
from vidsearch.media.frames import sample_interval
from vidsearch.media.metadata import FROM_MTIME
from vidsearch.media.scan import FoundFile, fingerprint, is_video_name, walk_videos
from vidsearch.store import Store, StoredVideo
from vidsearch.types import MomentCost, MomentThumbnails, Segment, VideoInfo

EMBED_BATCH = 8  # moments per embedder call


class Cancelled(Exception):
    """Raised inside an indexing call when its ``cancel`` callback said stop; that file is not saved."""


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
    place_problem_told: bool = False  # the place table's problem was told once this run
    decode_seconds: float = 0.0
    embed_seconds: float = 0.0
    store_seconds: float = 0.0
    thumbnail_seconds: float = 0.0  # encoding thumbnails (and decoding for those made afterwards)
    thumbnails_added: int = 0  # moments indexed before thumbnails existed that got theirs in this run
    elapsed: float = 0.0
    speech_read: int = 0  # videos whose words were read (with their pictures, or on their own)
    speech_refreshed: int = 0  # of which videos whose pictures were kept (words missing or stale)
    speech_seconds: float = 0.0  # wall time reading words (subtitles, audio, transcription)
    audio_seconds: float = 0.0  # audio the speech model listened to
    speech_skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason): pictures kept
    facts_read: int = 0  # videos indexed before whose recording time, place and camera were read now

    def counts(self) -> list[str]:
        """What the run found besides the files it indexed, in words, as ``index`` and ``watch``
        report it: unchanged, moved, removed, and the files skipped as unreadable, new or known
        (counted as ``status`` counts them)."""
        from vidsearch.output.present import plural

        parts = [f"{self.unchanged - self.remembered_failures} unchanged"]
        if self.moved:
            parts.append(f"{self.moved} moved (vectors kept)")
        if self.removed:
            parts.append(f"{self.removed} removed")
        unreadable = len(self.skipped) + self.remembered_failures
        if unreadable:
            seen = self.remembered_failures
            how = f"{len(self.skipped)} new" + (f", {seen} known and not retried until they change" if seen else "")
            parts.append(f"{plural(unreadable, 'file')} skipped as unreadable ({how})")
        if self.facts_read:
            parts.append(f"{self.facts_read} read for dates and places (not re-embedded)")
        if self.thumbnails_added:
            parts.append(f"thumbnails made for {self.thumbnails_added} earlier moments")
        return parts

    @property
    def nothing_usable(self) -> bool:
        """Every video file seen is bad (new skips or remembered failures) and none is indexed."""
        bad = len(self.skipped) + self.remembered_failures
        good = self.indexed + self.moved + self.unchanged - self.remembered_failures
        return bad > 0 and good <= 0


class IndexProgress(Protocol):
    """Callbacks the CLI uses to draw progress; every method is optional in spirit (no-ops are fine)."""

    def planned(self, files: int, total_bytes: int) -> None: ...

    def file_started(self, path: str) -> None: ...

    def file_done(self, path: str, size: int, moments: int, video_seconds: float) -> None: ...

    def skipped(self, path: str, reason: str) -> None: ...

    def note(self, message: str) -> None: ...

    def thumbnails(self, done: int, total: int) -> None:
        """``done`` of ``total`` moments indexed earlier have been given thumbnails in this run."""
        ...

    def speech_skipped(self, path: str, reason: str) -> None:
        """The words of ``path`` could not be read (its pictures are indexed)."""
        ...

    def speech_refresh(self, done: int, total: int) -> None:
        """Words of indexed videos being read on their own: ``done`` of ``total`` (0 when starting)."""
        ...


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

    def thumbnails(self, done: int, total: int) -> None:
        pass

    def speech_skipped(self, path: str, reason: str) -> None:
        pass

    def speech_refresh(self, done: int, total: int) -> None:
        pass


@dataclass(frozen=True)
class _Job:
    file: FoundFile
    root_id: int
    fingerprint: str


def update_index(
    store: Store,
    roots: Sequence[str],
    get_embedder: Callable[[], Embedder],
    progress: IndexProgress | None = None,
    *,
    model_name: str = "lite",
    min_len: float = 2.0,
    max_len: float = 10.0,
    cancel: Callable[[], bool] | None = None,
    speech: SpeechReader | None = None,
) -> IndexStats:
    """Index every video under ``roots`` (registering them as library roots) and return what was done.

    ``get_embedder`` is called at most once, and only when some file needs embedding; its vectors
    are recorded in the index as ``model_name``'s. ``speech`` reads what is said in each video
    (None: words are not read at all); the words of unchanged videos are read too where they are
    missing or stale, keeping their pictures. Unchanged files
    (same path, size and mtime) cost one ``stat``; moved files keep their vectors; files gone from an
    online root are dropped; a root that is missing is reported offline and its moments are kept.
    When ``cancel()`` turns true the run stops between frames and raises :class:`Cancelled`; the file
    being indexed is not saved (the next run redoes it).
    """
    progress = progress or SilentProgress()
    stats = IndexStats()
    t0 = time.perf_counter()
    root_ids = [_root_to_scan(store, r) for r in roots]

    jobs, missing = _plan(store, root_ids, stats, progress)
    progress.planned(len(jobs), sum(j.file.size for j in jobs))

    # files that disappeared and did not turn up elsewhere
    with store.transaction():
        for video in missing.values():
            store.delete_video(video.id)
            stats.removed += 1

    _run_jobs(store, jobs, get_embedder, stats, progress, model_name, min_len, max_len, cancel, speech)
    if speech is not None:
        online = [rid for rid, root in root_ids if root not in stats.offline_roots]
        settled = [v for rid in online for v in store.videos_under(rid).values()]
        _refresh_speech(store, settled, speech, get_embedder, stats, progress, model_name, cancel)
    add_missing_thumbnails(store, stats, progress, cancel)
    stats.facts_read = read_outdated_facts(store, progress, cancel)
    stats.elapsed = time.perf_counter() - t0
    return stats


def _run_jobs(
    store: Store,
    jobs: Sequence[_Job],
    get_embedder: Callable[[], Embedder],
    stats: IndexStats,
    progress: IndexProgress,
    model_name: str,
    min_len: float,
    max_len: float,
    cancel: Callable[[], bool] | None,
    speech: SpeechReader | None = None,
) -> None:
    embedder: Embedder | None = None
    for job in jobs:
        if cancel is not None and cancel():
            raise Cancelled
        if embedder is None:
            embedder = get_embedder()
            store.bind_model(model_name, embedder.model_id, embedder.dim)
        _index_file(
            store, embedder, job, stats, progress, min_len=min_len, max_len=max_len, cancel=cancel, speech=speech
        )


def _refresh_speech(
    store: Store,
    videos: Sequence[StoredVideo],
    speech: SpeechReader,
    get_embedder: Callable[[], Embedder],
    stats: IndexStats,
    progress: IndexProgress,
    model_name: str,
    cancel: Callable[[], bool] | None,
) -> None:
    """Read the words of the indexed ``videos`` whose words are missing or stale, keeping their
    pictures (``vidsearch.index.speech.stale_speech``); each video's words in one transaction."""
    due = stale_speech(store, videos, speech)
    if not due:
        return
    progress.speech_refresh(0, len(due))
    embedder: Embedder | None = None
    for done, (video, names) in enumerate(due, 1):
        if cancel is not None and cancel():
            raise Cancelled
        spans = [(start, end) for _, start, end in store.moments_of(video.id)]
        heard = _hear(speech, video.path, stats, progress, cancel, names=names)
        said: list[tuple[int, str]] = []
        vectors = None
        if heard.transcript is not None:
            if embedder is None:
                embedder = get_embedder()
                store.bind_model(model_name, embedder.model_id, embedder.dim)
            said, vectors = spoken_moments(embedder, spans, heard)
        with store.transaction():
            save_heard(store, video.id, heard, said, vectors)
        stats.speech_refreshed += 1
        progress.speech_refresh(done, len(due))


def _hear(
    speech: SpeechReader,
    path: str,
    stats: IndexStats,
    progress: IndexProgress,
    cancel: Callable[[], bool] | None,
    names: Sequence[str] | None = None,
) -> Heard:
    """Read one video's words, counting the time and reporting what was skipped or passed over."""

    def listening(_seconds: float) -> None:
        if cancel is not None and cancel():
            raise Cancelled

    t = time.perf_counter()
    heard = speech.read(path, names=names, progress=listening)
    stats.speech_seconds += time.perf_counter() - t
    stats.speech_read += 1
    if heard.source.transcribed:
        stats.audio_seconds += heard.source.audio_seconds
    if heard.problem is not None:
        stats.speech_skipped.append((path, heard.problem))
        progress.speech_skipped(path, heard.problem)
    for passed in heard.passed_over:
        progress.note(f"subtitles passed over in {path}: {passed}; read {heard.source.origin} instead")
    return heard


def index_paths(
    store: Store,
    paths: Sequence[str],
    get_embedder: Callable[[], Embedder],
    progress: IndexProgress | None = None,
    *,
    model_name: str = "lite",
    min_len: float = 2.0,
    max_len: float = 10.0,
    cancel: Callable[[], bool] | None = None,
    speech: SpeechReader | None = None,
) -> IndexStats:
    """Bring single files or folders inside the library roots in step with the disk; return what was done.

    The per-path form of :func:`update_index` (what ``watch`` runs when a file settles): a path that
    exists is indexed as ``index`` would (unchanged files are skipped, a file with the fingerprint of a
    video that is no longer where the index says keeps that video's vectors, bad files are remembered,
    a folder is walked); a path that no longer exists loses its moments (every video under it, for a
    folder) unless its root is missing, in which case the root is marked offline and nothing is
    deleted. Paths outside every registered root are ignored. ``get_embedder``, ``cancel`` and
    ``speech`` are as in :func:`update_index` (so a video whose subtitle file changed gets its words
    read again when its own path comes here).
    """
    progress = progress or SilentProgress()
    stats = IndexStats()
    t0 = time.perf_counter()
    roots = store.roots()
    jobs: list[_Job] = []
    gone: list[str] = []
    settled: list[str] = []
    for raw in paths:
        path = os.path.abspath(raw)
        root = root_of(path, [(rid, r) for rid, r, _ in roots])
        if root is None:
            continue
        root_id, root_path = root
        if not os.path.isdir(root_path) and not os.path.isfile(root_path):
            if root_path not in stats.offline_roots:
                store.set_root_online(root_id, False)
                stats.offline_roots.append(root_path)
                progress.note(f"root offline, keeping its moments: {root_path}")
            continue
        if not os.path.lexists(path):
            gone.append(path)
            continue
        # the walk also takes a single file, and never hands on a FIFO or device as a video to read
        for f in walk_videos(path, on_problem=lambda p, r: _skip(stats, progress, p, r)):
            stats.seen += 1
            job = _classify(store, f, root_id, {}, {}, stats, progress)
            if job is not None:
                jobs.append(job)
            else:
                settled.append(f.path)
    # existing files first: a file that moved between roots (seen as delete + create) keeps its vectors
    _run_jobs(store, jobs, get_embedder, stats, progress, model_name, min_len, max_len, cancel, speech)
    if speech is not None:
        known = [v for v in map(store.video_by_path, settled) if v is not None]
        _refresh_speech(store, known, speech, get_embedder, stats, progress, model_name, cancel)
    stats.facts_read = read_outdated_facts(store, progress, cancel)
    for path in gone:
        removed = remove_paths(store, [path])
        stats.removed += removed
        if removed:
            progress.note(f"removed: {path}" + (f" ({removed} videos)" if removed > 1 else ""))
    stats.elapsed = time.perf_counter() - t0
    return stats


def remove_paths(store: Store, paths: Sequence[str]) -> int:
    """Forget the videos at or under ``paths`` (files or folders) with their moments; return how many."""
    ids = store.video_ids_under(paths)
    with store.transaction():
        for video_id in ids:
            store.delete_video(video_id)
    return len(ids)


def moved_path(path: str, old: str, new: str) -> str | None:
    """Where ``path`` is after ``old`` (a file or folder) was renamed to ``new``; None when not affected."""
    if path == old:
        return new
    prefix = old.rstrip(os.sep) + os.sep
    if path.startswith(prefix):
        return os.path.join(new, path[len(prefix):])
    return None


def root_of(path: str, roots: Sequence[tuple[int, str]]) -> tuple[int, str] | None:
    """The (id, path) of the innermost root holding ``path`` (absolute), or None when none does."""
    best: tuple[int, str] | None = None
    for root_id, root in roots:
        if moved_path(path, root, root) is not None and (best is None or len(root) > len(best[1])):
            best = (root_id, root)
    return best


def move_prefix(store: Store, old: str, new: str) -> tuple[int, int]:
    """``old`` (a file or a whole folder) was renamed or moved to ``new``: keep every vector under it.

    Each video at ``old`` or below it gets the matching path below ``new``, without re-embedding; a
    video whose new place is outside every library root, or no longer has a video file name, is
    dropped. Returns (moved, dropped).
    """
    old, new = os.path.abspath(old), os.path.abspath(new)
    roots = [(rid, r) for rid, r, _ in store.roots()]
    exact = store.video_by_path(old)
    if exact is not None:
        videos = [exact]
    else:
        wanted = set(store.video_ids_under([old]))
        videos = [v for rid, _ in roots for v in store.videos_under(rid).values() if v.id in wanted]
    moved = dropped = 0
    with store.transaction():
        for video in videos:
            target = moved_path(video.path, old, new)
            root = root_of(target, roots) if target is not None else None
            if target is None or root is None or not is_video_name(target):
                store.delete_video(video.id)
                dropped += 1
                continue
            there = store.video_by_path(target)
            if there is not None and there.id != video.id:
                store.delete_video(there.id)  # replaced by the moved file
            store.move_video(video.id, target, root[0], video.size, video.mtime_ns)
            store.facts.mark_outdated(video.id, NAME_OR_MTIME_SOURCES)  # a date from the old name goes
            moved += 1
    return moved, dropped


def _root_to_scan(store: Store, path: str) -> tuple[int, str]:
    """(root id, folder to walk) for a path given to ``index``: a folder or file inside a registered
    root is scanned as part of that root rather than becoming a root of its own, so the roots stay the
    folders the user chose and removing one never strands the videos of another."""
    path = os.path.abspath(path)
    holder = root_of(path, [(rid, r) for rid, r, _ in store.roots()])
    if holder is not None:
        return holder[0], path
    return store.add_root(path), path


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
        # only the videos under the walked folder: when it is a part of its root, the rest of the root
        # is not looked at and must not count as gone
        known.update({p: v for p, v in store.videos_under(root_id).items() if moved_path(p, root, root) is not None})
        for f in walk_videos(root, on_problem=lambda p, r: _skip(stats, progress, p, r)):
            found.append((f, root_id))
    seen_paths = {f.path for f, _ in found}
    missing = {p: v for p, v in known.items() if p not in seen_paths}
    jobs: list[_Job] = []
    for f, root_id in found:
        stats.seen += 1
        job = _classify(store, f, root_id, known, missing, stats, progress)
        if job is not None:
            jobs.append(job)
    return jobs, missing


def _classify(
    store: Store,
    f: FoundFile,
    root_id: int,
    known: dict[str, StoredVideo],
    missing: dict[str, StoredVideo],
    stats: IndexStats,
    progress: IndexProgress,
) -> _Job | None:
    """Settle what can be settled without the model (unchanged, touched, moved); return a job otherwise.

    ``known`` maps paths to the videos already read from the index (a cache; others are looked up);
    ``missing`` holds the indexed videos not seen on disk in this run: a moved file found here is
    taken out of it so it is not deleted.
    """
    old = known.get(f.path) or store.video_by_path(f.path)
    if old is not None and old.size == f.size and old.mtime_ns == f.mtime_ns and (
        f.problem is None or old.status == "failed"
    ):
        if old.root_id != root_id:
            store.move_video(old.id, f.path, root_id, f.size, f.mtime_ns)
        stats.unchanged += 1
        if old.status == "failed":
            stats.remembered_failures += 1
        return None
    if f.problem is not None:
        # never opened (a FIFO would block, /dev/zero never ends): reported once, remembered until it changes
        _skip(stats, progress, f.path, f.problem)
        store.save_video(path=f.path, root_id=root_id, size=f.size, mtime_ns=f.mtime_ns, fingerprint="",
                         info=None, error=f.problem)
        return None
    try:
        fp = fingerprint(f.path, f.size)
    except (OSError, MediaError) as exc:
        _skip(stats, progress, f.path, str(exc) if isinstance(exc, MediaError) else exc.strerror or str(exc))
        return None
    moved_from = next(
        (v for v in store.videos_by_fingerprint(fp) if v.path in missing or not os.path.exists(v.path)),
        None,
    )
    if moved_from is not None and old is None:
        with store.transaction():
            store.move_video(moved_from.id, f.path, root_id, f.size, f.mtime_ns)
            store.facts.mark_outdated(moved_from.id, NAME_OR_MTIME_SOURCES)  # a date from the old name goes
        missing.pop(moved_from.path, None)
        stats.moved += 1
        progress.note(f"moved: {moved_from.path} -> {f.path}")
        return None
    if old is not None and old.fingerprint == fp:
        # touched but not changed (mtime only): keep the vectors
        store.touch_video(old.id, f.size, f.mtime_ns)
        store.facts.mark_outdated(old.id, (FROM_MTIME,))
        stats.unchanged += 1
        return None
    return _Job(f, root_id, fp)


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
    cancel: Callable[[], bool] | None = None,
    speech: SpeechReader | None = None,
) -> None:
    from vidsearch.media import decode
    from vidsearch.media.segment import Segmenter
    from vidsearch.media.stills import moment_thumbnails

    path = job.file.path
    progress.file_started(path)
    info: VideoInfo | None = None
    facts: ReadFacts | None = None
    moments: list[tuple[float, float]] = []
    vectors: list[np.ndarray] = []
    costs: list[MomentCost] = []
    thumbnails: list[MomentThumbnails] = []
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
        t = time.perf_counter()
        # from the frames just embedded: a moment's pictures cost no decoding of their own
        thumbnails.extend(moment_thumbnails(s.frames) for s in pending)
        stats.thumbnail_seconds += time.perf_counter() - t
        pending.clear()

    try:
        t = time.perf_counter()
        info = decode.probe(path)
        facts = facts_from_probe(info, job.file.mtime_ns / 1e9)
        if facts.place_problem and not stats.place_problem_told:
            progress.note(f"no place names: {facts.place_problem}")
            stats.place_problem_told = True
        segmenter = Segmenter(min_len=min_len, max_len=max_len)
        frames = decode.iter_frames(path, sample_interval(info.duration), embedder.frame_side, info)
        while True:
            if cancel is not None and cancel():
                raise Cancelled  # nothing of this file was written yet: the index stays as it was
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
    heard = _hear(speech, path, stats, progress, cancel) if speech is not None else None
    said: list[tuple[int, str]] = []
    said_vectors = None
    if heard is not None:
        t = time.perf_counter()
        said, said_vectors = spoken_moments(embedder, moments, heard)
        stats.embed_seconds += time.perf_counter() - t
    t = time.perf_counter()
    with store.transaction():  # the pictures and the words together, or neither
        video_id = store.save_video(
            path=path,
            root_id=job.root_id,
            size=job.file.size,
            mtime_ns=job.file.mtime_ns,
            fingerprint=job.fingerprint,
            info=info,
            moments=moments,
            vectors=np.concatenate(vectors),
            costs=costs,
            thumbnails=thumbnails,
            facts=facts.facts if facts is not None else None,
        )
        if heard is not None:
            save_heard(store, video_id, heard, said, said_vectors)
    stats.store_seconds += time.perf_counter() - t
    stats.indexed += 1
    stats.moments += len(moments)
    stats.video_seconds += info.duration
    progress.file_done(path, job.file.size, len(moments), info.duration)


def add_missing_thumbnails(
    store: Store,
    stats: IndexStats,
    progress: IndexProgress,
    cancel: Callable[[], bool] | None = None,
) -> None:
    """Give thumbnails to the moments indexed before thumbnails existed, without the model.

    Only those moments of each file are decoded (at the thumbnails' size), one file per transaction;
    files that are offline or changed since they were indexed are left for later (a changed file is
    indexed again anyway). A file that cannot be decoded now is reported and skipped.
    """
    from vidsearch.media import decode
    from vidsearch.media.frames import sample_interval
    from vidsearch.media.stills import STILL_SIDE, moment_thumbnails

    todo = []
    for missing in store.thumbnails.missing():
        video = missing.video
        try:
            st = os.stat(video.path)
        except OSError:
            continue  # offline or gone: its moments are kept, and so is the wait for its thumbnails
        if st.st_size == video.size and st.st_mtime_ns == video.mtime_ns:
            todo.append(missing)
    total = sum(len(m.moments) for m in todo)
    if not total:
        return
    progress.note(f"making thumbnails for {total} moments of {len(todo)} files indexed before (no re-embedding)")
    done = 0
    progress.thumbnails(done, total)
    for missing in todo:
        if cancel is not None and cancel():
            raise Cancelled  # what was saved stays; the next run does the rest
        t = time.perf_counter()
        spans = [(start, end) for _, start, end in missing.moments]
        try:
            info = decode.probe(missing.video.path)
            framed = decode.frames_in_spans(
                missing.video.path, spans, sample_interval(info.duration), STILL_SIDE, info
            )
        except (MediaError, OSError) as exc:
            reason = str(exc) if isinstance(exc, MediaError) else (exc.strerror or str(exc))
            progress.skipped(missing.video.path, f"no thumbnails: {reason}")
            continue
        with store.transaction():
            for (moment_id, _, _), frames in zip(missing.moments, framed, strict=True):
                if frames:
                    store.thumbnails.add(moment_id, moment_thumbnails(frames))
                    stats.thumbnails_added += 1
        stats.thumbnail_seconds += time.perf_counter() - t
        done += len(missing.moments)
        progress.thumbnails(done, total)


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
