"""``vidsearch.Library``: the library as a Python object. The command line and the query service are
thin layers over it.

    from vidsearch import Library

    with Library.open("~/videos.db", create=True) as library:
        library.index(["~/Videos"])
        for hit in library.find("a dog jumping into a lake").hits:
            print(hit.path, hit.start, hit.end, hit.score)

A library is one index file and the model that reads it: the model the index was built with, else the
one asked for, else what ``auto`` picks on this machine (``vidsearch.models``). The model is loaded
only when something needs it; a query seen before is answered from the query-vector cache without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidsearch.errors import UsageError
from vidsearch.output.present import plural

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.index.indexer import IndexProgress, IndexStats
    from vidsearch.index.speech import SpeechReader
    from vidsearch.index.watch import Watcher, WatchEvent
    from vidsearch.query.options import SearchOptions
    from vidsearch.store import IndexInfo, Store, StoredMoment
    from vidsearch.types import Hit, Root

# (model name, device, precision, model id) -> an embedder; the service passes one that keeps a model
ModelLoader = Callable[[str, str, str, str], "Embedder"]


@dataclass
class Found:
    """What ``Library.find`` returns: the hits, best first, how the query was read (``explain``) and
    notes a user should see beside the hits (moments left out because their drive is offline)."""

    hits: list[Hit]
    explanation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Library:
    """One index file and the model that reads it. Build it with :meth:`open`."""

    def __init__(
        self,
        store: Store,
        *,
        model: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        loader: ModelLoader | None = None,
    ) -> None:
        self.store = store
        self.requested_model = model
        self.device = device
        self.precision = precision
        self._loader = loader
        # called with the model's name just before a model loads (the command line tells the user)
        self.on_model_load: Callable[[str], None] | None = None
        self._embedder: Embedder | None = None
        self._embedder_key: tuple[str, str] | None = None
        self.created = False  # the index file was made by this open (see ``index``)
        self.set_aside_to: Path | None = None  # where a damaged index file was moved (``open(rebuild_damaged)``)

    @classmethod
    def open(
        cls,
        db: str | os.PathLike[str] | None = None,
        *,
        create: bool = False,
        model: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        loader: ModelLoader | None = None,
        set_aside_damaged: bool = False,
    ) -> Library:
        """Open the index at ``db`` (default: ``vidsearch.config.db_path``). ``create`` makes a new one
        when there is none; otherwise a missing index raises UsageError saying how to build one.

        ``set_aside_damaged`` (``index --rebuild``): an index file that is damaged (it fails to open or
        its quick check finds problems) is moved aside, kept as ``<name>.damaged-<time>``
        (``set_aside_to``), and a new one is started with the same library roots. Raises the typed
        errors of ``vidsearch.store.Store.open`` otherwise.
        """
        from vidsearch import config
        from vidsearch.errors import IndexCorruptError
        from vidsearch.store import Store
        from vidsearch.store.health import quick_check

        path = config.db_path(Path(os.path.expanduser(str(db))) if db is not None else None)
        existed = path.exists()
        try:
            store = Store.open(path, create=create)
            if set_aside_damaged:
                with _translated(path):
                    problems = quick_check(store)
                if problems:
                    store.close()
                    raise IndexCorruptError("; ".join(problems))
        except IndexCorruptError:
            if not set_aside_damaged:
                raise
            target, roots = _set_aside(path)
            store = Store.open(path, create=True)
            with _translated(path), store.transaction():
                for root in roots:
                    store.add_root(root)
            library = cls(store, model=model, device=device, precision=precision, loader=loader)
            library.set_aside_to = target
            return library
        library = cls(store, model=model, device=device, precision=precision, loader=loader)
        library.created = not existed
        return library

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        """Release the model and close the index."""
        self.release_model()
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if exc is not None:  # SQLite's failures inside the block, as the typed errors a user can act on
            from vidsearch.store.health import translate

            typed = translate(exc, self.store.path)
            if typed is not None:
                raise typed from exc

    def guarded(self) -> Any:
        """A context in which SQLite's failures on this index raise the typed errors of
        ``vidsearch.store.health.translate`` (full disk, read-only, damaged file...)."""
        return _translated(self.store.path)

    # ---- the model ---------------------------------------------------------------------------
    def model_name(self) -> tuple[str, str | None]:
        """The model this library uses and, when ``auto`` chose it, one line saying why (else None)."""
        from vidsearch.models import model_for_index

        return model_for_index(self.store.model, self.requested_model, self.device, self.store.path)

    def embedder(self) -> Embedder:
        """The model for searching, behind the query-vector cache (loaded on first real need)."""
        name, _ = self.model_name()
        model_id = self.store.get_meta("model_id") or name
        if self._embedder is None or self._embedder_key != (name, model_id):
            self.release_model()
            if self._loader is not None:
                self._embedder = self._loader(name, self.device, self.precision, model_id)
            else:
                from vidsearch.embed.cache import lazy_model

                self._embedder = lazy_model(name, self.device, self.precision, model_id, self.on_model_load)
            self._embedder_key = (name, model_id)
        return self._embedder

    def release_model(self) -> None:
        """Free the model's memory now (it is loaded again when needed)."""
        if self._embedder is not None and self._loader is None:
            self._embedder.close()
        self._embedder, self._embedder_key = None, None

    # ---- indexing ----------------------------------------------------------------------------
    def index(
        self,
        paths: Sequence[str | os.PathLike[str]] = (),
        *,
        rebuild: bool = False,
        exit_layer: int | None = None,
        budget: str = "faithful",
        progress: IndexProgress | None = None,
        cancel: Callable[[], bool] | None = None,
        on_auto: Callable[[str], None] | None = None,
        speech: bool = True,
        speech_model: str | None = None,
    ) -> IndexStats:
        """Index every video under ``paths`` (they become library roots); with no paths, every root
        already registered. Only what changed is done. ``rebuild`` forgets every vector first (to
        re-index with another model). ``exit_layer`` reads a multimodal model's embeddings at that
        decoder layer; ``budget`` is its budget setting (faithful, fast, full: see
        ``vidsearch.embed.budget``). ``on_auto`` hears why ``auto`` chose the model, when it did. What is said
        in each video is read too: subtitles, and speech transcribed by ``speech_model`` (default: the bundled
        English Whisper tiny.en) unless ``speech`` is False; videos indexed before get their words without
        their pictures being read again. Holds the writer lock (IndexLockedError when another process writes).
        """
        from vidsearch.index.indexer import SilentProgress

        progress = progress or SilentProgress()
        try:
            return self._index(paths, rebuild, exit_layer, budget, progress, cancel, on_auto, speech, speech_model)
        except BaseException:
            if self.created and not self.store.model:
                self._forget_new_index()  # a failed first run leaves no empty index (nor its lock) behind
            raise

    def _index(
        self,
        paths: Sequence[str | os.PathLike[str]],
        rebuild: bool,
        exit_layer: int | None,
        budget: str,
        progress: IndexProgress,
        cancel: Callable[[], bool] | None,
        on_auto: Callable[[str], None] | None,
        speech: bool,
        speech_model: str | None,
    ) -> IndexStats:
        from vidsearch.index.indexer import update_index
        from vidsearch.locks import writer_lock
        from vidsearch.models import check_available, check_budget, load_embedder, with_exit_layer

        with writer_lock(self.store.path), self.guarded():
            if rebuild:
                self.store.reset_vectors()
            given = [os.path.expanduser(p) for p in paths]
            check_root_paths(given)
            roots = [os.fspath(p) for p in given] or [r for _, r, _ in self.store.roots()]
            if not roots:
                raise UsageError("nothing to index: give a folder, e.g. vidsearch index ~/Videos")
            if exit_layer is not None:
                self.requested_model = with_exit_layer(self.requested_model, exit_layer)
            name, why = self.model_name()
            if why and on_auto is not None:
                on_auto(why)
            check_available(name)  # before the scan: a model that cannot load fails in a moment
            budget = check_budget(name, budget)
            reader = self.speech_reader(speech, speech_model)
            loaded: list[Embedder] = []

            def get_embedder() -> Embedder:
                loaded.append(load_embedder(name, device=self.device, precision=self.precision, budget=budget))
                return loaded[-1]

            try:
                stats = update_index(
                    self.store, roots, get_embedder, progress, model_name=name, cancel=cancel, speech=reader
                )
            finally:
                for embedder in loaded:  # the model is released as soon as indexing ends
                    embedder.close()
            if stats.indexed or stats.removed or stats.moved:
                self.store.refresh_search_index()  # so the first find after a big import does not pay for it
            return stats

    def _forget_new_index(self) -> None:
        """Delete the index file this library created, with its journal and lock files."""
        self.store.close()
        base = str(self.store.path)
        for suffix in ("", "-wal", "-shm", "-journal", ".lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(base + suffix)
    def speech_reader(self, transcribe: bool = True, model: str | None = None) -> SpeechReader:
        """What reads the words of videos while indexing: subtitles, and speech unless ``transcribe`` is
        False, with the speech ``model`` (default: the bundled English one) on this library's device.
        Raises ModelUnavailableError at once when that model is not on this machine."""
        from vidsearch.index.speech import SpeechReader, SpeechSettings
        from vidsearch.speech.model import BUNDLED_SPEECH_MODEL

        reader = SpeechReader(SpeechSettings(transcribe, model or BUNDLED_SPEECH_MODEL, self.device))
        reader.check()
        return reader

    def watcher(
        self,
        roots: Sequence[str | os.PathLike[str]] = (),
        *,
        on_event: Callable[[WatchEvent], None] | None = None,
        speech: bool = True,
        speech_model: str | None = None,
        **options: Any,
    ) -> Watcher:
        """A :class:`vidsearch.index.watch.Watcher` that keeps this index current; ``run()`` it.

        ``roots`` default to every library root. ``speech`` and ``speech_model`` are as in :meth:`index`.
        ``options`` go to the Watcher (settle, poll, stop...).
        """
        from vidsearch.index.watch import Watcher
        from vidsearch.models import load_embedder

        known = {r for _, r, _ in self.store.roots()}
        for p in roots:
            if not os.path.isdir(p) and os.path.abspath(p) not in known:
                raise UsageError(f"not a folder: {p}")
        chosen = [os.path.abspath(p) for p in roots] or sorted(known)
        if not chosen:
            raise UsageError("nothing to watch: give a folder, e.g. vidsearch watch ~/Videos")
        name, _ = self.model_name()
        device, precision = self.device, self.precision
        return Watcher(
            self.store.path,
            chosen,
            lambda: load_embedder(name, device=device, precision=precision),
            model_name=name,
            on_event=on_event,
            speech=self.speech_reader(speech, speech_model),
            **options,
        )

    # ---- searching ---------------------------------------------------------------------------
    def find(self, text: str = "", options: SearchOptions | None = None, **settings: Any) -> Found:
        """The moments that best match ``text`` (clauses, negation, "A then B"), best first.

        ``options`` is a :class:`vidsearch.query.options.SearchOptions`; ``settings`` are its fields
        given one by one (``limit=5, within=("~/Videos/2024",), like=LikeRef(...)``). Raises
        UsageError for queries that cannot be searched (empty, bad reference clip, unknown --in path).
        """
        from dataclasses import replace

        from vidsearch.query.options import Explanation, SearchOptions
        from vidsearch.query.search import find as run_find

        options = replace(options or SearchOptions(), **settings)
        if not self.store.model:
            raise UsageError(f"the index {self.store.path} is empty; run vidsearch index PATH first")
        explanation = Explanation() if options.explain else None
        with self.guarded():
            hits = run_find(self.store, self.embedder(), text, options, explanation)
        notes = []
        offline = [root.path for root in self.roots() if not root.online and root.moments]
        if offline and not options.include_offline:
            where = offline[0] if len(offline) == 1 else f"{offline[0]} and {len(offline) - 1} more"
            notes.append(f"left out: moments on {plural(len(offline), 'offline root')} ({where}); "
                         "--include-offline lists them")
        return Found(hits, explanation.lines if explanation else [], notes)

    # ---- roots ---------------------------------------------------------------------------------
    def roots(self) -> list[Root]:
        """The library roots, each with whether it is there now and what the index holds under it."""
        from vidsearch.types import Root

        counts = self.store.root_counts()
        return [Root(path, online, *counts.get(rid, (0, 0))) for rid, path, online in self.store.roots()]

    def add_roots(self, paths: Sequence[str | os.PathLike[str]]) -> list[Root]:
        """Register folders (or video files) as roots without indexing them (``index`` with no paths
        then does). Raises UsageError for a path that cannot be a root (``check_root_paths``).
        Returns the roots added."""
        from vidsearch.locks import writer_lock

        paths = [os.path.expanduser(p) for p in paths]
        try:
            check_root_paths(paths)
        except UsageError:
            if self.created:
                self._forget_new_index()
            raise
        known = {r.path for r in self.roots()}
        with writer_lock(self.store.path):
            for p in paths:
                self.store.add_root(p)
        return [r for r in self.roots() if r.path not in known]

    def find_roots(self, paths: Sequence[str | os.PathLike[str]]) -> list[Root]:
        """The roots named by ``paths`` (as given to ``index``; ``~`` and relative paths understood).
        Raises UsageError naming a path that is no root, with the roots there are."""
        roots = {r.path: r for r in self.roots()}
        chosen = []
        for p in paths:
            path = os.path.abspath(os.path.expanduser(os.fspath(p)))
            if path not in roots:
                listed = ", ".join(roots) or "none yet"
                raise UsageError(f"{p} is not a library root (roots: {listed})")
            chosen.append(roots[path])
        return chosen

    def removal(self, paths: Sequence[str | os.PathLike[str]]) -> list[Root]:
        """What removing the roots named by ``paths`` would forget: each root with the videos and
        moments no other root holds (a root inside another root leaves its videos to the outer one).
        Raises UsageError for a path that is no root."""
        return [forgotten for forgotten, _, _ in self._removal_plan(paths)]

    def remove_roots(self, paths: Sequence[str | os.PathLike[str]]) -> list[Root]:
        """Forget the roots named by ``paths`` and every moment no other root holds (the files are
        not touched; a video also inside a root that stays keeps its vectors there). Returns the
        roots removed, counting what was forgotten. Raises UsageError for a path that is no root,
        IndexLockedError while another process writes."""
        from vidsearch.locks import writer_lock

        plan = self._removal_plan(paths)
        with writer_lock(self.store.path):
            for _, root_id, rehome in plan:
                self.store.remove_root(root_id, rehome)
            if any(forgotten.videos or rehome for forgotten, _, rehome in plan):
                self.store.refresh_search_index()
        return [forgotten for forgotten, _, _ in plan]

    def _removal_plan(self, paths: Sequence[str | os.PathLike[str]]) -> list[tuple[Root, int, dict[int, int]]]:
        """For each root named by ``paths``: what it forgets, its id, and its videos that a root
        which stays also holds (video id -> that root's id)."""
        from dataclasses import replace

        from vidsearch.index.indexer import root_of

        chosen = self.find_roots(paths)
        gone = {r.path for r in chosen}
        ids = {path: rid for rid, path, _ in self.store.roots()}
        staying = [(rid, path) for path, rid in ids.items() if path not in gone]
        plan = []
        for root in chosen:
            rehome: dict[int, int] = {}
            kept_moments = 0
            for video in self.store.videos_under(ids[root.path]).values():
                holder = root_of(video.path, staying)
                if holder is not None:
                    rehome[video.id] = holder[0]
                    kept_moments += len(self.store.moments_of(video.id))
            forgotten = replace(root, videos=root.videos - len(rehome), moments=root.moments - kept_moments)
            plan.append((forgotten, ids[root.path], rehome))
        return plan

    # ---- what is there -----------------------------------------------------------------------
    def moment(self, moment_id: int) -> StoredMoment | None:
        """The moment with this id (its file, span, codec, whether its root is online), or None."""
        return self.store.moment(moment_id)

    def still(self, moment_id: int) -> bytes | None:
        """The moment's thumbnail (JPEG), or None when it has none yet (``index`` makes it)."""
        return self.store.thumbnails.still(moment_id)

    def strip(self, moment_id: int) -> tuple[bytes, int] | None:
        """The moment's strip of frames side by side (JPEG) and how many it holds, or None."""
        return self.store.thumbnails.strip(moment_id)

    def stills(self, hits: Sequence[Hit]) -> dict[int, bytes]:
        """{moment id: thumbnail} for the first moment of each hit (the picture at its start) that has one."""
        return self.store.thumbnails.stills([hit.moment_ids[0] for hit in hits if hit.moment_ids])

    def status(self) -> IndexInfo:
        """Counts, roots, model, sizes: what ``vidsearch status`` shows."""
        with self.guarded():
            return self.store.info()

    def check(self, full: bool = False) -> list[str]:
        """What is wrong with the index file ([] when nothing): a quick check of SQLite's pages and
        one vector per moment, or (``full``) every page, index, checksum and the search index too."""
        from vidsearch.store.health import full_check, quick_check

        with self.guarded():
            return full_check(self.store) if full else quick_check(self.store)

    def compact(self) -> tuple[int, int]:
        """Rebuild the search index, drop its change log and VACUUM; (bytes before, bytes after)."""
        from vidsearch.locks import writer_lock

        with writer_lock(self.store.path), self.guarded():
            return self.store.compact()


def check_root_paths(paths: Sequence[str | os.PathLike[str]]) -> None:
    """Raise UsageError naming the first of ``paths`` that cannot be a library root (missing, a
    device, a file that is no video) and why; return quietly when each is a folder or a video."""
    from vidsearch.media.scan import root_problem

    for p in paths:
        problem = root_problem(p)
        if problem is not None:
            raise UsageError(f"{problem}: {os.fspath(p)}")


def _translated(path: Path) -> Any:
    from vidsearch.store.health import storage_errors

    return storage_errors(path)


def _set_aside(path: Path) -> tuple[Path, list[str]]:
    """Move a damaged index file aside under the writer lock; (where it went, the roots it still names)."""
    from vidsearch.locks import writer_lock
    from vidsearch.store import Store
    from vidsearch.store.health import set_aside

    with writer_lock(path):
        roots: list[str] = []
        try:
            with Store.open(path, create=False) as old:
                roots = [root for _, root, _ in old.roots()]
        except Exception:  # noqa: BLE001 - damaged: whatever can still be read is kept
            roots = []
        return set_aside(path), roots
