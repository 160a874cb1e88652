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
SORTS = ("score", "date", "path")  # --sort: best first, in the order they were filmed, by file and time


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
    include_offline: bool = True  # moments on roots not connected now (a drive unplugged)
    whole_weight: float | None = None  # share of the whole-sentence score (None: model default)
    # when, where and with what the videos were filmed (vidsearch.query.filters); plain values, so
    # the request travels to the query service as JSON
    since: str | None = None  # first day: YYYY, YYYY-MM, YYYY-MM-DD or words ("last summer")
    until: str | None = None  # last day, the same forms
    near: str | None = None  # a place name ("lisbon", "paris, texas", "portugal") or "LAT,LON"
    radius_km: float | None = None  # around --near (None: by the place's size, 10 km round a position)
    camera: str | None = None  # text the camera's make and model hold ("gopro", "iphone 13")
    sort: str = "score"  # order of the hits shown: one of SORTS
    today: str | None = None  # ISO date that "last summer", "this year" count from (None: today here)


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
    # past the first field, minutes and seconds stop at 59 (1:75 is a typo, not 2:15)
    if len(values) > 3 or any(v < 0 for v in values) or any(v >= 60 for v in values[1:]):
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)")
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def parse_like(spec: str, option: str = "--like") -> LikeRef:
    """``PATH``, ``PATH@TIME`` or ``PATH@START-END`` -> LikeRef. A path containing '@' still works
    when the part after the last '@' is not a time. ``option`` names where the text came from in
    errors ("" for none)."""
    if "@" in spec and not os.path.exists(spec):
        path, _, when = spec.rpartition("@")
        match = _SPAN.match(when.strip())
        where = f"{option} {spec}" if option else spec
        if match:
            try:
                start = parse_time(match["start"])
                end = parse_time(match["end"]) if match["end"] else None
            except UsageError as exc:
                raise UsageError(f"{where}: {exc}") from None
            if end is not None and end <= start:
                raise UsageError(f"{where}: the end time must come after the start")
            return LikeRef(path, start, end)
        if os.path.exists(path):  # the file is there, so what follows '@' was meant as a time
            raise UsageError(f"{where}: not a time after '@': {when!r} (use seconds, M:SS or "
                             "H:MM:SS, or START-END)")
    return LikeRef(spec)
