"""Which lines were said during which moment: the words each moment carries into the index.

Pure: spans and lines in, ``MomentSpeech`` out, no media and no model.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from vidsearch.speech.types import MomentSpeech, SpeechLine

# A line counts for a moment when at least this much of it (seconds) falls inside the moment, or half
# of it for shorter lines: a sentence that runs a syllable past a cut is not said in the next shot.
MIN_OVERLAP = 0.25

# A line no moment overlaps (said in a gap between moments, or a subtitle timed past the last frame)
# goes to the nearest moment when it is at most this far away (seconds); farther, it is dropped.
MAX_GAP = 2.0


def speech_by_moment(
    spans: Sequence[tuple[float, float]],
    lines: Sequence[SpeechLine],
    *,
    min_overlap: float = MIN_OVERLAP,
    max_gap: float = MAX_GAP,
) -> list[MomentSpeech]:
    """The lines said during each moment, one ``MomentSpeech`` per span, in the order of ``spans``.

    A line belongs to every moment it overlaps by at least ``min(min_overlap, half its length)``
    seconds, so a sentence spoken across a cut is found from both shots. A line that no moment takes
    goes to the moment it overlaps most, else the nearest one within ``max_gap`` seconds, so nothing
    that was said is lost. Each moment's lines keep their own times (and words) and are in time order.
    """
    order = sorted(range(len(spans)), key=lambda i: spans[i][0])
    starts = [spans[i][0] for i in order]
    longest = max((end - start for start, end in spans), default=0.0)
    taken: list[list[SpeechLine]] = [[] for _ in spans]
    for line in sorted(lines, key=lambda x: (x.start, x.end)):
        need = min(min_overlap, max(0.0, line.end - line.start) / 2)
        best: tuple[float, int] | None = None  # (overlap, span index) of the most overlapping moment
        placed = False
        # Only moments starting before the line ends, and not more than the longest moment before it
        # starts, can overlap it.
        hi = bisect.bisect_right(starts, line.end)
        lo = bisect.bisect_left(starts, line.start - longest)
        for k in range(lo, hi):
            i = order[k]
            start, end = spans[i]
            overlap = min(end, line.end) - max(start, line.start)
            inside = line.end == line.start and start <= line.start < end
            if (overlap > 0 and overlap >= need) or inside:
                taken[i].append(line)
                placed = True
            elif overlap > 0 and (best is None or overlap > best[0]):
                best = (overlap, i)
        if placed:
            continue
        if best is not None:
            taken[best[1]].append(line)
            continue
        nearest = _nearest(spans, line, max_gap)
        if nearest is not None:
            taken[nearest].append(line)
    return [MomentSpeech(start=s, end=e, lines=tuple(found)) for (s, e), found in zip(spans, taken, strict=True)]


def _nearest(spans: Sequence[tuple[float, float]], line: SpeechLine, max_gap: float) -> int | None:
    """The moment closest in time to a line that overlaps none, within ``max_gap`` seconds.

    A linear scan: such lines are rare (gaps between moments, subtitles past the end).
    """
    best: tuple[float, int] | None = None
    for i, (start, end) in enumerate(spans):
        gap = max(start - line.end, line.start - end, 0.0)
        if gap <= max_gap and (best is None or gap < best[0]):
            best = (gap, i)
    return None if best is None else best[1]
