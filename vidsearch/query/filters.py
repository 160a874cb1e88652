"""When, where and with what: the ``--since``, ``--until``, ``--near`` and ``--camera`` options and
the time and place words of a query, read together into the videos a search may return.

Dates, places and cameras belong to a video, so the filters become a set of video ids that goes into
the nearest-neighbour search the way ``--in`` does (inside the search: no loss of recall however few
videos pass). Every filter given must hold; a video whose date or position is unknown fails a filter
on it.

Place names of the library's own places typed as plain words ("lisbon tram", no "in") are not a
filter but evidence (``PlaceWords``): the search looks for the whole query everywhere, and for the
rest of it ("tram") among the videos filmed there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from vidsearch.errors import UsageError
from vidsearch.query.dates import DateRange, NearFilter, cut_place_words, date_range, parse_near, read_filters
from vidsearch.query.options import SORTS, SearchOptions
from vidsearch.store import VideoFilter

if TYPE_CHECKING:
    from vidsearch.store import Store

# Words that ask for nothing in the picture once the time and place words are gone: "videos from
# lisbon in 2023", "all my clips filmed in july" only filter.
FILLER = frozenset(
    "a all an any anything clip clips every everything everywhere filmed film films footage from in "
    "made me moment moments movie movies my of on our recorded recording recordings shot shots show "
    "taken that the this those video videos were with".split()
)


@dataclass(frozen=True)
class PlaceWords:
    """Names of places the library's videos were filmed at, typed in the query as plain words."""

    names: tuple[str, ...]  # folded ("lisbon")
    rest: str  # the query without them ("tram"; "" when the names were all it said)


@dataclass
class SearchFilters:
    """A query read for its filters: what is left to look for, and which videos may answer."""

    text: str  # the query without its time and place filter words ("" when it only filtered)
    dates: DateRange | None = None
    places: tuple[NearFilter, ...] = ()  # --near and the query's "in PLACE"; each must hold
    camera: str | None = None
    place_words: PlaceWords | None = None
    impossible: bool = False  # filters that contradict each other: nothing can match
    lines: list[str] = field(default_factory=list)  # how they were read, for --explain

    @property
    def active(self) -> bool:
        """Whether any filter narrows the videos searched."""
        return self.dates is not None or bool(self.places) or self.camera is not None or self.impossible

    @property
    def only_filters(self) -> bool:
        """Whether the query asks for nothing in the picture (list what passes, in time order)."""
        return not self.text and self.active


def today_of(options: SearchOptions) -> date:
    """The day relative time words count from."""
    if not options.today:
        return date.today()
    try:
        return date.fromisoformat(options.today)
    except ValueError:
        raise UsageError(f"today must be a date as YYYY-MM-DD (got {options.today!r})") from None


def read_search_filters(store: Store, text: str, options: SearchOptions) -> SearchFilters:
    """Read ``options``' filters and the time and place words of ``text`` together.

    Place words are looked up only when some video of the library has a position (elsewhere they
    could match nothing, and stay words for the picture). Raises UsageError for a bad ``--since``,
    ``--until``, ``--near``, ``--radius`` or ``--sort``.
    """
    if options.sort not in SORTS:
        raise UsageError(f"unknown --sort {options.sort!r}; choose one of {', '.join(SORTS)}")
    if options.radius_km is not None and options.near is None:
        raise UsageError("--radius goes with --near (a place or LAT,LON to measure from)")
    today = today_of(options)
    asked = date_range(options.since, options.until, today)
    near = parse_near(options.near, options.radius_km) if options.near else None
    positions = store.facts.has_positions()
    read = read_filters(text, today, places=positions)
    lines = read.explain()
    dates = read.dates
    impossible = False
    if asked is not None:
        lines.append(f"dates: {asked.words} -> {asked.describe()}")
        if dates is None:
            dates = asked
        else:
            both = dates.intersect(asked)
            if both is None:
                lines.append(f"dates: {dates.words!r} and {asked.words} do not overlap: nothing can match")
                impossible = True
            dates = both
    places = tuple(p for p in (near, read.near) if p is not None)
    if near is not None:
        lines.append(f"place: --near {near.words} -> {near.describe()}")
    camera = options.camera.strip() if options.camera and options.camera.strip() else None
    if camera is not None:
        lines.append(f"camera: make or model holds {camera!r}")
    rest = read.text
    if rest and (dates is not None or places or camera is not None) and _filler(rest):
        lines.append(f"{rest!r} asks for nothing in the picture: only the filters count")
        rest = ""
    place_words = None
    if positions and rest:
        names, without = cut_place_words(rest, store.facts.place_names())
        if names:
            place_words = PlaceWords(tuple(names), "" if _filler(without) else without)
    return SearchFilters(rest, dates, places, camera, place_words, impossible, lines)


def _filler(text: str) -> bool:
    return all(w in FILLER for w in re.findall(r"\w+", text.lower()))


def filtered_video_ids(store: Store, filters: SearchFilters) -> list[int] | None:
    """The videos that pass every filter (None when there are no filters)."""
    if not filters.active:
        return None
    if filters.impossible:
        return []
    low, high = filters.dates.bounds() if filters.dates is not None else (None, None)
    base = VideoFilter(local_from=low, local_before=high, camera=filters.camera)
    wheres = [_with_place(base, p) for p in filters.places] or [base]
    kept: set[int] | None = None
    for where in wheres:
        ids = set(store.facts.ids_where(where))
        kept = ids if kept is None else kept & ids
    return sorted(kept or ())


def _with_place(base: VideoFilter, near: NearFilter) -> VideoFilter:
    from dataclasses import replace

    if near.is_area:
        return replace(base, country=near.country_code, region=near.region if near.kind == "region" else None)
    return replace(base, circle=(near.lat, near.lon, near.radius_km))


def filmed_at(store: Store, words: PlaceWords, within: list[int] | None) -> list[int]:
    """The videos (among ``within``, when given) filmed at a place named ``words``."""
    ids = store.facts.ids_where(VideoFilter(place_names=words.names))
    return ids if within is None else sorted(set(ids) & set(within))


def intersect(a: list[int] | None, b: list[int] | None) -> list[int] | None:
    """Video ids in both restrictions (None = no restriction)."""
    if a is None:
        return b
    if b is None:
        return a
    return sorted(set(a) & set(b))
