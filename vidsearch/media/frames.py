"""Which frames of a video to look at, and the cheap picture measures every stage shares: small
thumbnails, how far two pictures differ, how much sharp detail a picture holds.

The segmenter (cuts), the budget policy (motion, still moments), the lite model (the same slide seen
again, frames without text) and the scene cues all read pictures through these, so a "thumbnail" or
a "difference" means one thing everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")


def sample_interval(duration: float) -> float:
    """Seconds between sampled frames of a video ``duration`` seconds long: dense enough to see cuts,
    sparser for very long files (indexing reads every frame at this interval)."""
    if duration > 3600:
        return 2.0
    if duration > 1200:
        return 1.0
    return 0.5


def spread(count: int, k: int) -> list[int]:
    """Up to ``k`` indices spread evenly over ``count`` items, the first and last included (the middle
    one when ``k`` is 1); all of them when there are no more than ``k``. The reference Qwen3-VL
    sampling picks frames the same way (evenly spaced, rounded)."""
    if k <= 0:
        return []
    if count <= k:
        return list(range(count))
    if k == 1:
        return [count // 2]
    return [int(i) for i in np.linspace(0, count - 1, k).round()]


def pick(items: Sequence[T], k: int) -> list[T]:
    """``spread`` applied to a sequence (frames of a moment, images)."""
    return [items[i] for i in spread(len(items), k)]


def thumbnail(image: np.ndarray, side: int) -> np.ndarray:
    """Area-average an HxWxC uint8 image so its longest edge is at most ``side`` (aspect kept);
    float32 in 0..1. Integer block sums: a float copy of a 1080p frame would cost more than the
    measures taken on the thumbnail."""
    h, w = image.shape[:2]
    step = max(1, -(-max(h, w) // side))  # ceil
    hh, ww = (h // step) * step, (w // step) * step
    if hh == 0 or ww == 0:
        return image.astype(np.float32) / 255.0
    blocks = image[:hh, :ww].reshape(hh // step, step, ww // step, step, -1)
    sums = blocks.sum(axis=(1, 3), dtype=np.uint32)
    return sums.astype(np.float32) / np.float32(step * step * 255.0)


def grey(image: np.ndarray, side: int) -> np.ndarray:
    """A grey thumbnail (2-D, 0..1) of an RGB image, longest edge at most ``side``."""
    return thumbnail(image[..., :3], side).mean(axis=-1)


def hsv(thumb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue (0..1 of the circle), saturation and value (0..1) of a ``thumbnail`` (HxWx3 RGB, 0..1)."""
    t = thumb[..., :3].astype(np.float64)
    top, low = t.max(axis=-1), t.min(axis=-1)
    delta = top - low
    r, g, b = t[..., 0], t[..., 1], t[..., 2]
    step = np.where(delta > 0, delta, 1.0)
    hue = np.where(top == r, ((g - b) / step) % 6, np.where(top == g, (b - r) / step + 2, (r - g) / step + 4)) / 6
    hue = np.where(delta > 0, hue, 0.0)
    sat = np.where(top > 0, delta / np.where(top > 0, top, 1.0), 0.0)
    return hue, sat, top


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference (0..1) of two thumbnails; 1.0 when their sizes differ (a new shot)."""
    if a.shape != b.shape:
        return 1.0
    return float(np.abs(a - b).mean())


def cell_means(values: np.ndarray, cells: int) -> np.ndarray:
    """Mean of a 2-D array over a grid of about ``cells`` x ``cells`` cells (where in the picture a
    change happens, not only how much)."""
    h, w = values.shape
    rows = np.unique(np.linspace(0, h, min(cells, h) + 1).astype(int)[:-1])
    cols = np.unique(np.linspace(0, w, min(cells, w) + 1).astype(int)[:-1])
    sums = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, h)), np.diff(np.append(cols, w)))
    return np.asarray(sums / counts)


def edge_share(grey_levels: np.ndarray, step: float) -> float:
    """Share of pixels whose right-hand neighbour differs by ``step`` or more grey levels (0..255): text
    strokes and fine texture have many such sharp edges, plain or blurred pictures few."""
    if grey_levels.ndim != 2 or grey_levels.shape[1] < 2:
        return 0.0
    jumps = np.abs(np.diff(grey_levels.astype(np.float32), axis=1))
    return float((jumps >= step).mean())
