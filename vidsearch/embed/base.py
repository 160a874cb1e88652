"""The interface every embedding backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from vidsearch.types import MomentCost, Segment

if TYPE_CHECKING:
    import numpy as np


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
