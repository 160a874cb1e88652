"""A deterministic test embedder whose space is colour: it tests the pipeline, not a model.

Moments embed as their mean RGB (plus a small constant so black is not the zero vector); the
queries "red", "green", "blue", "white", "black" embed as those colours. The model layer itself is
tested with real weights (lite) and a real tiny Qwen3-VL elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidsearch.types import MomentCost, Segment

COLOURS = {
    "red": (1.0, 0.0, 0.0),
    "green": (0.0, 1.0, 0.0),
    "blue": (0.0, 0.0, 1.0),
    "white": (1.0, 1.0, 1.0),
    "black": (0.0, 0.0, 0.0),
    "yellow": (1.0, 1.0, 0.0),
}


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


class ColourEmbedder:
    model_id = "test-colour-1"
    dim = 4
    frame_side = 64
    frames_per_moment = 4

    def __init__(self) -> None:
        self.calls = 0
        self.moments_embedded = 0

    def embed_moments(self, segments: Sequence[Segment]) -> tuple[np.ndarray, list[MomentCost]]:
        self.calls += 1
        self.moments_embedded += len(segments)
        rows = []
        for seg in segments:
            mean = np.mean([f.image.reshape(-1, 3).mean(axis=0) for f in seg.frames], axis=0) / 255.0
            rows.append(np.append(mean - mean.mean() * 0.5, 0.05))
        costs = [MomentCost(frames=len(s.frames)) for s in segments]
        return _unit(np.array(rows)), costs

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        rows = []
        for text in texts:
            rgb = np.array(COLOURS.get(text.strip().lower(), (0.3, 0.3, 0.3)))
            rows.append(np.append(rgb - rgb.mean() * 0.5, 0.05))
        return _unit(np.array(rows))

    def close(self) -> None:
        pass
