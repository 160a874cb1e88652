"""Sampled frames -> moments that follow shot changes, between ``min_len`` and ``max_len`` seconds.

A shot change is found by comparing tiny colour thumbnails (16x16 RGB, area-averaged) of
consecutive sampled frames: the mean absolute difference, on a 0..1 scale, must be above
``threshold`` *and* at least ``SPIKE_RATIO`` times the recent typical difference. Why these:

* two different scenes differ by 0.08-0.5 on this scale (solid colours in the tests: >= 0.2; two
  title slides whose backgrounds differ a little: 0.08), so the floor sits at 0.06;
* a small object moving (a square covering 1/25 of the frame, full contrast) changes <= 0.08,
  compression noise < 0.01, and even pure random noise frames differ by only ~0.04, because
  averaging each thumbnail cell over many pixels cancels noise;
* a fast pan or busy scene can sit above the floor for many samples; the spike rule keeps it from
  cutting at every sample, while a real cut inside it still stands out;
* a cut between two busy shots may not stand out from their motion, but their colours do: the
  distance between the two frames' hue/saturation/value histograms (half the L1 distance, 0..1) is
  0.51-1.0 at every cut of 36 between real-looking clips and 0.53 at most (one in 196, most below
  0.3) inside a clip, so at or above ``HARD_CUT`` a change is a cut without the spike rule, and the
  shot it closes may be shorter than ``min_len`` (down to ``HARD_SHOT`` of it) rather than be glued
  to an unrelated neighbour.

Short shots are merged into the previous one (or the next, at the start), long shots are split
into near-equal parts. The ``Segmenter`` streams: it holds at most one finished shot plus the open
one (at most ``2 * max_len`` of frames), so a two-hour video never sits in memory.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable

import numpy as np

from vidsearch.media.frames import difference, hsv, thumbnail
from vidsearch.types import Frame, Segment

DEFAULT_THRESHOLD = 0.06  # mean absolute thumbnail difference (0..1) above which a cut may be
SPIKE_RATIO = 2.0  # ... and it must be this many times the median of the recent differences
RECENT = 4  # how many recent differences make the "typical" level
THUMB = 16  # thumbnail side
HARD_CUT = 0.5  # colour-histogram distance at or above which a change is a cut whatever the motion
HARD_SHOT = 0.7  # a shot between two such cuts stands alone from this share of min_len on
_HIST_THUMB = 32  # the histogram's thumbnail (the 16-side one is averaged down from it)


def colour_histogram(thumb: np.ndarray) -> np.ndarray:
    """An HxWx3 thumbnail (0..1 RGB) -> normalised 8 hue x 4 saturation x 4 value histogram (128,)."""
    h, s, v = (np.minimum((x * n).astype(int), n - 1) for x, n in zip(hsv(thumb), (8, 4, 4), strict=True))
    hist = np.bincount(((h * 4 + s) * 4 + v).ravel(), minlength=128).astype(np.float64)
    return hist / max(1.0, float(hist.sum()))


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Half the L1 distance of two ``colour_histogram`` results: 0 same colours, 1 none in common."""
    return 0.5 * float(np.abs(a - b).sum())


