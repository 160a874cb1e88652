"""Query vectors remembered: a repeated query needs no model at all, only the index."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import config

QUERY_CACHE_SIZE = 2048  # query texts whose vectors a service keeps (per model)


class QueryCache:
    """Vectors of query texts already embedded, one small file each, per model id.

    A repeated query then needs no model at all (no torch import, no weights): the answer comes
    from the index alone. Files are written atomically; a torn or foreign file is a miss.
    """

    def __init__(self, model_id: str, folder: Path | None = None) -> None:
        if folder is None:
            folder = config.query_cache_dir()
        self.folder = folder / hashlib.sha256(model_id.encode()).hexdigest()[:16]

    def _file(self, text: str) -> Path:
        return self.folder / (hashlib.sha256(text.encode()).hexdigest()[:32] + ".npy")

    def get(self, text: str) -> np.ndarray | None:
        try:
            vector = np.load(self._file(text), allow_pickle=False)
        except (OSError, ValueError):
            return None
        return vector.astype(np.float32) if vector.ndim == 1 else None

    def put(self, text: str, vector: np.ndarray) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(vector, np.float32))
            os.replace(tmp, self._file(text))
        except OSError:
            pass  # the cache only saves time


class LazyEmbedder:
    """Stands in for a model: query vectors come from the cache when known, and the model is loaded
    only when something else is needed (a new text, a reference clip, a model attribute)."""

    def __init__(self, load: Any, cache: QueryCache) -> None:
        self._load = load
        self._cache = cache
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _real(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def close(self) -> None:
        """Release the model if it was loaded (closing never loads it)."""
        if self._model is not None:
            self._model.close()
            self._model = None

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        cached = {t: self._cache.get(t) for t in dict.fromkeys(texts)}
        found = {t: v for t, v in cached.items() if v is not None}
        missing = [t for t, v in cached.items() if v is None]
        if missing:
            for t, v in zip(missing, self._real().embed_queries(missing), strict=True):
                found[t] = np.asarray(v, np.float32)
                self._cache.put(t, found[t])
        if not texts:
            return np.asarray(self._real().embed_queries([]), np.float32)
        return np.stack([found[t] for t in texts])


class _CachedQueries:
    """An embedder whose ``embed_queries`` remembers vectors of texts it has seen (LRU)."""

    def __init__(self, embedder: Any, size: int = QUERY_CACHE_SIZE) -> None:
        self._embedder = embedder
        self._size = size
        self._seen: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            for t, v in zip(missing, self._embedder.embed_queries(missing), strict=True):
                self._seen[t] = np.asarray(v, np.float32)
        for t in texts:
            self._seen.move_to_end(t)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        if not texts:
            return np.zeros((0, self._embedder.dim), np.float32)
        return np.stack([self._seen[t] for t in texts])




def lazy_model(name: str, device: str, precision: str, model_id: str) -> LazyEmbedder:
    """The model ``name`` behind the query-vector cache: loaded only when a query is new."""
    from vidsearch import models

    return LazyEmbedder(lambda: models.load_embedder(name, device, precision), QueryCache(model_id))
