"""Query vectors remembered on disk, and a stand-in for a model that loads it only when needed.

A repeated query then needs no model at all (no weights, no torch): its vectors come from the
cache and the answer from the index alone. One cache serves every process of a user: ``find``
run directly and the query service read and write the same files.

The cache keeps at most ``size`` texts per model; past that the least recently used go first.
Each text is one small ``.npy`` file (written to a temporary name and renamed, so readers never
see a torn one, and any number of processes can share the folder without a lock); its
modification time is when it was last used (set explicitly, to the nanosecond: file systems
stamp on their own only to the tick of a coarse clock). A torn or foreign file is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import config

QUERY_CACHE_SIZE = 2048  # texts per model: about 3.5 MB at 384-d, 33 MB at 4096-d
# Plain attributes of a model that a search reads besides query vectors; remembered beside the
# vectors so that a repeated query with several clauses needs no model either.
TRAITS = ("dim", "whole_query_weight")
_TRAITS_FILE = "model.json"
_STALE_TMP_SECONDS = 3600.0  # a temporary file this old was left by a process that died


class QueryCache:
    """Vectors of query texts already embedded by the model ``model_id``, least recently used dropped.

    ``folder`` defaults to ``queries/`` in the user cache folder; each model gets a sub-folder.
    """

    def __init__(self, model_id: str, folder: Path | None = None, size: int = QUERY_CACHE_SIZE) -> None:
        if folder is None:
            from vidsearch.config import query_cache_dir

            folder = query_cache_dir()
        self.folder = folder / hashlib.sha256(model_id.encode()).hexdigest()[:16]
        self.size = max(1, int(size))

    def _file(self, text: str) -> Path:
        return self.folder / (hashlib.sha256(text.encode()).hexdigest()[:32] + ".npy")

    def get(self, text: str) -> np.ndarray | None:
        """The vector of ``text`` when cached (it becomes the most recently used), else None."""
        path = self._file(text)
        try:
            vector = np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if vector.ndim != 1:
            return None
        _stamp(path)
        return vector.astype(np.float32)

    def put(self, text: str, vector: np.ndarray) -> None:
        """Remember ``text``'s vector; drops the least recently used texts past the size bound."""
        try:
            self._write(self._file(text), lambda f: np.save(f, np.asarray(vector, np.float32)))
        except OSError:
            return  # the cache only saves time
        self._evict()

    def __len__(self) -> int:
        return sum(1 for _ in self._entries())

    def _write(self, path: Path, write: Callable[[Any], None]) -> None:
        config.private_dir(self.folder)  # queries say what the user looks for
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _stamp(path)

    def _entries(self) -> list[os.DirEntry[str]]:
        try:
            with os.scandir(self.folder) as it:
                return [e for e in it if e.name.endswith(".npy")]
        except OSError:
            return []

    def _evict(self) -> None:
        entries = self._entries()
        if len(entries) <= self.size:
            return
        stamped = []
        for entry in entries:
            with contextlib.suppress(OSError):  # another process may have evicted it already
                stamped.append((entry.stat().st_mtime_ns, entry.path))
        stamped.sort()
        for _, path in stamped[: max(0, len(stamped) - self.size)]:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self._sweep_temporaries()

    def _sweep_temporaries(self) -> None:
        cutoff = time.time() - _STALE_TMP_SECONDS
        with contextlib.suppress(OSError), os.scandir(self.folder) as it:
            for entry in it:
                if entry.name.endswith(".tmp"):
                    with contextlib.suppress(OSError):
                        if entry.stat().st_mtime < cutoff:
                            os.unlink(entry.path)

    # -- the model's plain attributes ------------------------------------------------------------
    def traits(self) -> dict[str, Any]:
        """The model's remembered plain attributes (``TRAITS``), {} when unknown or from another version."""
        from vidsearch import __version__

        try:
            record = json.loads((self.folder / _TRAITS_FILE).read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(record, dict) or record.get("vidsearch") != __version__:
            return {}  # another release may have changed them
        return {k: v for k, v in record.items() if k in TRAITS}

    def put_traits(self, model: Any) -> None:
        """Remember ``model``'s plain attributes, when they differ from what is remembered."""
        from vidsearch import __version__

        # None: the model has no such attribute (a search then uses its own default)
        found = {k: getattr(model, k, None) for k in TRAITS}
        found = {k: v if isinstance(v, (int, float, str)) else None for k, v in found.items()}
        if found == self.traits():
            return
        blob = json.dumps({**found, "vidsearch": __version__}).encode()
        with contextlib.suppress(OSError):
            self._write(self.folder / _TRAITS_FILE, lambda f: f.write(blob))


def _stamp(path: Path) -> None:
    """Mark ``path`` as used now (least-recently-used order follows modification times)."""
    now = time.time_ns()
    with contextlib.suppress(OSError):
        os.utime(path, ns=(now, now))


class LazyEmbedder:
    """Stands in for a model: query vectors come from the cache when known, and the model is loaded
    only when something else is needed (a new text, a reference clip, an attribute not remembered).

    ``load`` is called with no arguments, at most once, and returns the model.
    """

    def __init__(self, load: Callable[[], Any], cache: QueryCache) -> None:
        self._load = load
        self._cache = cache
        self._model: Any = None
        self._traits: dict[str, Any] | None = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _real(self) -> Any:
        if self._model is None:
            self._model = self._load()
            self._cache.put_traits(self._model)
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if self._model is None and name in TRAITS:
            if self._traits is None:
                self._traits = self._cache.traits()
            if name in self._traits:
                if self._traits[name] is None:
                    raise AttributeError(name)
                return self._traits[name]
        return getattr(self._real(), name)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array, one row per text, embedding only texts not cached."""
        cached = {t: self._cache.get(t) for t in dict.fromkeys(texts)}
        found = {t: v for t, v in cached.items() if v is not None}
        missing = [t for t, v in cached.items() if v is None]
        if missing:
            for t, v in zip(missing, self._real().embed_queries(missing), strict=True):
                found[t] = np.asarray(v, np.float32)
                self._cache.put(t, found[t])
        if not texts:
            return np.zeros((0, int(self.dim)), np.float32)
        return np.stack([found[t] for t in texts])

    def close(self) -> None:
        """Release the model when it was loaded (a stand-in that never loaded it has nothing to free)."""
        if self._model is not None:
            close = getattr(self._model, "close", None)
            self._model = None
            if close is not None:
                close()


def lazy_model(
    name: str, device: str, precision: str, model_id: str, on_load: Callable[[str], None] | None = None
) -> LazyEmbedder:
    """The model ``name`` behind the query-vector cache: loaded only when a query is new.
    ``on_load(name)`` is called just before the load starts (to tell a waiting user why)."""
    from vidsearch import models

    def load() -> Any:
        if on_load is not None:
            on_load(name)
        return models.load_embedder(name, device, precision)

    return LazyEmbedder(load, QueryCache(model_id))
