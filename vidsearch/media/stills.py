"""A moment's thumbnails, from frames already decoded: one still and a short strip for hover previews.

JPEG, because it encodes in a few milliseconds a picture (WebP was 35% smaller but about five times
slower to encode, measured on the devclips; thumbnails are made during indexing, beside the model)
and every browser, image viewer and terminal image protocol reads it. The sides keep a grid tile
sharp (a still 256 pixels on its longest side) and a moment's thumbnails near 25 KB in all.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from vidsearch.media.frames import pick
from vidsearch.types import Frame, MomentThumbnails

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

STILL_SIDE = 256  # pixels, longest side of the still
STRIP_SIDE = 128  # pixels, longest side of each frame of the strip
STRIP_FRAMES = 4
QUALITY = 75  # JPEG quality: no visible blocking at these sizes


def _fit(width: int, height: int, side: int) -> tuple[int, int]:
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _small(image: np.ndarray, side: int) -> Picture:
    """``image`` (HxWx3 uint8) as a Pillow image whose longest side is at most ``side``, area-averaged."""
    from PIL import Image

    picture = Image.fromarray(np.ascontiguousarray(image[..., :3]))
    size = _fit(picture.width, picture.height, side)
    return picture if size == picture.size else picture.resize(size, Image.Resampling.BOX)


def _jpeg(picture: Picture) -> bytes:
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=QUALITY)
    return out.getvalue()


def encode_still(image: np.ndarray, side: int = STILL_SIDE) -> bytes:
    """One frame (HxWx3 uint8 RGB) as JPEG bytes, its longest side at most ``side`` (never enlarged)."""
    return _jpeg(_small(image, side))


def encode_strip(images: Sequence[np.ndarray], side: int = STRIP_SIDE) -> bytes:
    """Frames side by side in one JPEG, each scaled to the first's size (longest side at most ``side``)."""
    from PIL import Image

    if not images:
        raise ValueError("a strip needs at least one frame")
    first = _small(images[0], side)
    sheet = Image.new("RGB", (first.width * len(images), first.height))
    for i, image in enumerate(images):
        picture = first if i == 0 else _small(image, side)
        if picture.size != first.size:  # a size change inside one moment: keep the tiles equal
            picture = picture.resize(first.size, Image.Resampling.BOX)
        sheet.paste(picture, (i * first.width, 0))
    return _jpeg(sheet)


def moment_thumbnails(frames: Sequence[Frame]) -> MomentThumbnails:
    """The still (the middle frame, away from the cuts at either edge) and the strip (frames spread
    evenly over the moment) of a moment sampled as ``frames`` (in time order, at least one)."""
    if not frames:
        raise ValueError("a moment without frames has no thumbnail")
    (middle,) = pick(frames, 1)
    strip = pick(frames, STRIP_FRAMES)
    return MomentThumbnails(
        still=encode_still(middle.image),
        strip=encode_strip([f.image for f in strip]),
        strip_frames=len(strip),
    )
