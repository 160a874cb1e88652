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

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidsearch.errors import UsageError

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.index.indexer import IndexProgress, IndexStats
    from vidsearch.index.speech import SpeechReader
    from vidsearch.index.watch import Watcher, WatchEvent
    from vidsearch.query.options import SearchOptions
    from vidsearch.store import IndexInfo, Store
    from vidsearch.types import Hit

# (model name, device, precision, model id) -> an embedder; the service passes one that keeps a model
ModelLoader = Callable[[str, str, str, str], "Embedder"]


@dataclass
class Found:
    """What ``Library.find`` returns: the hits, best first, and how the query was read (``explain``)."""

    hits: list[Hit]
    explanation: list[str] = field(default_factory=list)


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
        self._embedder: Embedder | None = None
        self._embedder_key: tuple[str, str] | None = None

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
    ) -> Library:
        """Open the index at ``db`` (default: ``vidsearch.config.db_path``). ``create`` makes a new one
        when there is none; otherwise a missing index raises UsageError saying how to build one."""
        from vidsearch import config
        from vidsearch.store import Store

        path = config.db_path(Path(os.path.expanduser(str(db))) if db is not None else None)
        return cls(Store.open(path, create=create), model=model, device=device, precision=precision, loader=loader)

    @property
    def path(self) -> Path:
        return self.store.path

    def close(self) -> None:
        """Release the model and close the index."""
        self.release_model()
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

                self._embedder = lazy_model(name, self.device, self.precision, model_id)
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
        from vidsearch.index.indexer import SilentProgress, update_index
        from vidsearch.locks import writer_lock
        from vidsearch.models import check_available, check_budget, load_embedder, with_exit_layer

        progress = progress or SilentProgress()
        with writer_lock(self.store.path):
            if rebuild:
                self.store.reset_vectors()
            roots = [str(p) for p in paths] or [r for _, r, _ in self.store.roots()]
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
        hits = run_find(self.store, self.embedder(), text, options, explanation)
        return Found(hits, explanation.lines if explanation else [])

    # ---- what is there -----------------------------------------------------------------------
    def status(self) -> IndexInfo:
        """Counts, roots, model, sizes: what ``vidsearch status`` shows."""
        return self.store.info()

    def compact(self) -> tuple[int, int]:
        """Rebuild the search index, drop its change log and VACUUM; (bytes before, bytes after)."""
        from vidsearch.locks import writer_lock

        with writer_lock(self.store.path):
            return self.store.compact()
