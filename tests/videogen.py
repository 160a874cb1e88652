"""Encode small test videos with PyAV: scenes of known content, known cut times, rotation, VFR.

Every test builds the videos it needs with these helpers (no binary fixtures in the repo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

Painter = Callable[[int, float, int, int], np.ndarray]  # (frame index, time, width, height) -> HxWx3


def solid(rgb: tuple[int, int, int]) -> Painter:
    """A still frame of one colour."""

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = rgb
        return img

    return paint


def moving_square(bg: tuple[int, int, int], fg: tuple[int, int, int], speed: float = 1.0) -> Painter:
    """A square crossing the frame left to right (``speed`` widths per second, wrapping)."""

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = bg
        side = max(4, h // 4)
        x = int((t * speed * w) % max(1, w - side))
        y = (h - side) // 2
        img[y : y + side, x : x + side] = fg
        return img

    return paint


def noise(seed: int = 0) -> Painter:
    """Busy random texture, different every frame (high motion)."""
    rng = np.random.default_rng(seed)

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        return rng.integers(0, 256, (h, w, 3), dtype=np.uint8)

    return paint


def image(picture: np.ndarray) -> Painter:
    """A still picture (HxWx3 uint8), resized by nearest neighbour to the video size."""

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        ys = np.linspace(0, picture.shape[0] - 1, h).astype(int)
        xs = np.linspace(0, picture.shape[1] - 1, w).astype(int)
        return np.ascontiguousarray(picture[ys][:, xs, :3])

    return paint


@dataclass(frozen=True)
class Scene:
    painter: Painter
    seconds: float


def write_video(
    path: str | Path,
    scenes: Sequence[Scene],
    *,
    fps: float = 10,
    size: tuple[int, int] = (160, 96),
    codec: str = "libx264",
    rotation: int = 0,
    frame_times: Sequence[float] | None = None,
    metadata: dict[str, str] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode ``scenes`` one after another into ``path`` and return it.

    ``size`` is (width, height) as stored. ``rotation`` writes a display-matrix rotation
    (degrees) into the stream so players turn it upright. ``frame_times`` gives explicit
    presentation times (variable frame rate) instead of a constant ``fps``. ``metadata`` sets
    container tags (e.g. ``{"creation_time": "2021-06-01T12:00:00.000000Z"}``); ``options`` are
    muxer options (``{"movflags": "use_metadata_tags"}`` writes any tag, as phones do).
    """
    path = Path(path)
    w, h = size
    total = sum(s.seconds for s in scenes)
    variable_rate = frame_times is not None
    if frame_times is None:
        n = max(1, round(total * fps))
        frame_times = [i / fps for i in range(n)]
    bounds = np.cumsum([s.seconds for s in scenes])
    time_base = Fraction(1, 1000)
    with av.open(str(path), "w", options=options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1000))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        if codec in ("libx264", "h264"):
            stream.options = {"preset": "ultrafast", "g": str(max(1, int(fps)))}
        stream.time_base = time_base
        if variable_rate:
            # The encoder counts in 1/fps by default, which would round close VFR stamps onto the
            # same tick (and the muxer rejects the repeated timestamp): count in milliseconds.
            stream.codec_context.time_base = time_base
        if rotation:
            # The old ``rotate`` tag is ignored by FFmpeg's muxers now; write the display matrix
            # itself. ``rotation`` is clockwise (like the tag); the matrix angle is counterclockwise.
            stream.set_display_rotation(-rotation)
        for key, value in (metadata or {}).items():
            container.metadata[key] = value
        for i, t in enumerate(frame_times):
            k = min(int(np.searchsorted(bounds, t, side="right")), len(scenes) - 1)
            scene_start = bounds[k - 1] if k else 0.0
            pixels = scenes[k].painter(i, t - scene_start, w, h)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = round(t / time_base)
            frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: str | Path, seconds: float = 1.0) -> Path:
    """An .mp4 holding only an audio track (a video extension with no picture)."""
    path = Path(path)
    rate = 8000
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate)
        samples = (np.sin(np.arange(int(rate * seconds)) / 10) * 3000).astype(np.int16)
        for start in range(0, len(samples), 1024):
            chunk = samples[start : start + 1024].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="mono")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def title_card(text: str, bg: tuple[int, int, int] | None = None) -> Painter:
    """White capitals centred on a plain slide, sized to the video (large enough for OCR).

    Without ``bg`` the slide colour follows the text, so two different cards are two shots.
    """
    if bg is None:
        seed = sum(ord(c) * (i + 1) for i, c in enumerate(text))
        bg = (20 + seed % 70, 20 + (seed // 70) % 70, 40 + (seed // 4900) % 90)
    cache: dict[tuple[int, int], np.ndarray] = {}

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        if (w, h) not in cache:
            from PIL import Image, ImageDraw, ImageFont

            img = Image.new("RGB", (w, h), bg)
            draw = ImageDraw.Draw(img)
            font = ImageFont.load_default(size=max(10, h // 9))
            left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
            xy = ((w - (right - left)) / 2, (h - (bottom - top)) / 2)
            draw.text(xy, text, font=font, fill=(255, 255, 255))
            cache[(w, h)] = np.asarray(img)
        return cache[(w, h)]

    return paint
