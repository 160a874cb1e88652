"""What a search is asked: its options, a reference clip ("--like PATH@1:20-1:35"), and the
explanation it gives back. Plain data and parsing only (no numpy), so the command line can build a
request without loading the search.
"""

from __future__ import annotations

import math
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

    def __post_init__(self) -> None:
        if not isinstance(self.path, str) or not self.path:
            raise UsageError(f"--like needs a file (got {self.path!r})")
        for value in (self.start, self.end):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf
            ):
                raise UsageError(f"--like {self.path}: times must be seconds from the start (got {value!r})")


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

    def __post_init__(self) -> None:
        # every way in (the command line, the query service's requests, the library) is checked here
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 1:
            raise UsageError(f"the limit must be a whole number of at least 1 (got {self.limit!r})")
        for name in ("within", "exclude"):
            value = getattr(self, name)
            if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
                raise UsageError(f"{name} must be a list of texts (got {value!r})")
        if self.like is not None and not isinstance(self.like, LikeRef):
            raise UsageError(f"like must be a reference clip (got {self.like!r})")
        for name in ("merge_gap", "max_gap", "min_score", "min_match", "whole_weight"):
            value = getattr(self, name)
            if value is None and name in ("min_score", "min_match", "whole_weight"):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                option = "--" + name.replace("_", "-")
                raise UsageError(f"{option} takes a number (got {value!r})")
        if not isinstance(self.explain, bool):
            raise UsageError(f"explain must be true or false (got {self.explain!r})")
    said: str | None = None  # --said TEXT: moments where TEXT (its words or meaning) was said


@dataclass
class Explanation:
    """How a query was understood, for ``--explain``."""

    lines: list[str] = field(default_factory=list)


_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# "1h2m3s", "1m20s", "80s", "2m": how players and video sites write times
_UNITS = re.compile(r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?", re.I)
_TIME = r"(?:(?:\d+:)?(?:\d+:)?\d+(?:\.\d+)?|(?:\d+(?:\.\d+)?[hHmMsS])+)"
# what the part after the last '@' of --like looks like when it was meant as a time (a file name
# holding '@' has other letters there)
_TIME_LIKE = re.compile(r"(?=.*\d)[\d\s.:+\-\u2013\u2014hmsHMS]+")
# a span's two times are joined by a hyphen, or by the en or em dash that editors put instead
_SPAN = re.compile(rf"^(?P<start>{_TIME})(?:\s*[-\u2013\u2014]\s*(?P<end>{_TIME}))?$")


def parse_time(text: str) -> float:
    """``90``, ``1:30``, ``1:02:03.5``, ``1m30s``, ``1h2m3.5s`` -> seconds. Raises UsageError.

    In ``M:SS`` and ``H:MM:SS`` the minutes and seconds after the first field are below 60.
    """
    units = _UNITS.fullmatch(text.strip())
    if units and any(units.groups()):
        h, m, sec = (float(units[k]) if units[k] else 0.0 for k in ("h", "m", "s"))
        return h * 3600 + m * 60 + sec
    parts = text.strip().split(":")
    if not all(_NUMBER.fullmatch(p) for p in parts) or len(parts) > 3:
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)")
    values = [float(p) for p in parts]
    if any(v >= 60 for v in values[1:]):
        raise UsageError(f"not a time: {text!r} (minutes and seconds after a ':' must be below 60)")
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
        if _TIME_LIKE.fullmatch(when) or os.path.exists(path):  # what follows '@' was meant as a time
            raise UsageError(f"{where}: not a time after '@': {when!r} (use PATH@SECONDS, PATH@M:SS, "
                             "PATH@H:MM:SS, PATH@1m20s or PATH@START-END, e.g. clip.mp4@1:20-1:35)")
    return LikeRef(spec)