def _thumbnails(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The THUMB-side thumbnail and the colour histogram of the larger one."""
    big = thumbnail(image, _HIST_THUMB)
    return thumbnail(image, THUMB), colour_histogram(big)


class Segmenter:
    """Turn a stream of sampled frames (in time order) into contiguous segments.

    ``push(frame)`` returns the segments that are final; ``finish(duration)`` closes the video
    and returns the rest. Together they cover 0..duration with no gap or overlap; each segment
    holds the pushed frames inside [start, end), and every pushed frame lands in exactly one.
    Segments are at least ``min_len`` long (unless the whole video is shorter, or hard cuts bound a
    shot of at least ``HARD_SHOT * min_len``) and at most
    ``max_len`` (when ``max_len < 2 * min_len`` the minimum wins where both cannot hold).
    """

    def __init__(self, min_len: float = 2.0, max_len: float = 10.0, threshold: float | None = None) -> None:
        if min_len < 0 or max_len <= 0 or max_len < min_len:
            raise ValueError(f"need 0 <= min_len <= max_len and max_len > 0, got {min_len}, {max_len}")
        self.min_len = min_len
        self.max_len = max_len
        self.threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        self._open_start = 0.0  # start of the shot still growing
        self._open: list[Frame] = []
        self._pending: tuple[float, float, list[Frame]] | None = None  # finished, may absorb a short next
        self._last_time: float | None = None
        self._last_thumb: np.ndarray | None = None
        self._last_hist: np.ndarray | None = None
        self._open_hard = True  # the open shot began at a hard cut (or the start of the video)
        self._recent: deque[float] = deque(maxlen=RECENT)
        self._finished = False
        self._last_cut = 0.0  # difference at the latest cut

    def push(self, frame: Frame) -> list[Segment]:
        """Add the next sampled frame; return the segments that can no longer change."""
        if self._finished:
            raise RuntimeError("Segmenter.push after finish")
        if self._last_time is not None and frame.time < self._last_time:
            raise ValueError(f"frames must come in time order ({frame.time} after {self._last_time})")
        out: list[Segment] = []
        thumb, hist = _thumbnails(frame.image)
        if self._last_thumb is not None and self._last_time is not None and self._last_hist is not None:
            diff = difference(self._last_thumb, thumb)
            hard = diff > self.threshold and histogram_distance(self._last_hist, hist) >= HARD_CUT
            # A small change soon after a cut is the new shot settling (motion starting, a fade
            # finishing), not another cut: closing there would fold the new shot into the last one.
            # A big one (a flash, then the next scene) is a cut; the flash merges as usual.
            too_soon = self._pending is not None and frame.time - self._open_start < self.min_len
            settling = too_soon and not hard and diff < max(2 * self.threshold, 0.5 * self._last_cut)
            if (hard or self._is_cut(diff)) and not settling:
                self._last_cut = diff
                # The change happened somewhere between the two samples: cut halfway.
                cut = (self._last_time + frame.time) / 2 if frame.time > self._last_time else frame.time
                opened = self._open_start
                out += self._close_shot(max(cut, self._open_start), hard=hard)
                if self._open_start == opened:
                    # the cut was not taken (a short first shot): the change is this shot's usual
                    # level, which later changes are measured against
                    self._recent.append(diff)
            else:
                self._recent.append(diff)
        self._open.append(frame)
        self._last_thumb, self._last_hist, self._last_time = thumb, hist, frame.time
        grown = frame.time - self._open_start
        if self._pending is not None and grown >= self.min_len:
            # The open shot will be long enough on its own, so nothing merges into the pending one.
            out += self._emit(*self._pending)
            self._pending = None
        if self._pending is None and grown >= 2 * self.max_len:
            # A very long shot: hand out its first max_len now (memory stays bounded); the rest,
            # between max_len and 2 * max_len plus what comes, is split evenly at its end.
            end = self._open_start + self.max_len
            head = [f for f in self._open if f.time < end]
            self._open = self._open[len(head) :]
            out.append(Segment(self._open_start, end, tuple(head)))
            self._open_start = end
        return out

    def finish(self, duration: float) -> list[Segment]:
        """Close the video at ``duration`` seconds and return the remaining segments.

        The end is stretched past the last frame when ``duration`` is short of it, so no frame is
        lost. A video with no frames gives one frameless segment 0..duration (none if 0).
        """
        if self._finished:
            raise RuntimeError("Segmenter.finish called twice")
        self._finished = True
        end = max(duration, self._open_start)
        if self._last_time is not None and self._last_time >= end:
            end = self._last_time + 1e-3
        if end <= 0:
            return []
        out = self._close_shot(end, final=True)
        if self._pending is not None:
            out += self._emit(*self._pending)
            self._pending = None
        return out

    def _is_cut(self, diff: float) -> bool:
        if diff <= self.threshold:
            return False
        if not self._recent:
            return True
        return diff >= SPIKE_RATIO * float(np.median(self._recent))

    def _close_shot(self, cut: float, final: bool = False, hard: bool = False) -> list[Segment]:
        """End the open shot at ``cut``; return what becomes final. A new shot opens at ``cut``.

        A shot shorter than ``min_len`` joins its neighbour, unless hard cuts (or the ends of the
        video) bound it on both sides and it lasts ``HARD_SHOT * min_len``: then it is a shot of its own.
        """
        out: list[Segment] = []
        shot = (self._open_start, cut, self._open)
        length = cut - self._open_start
        alone = self._open_hard and (hard or final) and length >= HARD_SHOT * self.min_len
        if length < self.min_len and not alone and self._open_hard and not hard and not final and self._pending:
            # A soft change soon after a hard cut is motion inside the new shot: gluing the start of
            # that shot to the unrelated one before the cut would make a moment span the cut.
            return out
        self._open_hard = hard
        if length < self.min_len and not alone:
            if self._pending is not None:
                start, _, frames = self._pending
                self._pending = (start, cut, frames + self._open)
            elif not final:
                return out  # a short first shot: ignore this cut, it joins the next shot
            else:
                self._pending = shot  # the whole (rest of the) video is short
        else:
            if self._pending is not None:
                out += self._emit(*self._pending)
            self._pending = shot
        self._open_start, self._open = cut, []
        self._recent.clear()
        return out

    def _emit(self, start: float, end: float, frames: list[Frame]) -> list[Segment]:
        """Split start..end into near-equal parts no longer than max_len, each with its frames."""
        length = end - start
        parts = max(1, math.ceil(length / self.max_len - 1e-9))
        if parts > 1 and length / parts < self.min_len:
            parts = max(1, int(length // self.min_len))
        bounds = [start + length * k / parts for k in range(parts)] + [end]
        out = []
        i = 0
        for a, b in zip(bounds, bounds[1:], strict=False):
            j = i
            while j < len(frames) and (frames[j].time < b or b == end):
                j += 1
            out.append(Segment(a, b, tuple(frames[i:j])))
            i = j
        return out


def segment_frames(
    frames: Iterable[Frame], duration: float, min_len: float = 2.0, max_len: float = 10.0
) -> list[Segment]:
    """All segments of a video from its sampled frames (in time order); see ``Segmenter``."""
    segmenter = Segmenter(min_len=min_len, max_len=max_len)
    out: list[Segment] = []
    for frame in frames:
        out += segmenter.push(frame)
    out += segmenter.finish(duration)
    return out
