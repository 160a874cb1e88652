"""What a search is asked: its options, a reference clip ("--like PATH@1:20-1:35"), and the
explanation it gives back. Plain data and parsing only (no numpy), so the command line can build a
request without loading the search.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from vidsearch.errors import UsageError

MERGE_GAP = 1.0  # seconds: moments of one video closer than this may become one hit


@dataclass(frozen=True)
class LikeRef:
    """A reference clip for "like this but ...": a file and an optional span in seconds."""

    path: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class SearchOptions:
    """How to search: how many hits, where, what to leave out, a reference clip, cut-offs."""

    limit: int = 10
    within: tuple[str, ...] = ()  # restrict to files at or under these paths
    exclude: tuple[str, ...] = ()  # --not TEXT
    like: LikeRef | None = None
    merge_gap: float = MERGE_GAP
    max_gap: float = 30.0  # seconds allowed between the steps of "A then B"
    explain: bool = False
    min_score: float | None = None
    min_match: float | None = None  # absolute match cut-off (None: the model's default)
    whole_weight: float | None = None  # share of the whole-sentence score (None: model default)
    said: str | None = None  # --said TEXT: moments where TEXT (its words or meaning) was said


@dataclass
class Explanation:
    """How a query was understood, for ``--explain``."""

    lines: list[str] = field(default_factory=list)


_TIME = r"(?:\d+:)?(?:\d+:)?\d+(?:\.\d+)?"
_SPAN = re.compile(rf"^(?P<start>{_TIME})(?:-(?P<end>{_TIME}))?$")


def parse_time(text: str) -> float:
    """``90``, ``1:30``, ``1:02:03.5`` -> seconds. Raises UsageError."""
    parts = text.strip().split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)") from None
    if len(values) > 3 or any(v < 0 for v in values):
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)")
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def parse_like(spec: str) -> LikeRef:
    """``PATH``, ``PATH@TIME`` or ``PATH@START-END`` -> LikeRef. A path containing '@' still works
    when the part after the last '@' is not a time."""
    if "@" in spec and not os.path.exists(spec):
        path, _, when = spec.rpartition("@")
        match = _SPAN.match(when.strip())
        if match:
            start = parse_time(match["start"])
            end = parse_time(match["end"]) if match["end"] else None
            if end is not None and end <= start:
                raise UsageError(f"--like {spec}: the end time must come after the start")
            return LikeRef(path, start, end)
    return LikeRef(spec)
