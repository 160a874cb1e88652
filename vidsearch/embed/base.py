"""The interface every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from vidsearch.types import MomentCost, Segment


@runtime_checkable
class Embedder(Protocol):
    """Turns moments (segments with frames) and query texts into L2-normalised float32 vectors.

    ``model_id`` is recorded in the index; an index only ever holds vectors of one ``model_id``.
    ``frame_side`` is the longest edge (pixels) of the frames the embedder wants decode to give it;
    ``frames_per_moment`` is how many frames of a moment it looks at (at most).
    """

    model_id: str
    dim: int
    frame_side: int
    frames_per_moment: int

    def embed_moments(self, segments: Sequence[Segment]) -> tuple[np.ndarray, list[MomentCost]]:
        """Return an (n, dim) float32 array of unit vectors and one cost record per segment."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors, one per query text."""
        ...

    def close(self) -> None:
        """Release the model (memory, device) once the work is done."""
        ...


def embed_documents(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """Texts found in moments (what was said, subtitles) as the model's (n, dim) unit vectors, to be
    compared with its query vectors.

    A model whose corpus side differs from its query side (an instruction) says so with an
    ``embed_documents`` method; for the others a text is embedded as a query is.
    """
    documents = getattr(embedder, "embed_documents", None)
    vectors = documents(texts) if documents is not None else embedder.embed_queries(texts)
    return np.asarray(vectors, np.float32).reshape(len(texts), embedder.dim)


@dataclass(frozen=True)
class MatchScale:
    """A model's cosine levels: ``unrelated`` maps to match 0, ``clear`` to 1; ``cutoff`` is the
    default minimum match of a hit (None: no default cut-off). ``fit_cutoff`` is the default minimum
    fit (``vidsearch.query.match.fit``: the moment's cosine over the best the model's vocabulary
    reaches for the query) of a hit found by its pictures; None where the model publishes no
    vocabulary."""

    unrelated: float
    clear: float
    cutoff: float | None = None
    fit_cutoff: float | None = None

    def of(self, cosine: np.ndarray | float) -> np.ndarray:
        """Cosine similarity (any shape) -> match in 0..1 (float64)."""
        span = max(self.clear - self.unrelated, 1e-6)
        return np.clip((np.asarray(cosine, dtype=np.float64) - self.unrelated) / span, 0.0, 1.0)
