"""The frames Qwen3-VL-Embedding was trained and evaluated on: their size, their number, their filter.

The reference embedder (``Qwen3VLEmbedder`` in QwenLM/Qwen3-VL-Embedding, ``src/models/qwen3_vl_embedding.py``,
and the initialisation parameters its README lists) prepares a video with qwen-vl-utils' ``fetch_video``
(it requires qwen-vl-utils >= 0.0.14; 0.0.14 is the newest release) and a vision patch of 16 pixels.
The facts this module restates (the code is vidsearch's own):

* the embedder's own video settings: 1 frame per second (``fps=1.0``), at most 64 frames
  (``max_frames=64``), and ``total_pixels=7864320`` (10 x 768 x 32 x 32) for a video's frames
  together. Its ``min_pixels=4096`` and ``max_pixels=1843200`` go with images only, never videos;
* qwen-vl-utils' video limits then apply per frame: at least 128 and at most 768 merged tokens
  (``VIDEO_MIN_TOKEN_NUM``, ``VIDEO_MAX_TOKEN_NUM``), a merged token being 32 x 32 pixels (patch 16 x
  spatial merge 2): 131,072 and 786,432 pixels. A video of n frames may use at most
  ``total_pixels / n x 2`` pixels per frame (the 2 frames of a temporal patch share one token grid),
  but never less than 1.05 x the minimum;
* ``smart_resize``: round height and width to the nearest multiple of 32 (Python's ``round``, at
  least 32); when that grid holds more pixels than the maximum, scale the original size by
  ``sqrt(h w / max)`` and round both sides down to multiples of 32; when fewer than the minimum,
  scale by ``sqrt(min / (h w))`` and round up. So small frames are enlarged, large ones reduced, and
  the aspect ratio is kept as closely as the 32-pixel grid allows;
* the frames are resized with torchvision's ``resize``, bicubic, with antialiasing, from uint8;
* how many frames: duration x fps, at least 4 (``FPS_MIN_FRAMES``), at most 64 and at most the frames
  there are, rounded down to an even number (``FRAME_FACTOR`` 2: frames pair into temporal patches),
  taken evenly over the span (``linspace``, rounded); their timestamps go to the processor.

A video file goes through one resize, from the decoded frame to the grid. (A list of frames takes
another path in qwen-vl-utils: each frame is first resized as an image, and the frames get made-up
timestamps at 2 per second.) vidsearch decodes video files, so it follows the file path: one resize
from the decoded frame and the frames' real times. vidsearch also embeds frames of an aspect ratio
above 200, which the reference refuses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

PATCH = 16  # the vision tower's patch side (Qwen3-VL); the factor 32 below is patch x spatial merge 2
FACTOR = 32
MIN_TOKENS = 128  # merged tokens per frame, at least (qwen-vl-utils VIDEO_MIN_TOKEN_NUM)
MAX_TOKENS = 768  # ... at most (VIDEO_MAX_TOKEN_NUM)
TOTAL_TOKENS = 7680  # the embedder's total_pixels 7,864,320 in 32 x 32 tokens: for all frames together
FPS = 1.0  # the embedder's frames per second
MIN_FRAMES = 4  # qwen-vl-utils FPS_MIN_FRAMES
MAX_FRAMES = 64  # the embedder's max_frames
FRAME_FACTOR = 2  # frames come in pairs (the temporal patch)
MIN_SLACK = 1.05  # the per-frame maximum never falls below 1.05 x the minimum

# The longest side vidsearch decodes frames at for the reference's sizes: frames up to 1920 px (1080p)
# reach the resize whole; larger ones are reduced to it first (area average) as they are decoded.
DECODE_SIDE = 1920


def pixel_limits(frames: int, factor: int = FACTOR) -> tuple[int, float]:
    """(least, most) pixels one frame may have in a video of ``frames`` frames (padded to even).

    ``factor`` is the side of a merged token in pixels (32 for the real model); the limits are token
    counts times ``factor`` squared, so a test model with smaller patches keeps the same token counts.
    """
    unit = factor * factor
    least = MIN_TOKENS * unit
    most = max(min(MAX_TOKENS * unit, TOTAL_TOKENS * unit / max(1, frames) * FRAME_FACTOR), int(least * MIN_SLACK))
    return least, most


def smart_resize(height: int, width: int, factor: int, least: float, most: float) -> tuple[int, int]:
    """(height, width), multiples of ``factor``, holding between ``least`` and ``most`` pixels, aspect kept.

    The reference's rule (module docstring). Sides never fall below ``factor`` (the reference refuses
    frames so thin that they would).
    """
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > most:
        beta = math.sqrt(height * width / most)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < least:
        beta = math.sqrt(least / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def frame_grid(height: int, width: int, frames: int, factor: int = FACTOR) -> tuple[int, int]:
    """The (height, width) the reference resizes a ``height`` x ``width`` frame to, in a video of
    ``frames`` frames (even)."""
    return smart_resize(height, width, factor, *pixel_limits(frames, factor))


def frame_count(duration: float, available: int, fps: float = FPS) -> int:
    """How many frames the reference takes from a span of ``duration`` seconds with ``available`` frames.

    ``duration x fps``, at least ``MIN_FRAMES``, at most ``MAX_FRAMES`` and ``available``, rounded down
    to even; at least 2 (a span with a single frame repeats it, as the reference pads frame lists).
    """
    wanted = min(max(duration * fps, MIN_FRAMES), MAX_FRAMES, available)
    return max(FRAME_FACTOR, math.floor(wanted / FRAME_FACTOR) * FRAME_FACTOR)


def resize_bicubic(images: Sequence[np.ndarray], size: tuple[int, int]) -> np.ndarray:
    """Frames (H x W x 3 uint8, one size) -> (T, h, w, 3) uint8, bicubic with antialiasing.

    The same torchvision call the reference makes, so the pixels are the reference's.
    """
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF  # noqa: N812 (torchvision's own alias)

    stack = torch.from_numpy(np.stack([np.ascontiguousarray(i[..., :3]) for i in images]))
    if tuple(stack.shape[1:3]) == tuple(size):
        return stack.numpy()
    out = TF.resize(stack.permute(0, 3, 1, 2), list(size), interpolation=InterpolationMode.BICUBIC, antialias=True)
    return out.permute(0, 2, 3, 1).contiguous().numpy()
