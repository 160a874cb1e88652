"""When and where inside a query: time words and place names read as filters, and the values of
``--since``, ``--until`` and ``--near``.

``read_filters("kids in the snow in 2021", today=date(2025, 3, 1))`` gives the text "kids in the
snow" and the dates 2021-01-01 to 2021-12-31; "videos from lisbon in 2023" gives no text at all
(a query that only filters), a place (Lisbon, 11 km around it) and the year.

The reading is rules of our own, not a general date parser: ``dateparser.search.search_dates``
finds a date in almost any number or month-like word ("2001: a space odyssey", "may", "a march"),
returns single instants rather than the spans people mean ("last summer", "in 2021"), knows no
seasons or holidays, and costs a large import on every query. The rules here read only what the
tests pin (English):

* years: "in 2021", "from 2021", "2019-2021", "2019 to 2021", "between 2019 and 2021", "since 2020",
  "before 2020", "after 2020", "in the 1990s", and a bare year that ends the query ("beach 2021");
* months and days: "in July", "July 2023", "July of 2023", "last July", "July 4th", "4 July 2023",
  "2023-07-04", "2023-07";
* seasons and holidays, with a year or "last"/"this" ("summer 2023", "last summer", "this winter",
  "last christmas", "easter 2022"); alone ("christmas tree", "summer dress") they stay words for the
  picture, as they usually are;
* relative: "today", "yesterday", "this/last week, weekend, month, year", "last monday", "3 days
  ago", "2 years ago", "in the last 30 days", "past 2 weeks".

What is not read stays text, so a title with a year ("2001: a space odyssey poster") still searches
as words. Seasons are the northern hemisphere's meteorological ones (summer = June to August; winter
2023 = December 2022 to February 2023). A month or season without a year is the latest one that has
begun by ``today`` (in March 2025, "in July" is July 2024), unless the query names a year elsewhere.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING

from vidsearch.errors import UsageError

if TYPE_CHECKING:
    from vidsearch.media.places import PlaceMatch

DEFAULT_NEAR_KM = 10.0  # --near LAT,LON without --radius


@dataclass(frozen=True)
class DateRange:
    """Days from ``start`` to ``end``, both included; None on a side means open."""

    start: date | None
    end: date | None
    words: str = ""  # what the person wrote ("last summer")

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"empty range {self.start} .. {self.end}")

    def contains(self, day: date) -> bool:
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def bounds(self) -> tuple[float | None, float | None]:
        """[low, high) in wall-clock seconds (the local date and time counted as if UTC), the scale
        of ``MediaMetadata.local_seconds``: compare a clip's local time, not the reader's zone."""

        def seconds(day: date) -> float:
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()

        low = seconds(self.start) if self.start is not None else None
        high = seconds(self.end + timedelta(days=1)) if self.end is not None else None
        return low, high

    def intersect(self, other: DateRange) -> DateRange | None:
        start = max((d for d in (self.start, other.start) if d is not None), default=None)
        end = min((d for d in (self.end, other.end) if d is not None), default=None)
        if start is not None and end is not None and end < start:
            return None
        return DateRange(start, end, " ".join(w for w in (self.words, other.words) if w))

    def describe(self) -> str:
        """For people: ``2021-01-01 to 2021-12-31``, ``since 2020-01-01``, ``2023-07-04``."""
        if self.start is not None and self.start == self.end:
            return self.start.isoformat()
        if self.start is None and self.end is None:
            return "any date"
        if self.start is None:
            return f"until {self.end}"
        if self.end is None:
            return f"since {self.start}"
        return f"{self.start} to {self.end}"


@dataclass(frozen=True)
class NearFilter:
    """Where: a circle (``radius_km`` around ``lat``, ``lon``) or a named area (a country or region).

    A city or a LAT,LON is a circle; a country or region matches clips whose place lies in it.
    """

    lat: float
    lon: float
    radius_km: float
    words: str  # what the person wrote
    name: str  # for people: "Lisbon, Portugal", "38.7223, -9.1393"
    country_code: str = ""  # for an area: the ISO code it lies in
    region: str = ""  # for a region: its name as places store it
    kind: str = "point"  # "point", "city", "region" or "country"

    @property
    def is_area(self) -> bool:
        return self.kind in ("region", "country")

    def contains(self, lat: float, lon: float, country_code: str = "", region: str = "") -> bool:
        """Whether a clip at (lat, lon), whose place is in ``country_code`` / ``region``, is inside."""
        if self.is_area:
            return country_code == self.country_code and (self.kind == "country" or region == self.region)
        from vidsearch.media.places import haversine_km

        return haversine_km(self.lat, self.lon, lat, lon) <= self.radius_km

    def describe(self) -> str:
        if self.is_area:
            return f"in {self.name} ({self.kind})"
        return f"within {self.radius_km:g} km of {self.name}"


@dataclass(frozen=True)
class QueryFilters:
    """A query with its time and place words taken out, and what they mean."""

    text: str  # the query without the filter words ("" when it was only filters)
    dates: DateRange | None = None
    near: NearFilter | None = None
    notes: tuple[str, ...] = field(default=())  # how the filter words were read, for --explain

    def explain(self) -> list[str]:
        lines = []
        if self.dates is not None:
            lines.append(f"dates: {self.dates.words!r} -> {self.dates.describe()}")
        if self.near is not None:
            lines.append(f"place: {self.near.words!r} -> {self.near.describe()}")
        return lines + list(self.notes)


# ---- calendar helpers --------------------------------------------------------------------------------
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS["sept"] = 9
SEASONS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11), "winter": (12, 2)}
WEEKDAYS = {name.lower(): i for i, name in enumerate(calendar.day_name)}


def _month(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _season(year: int, name: str) -> tuple[date, date]:
    first, last = SEASONS[name]
    if first > last:  # winter YEAR: December of the year before to February of YEAR
        return date(year - 1, 12, 1), _month(year, last)[1]
    return date(year, first, 1), _month(year, last)[1]


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ll = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ll) // 451
    month, day = divmod(h + ll - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _thanksgiving(year: int) -> date:
    first = date(year, 11, 1)
    return first + timedelta(days=(3 - first.weekday()) % 7 + 21)  # the fourth Thursday


HOLIDAYS: dict[str, Callable[[int], tuple[date, date]]] = {
    "christmas": lambda y: (date(y, 12, 24), date(y, 12, 26)),
    "xmas": lambda y: (date(y, 12, 24), date(y, 12, 26)),
    "christmas eve": lambda y: (date(y, 12, 24), date(y, 12, 24)),
    "christmas day": lambda y: (date(y, 12, 25), date(y, 12, 25)),
    "new year's eve": lambda y: (date(y, 12, 31), date(y, 12, 31)),
    "new years eve": lambda y: (date(y, 12, 31), date(y, 12, 31)),
    "new year's day": lambda y: (date(y, 1, 1), date(y, 1, 1)),
    "new year": lambda y: (date(y - 1, 12, 31), date(y, 1, 1)),
    "new year's": lambda y: (date(y - 1, 12, 31), date(y, 1, 1)),
    "halloween": lambda y: (date(y, 10, 31), date(y, 10, 31)),
    "easter": lambda y: (_easter(y) - timedelta(days=2), _easter(y) + timedelta(days=1)),
    "thanksgiving": lambda y: (_thanksgiving(y), _thanksgiving(y) + timedelta(days=3)),
    "valentine's day": lambda y: (date(y, 2, 14), date(y, 2, 14)),
    "valentines day": lambda y: (date(y, 2, 14), date(y, 2, 14)),
}


def _latest(today: date, span: Callable[[int], tuple[date, date]], *, ended: bool) -> tuple[date, date]:
    """The latest span (of this year or the one before) that has begun by ``today``, or, with
    ``ended``, that has ended before it ("last christmas" on December 25 is the year before's)."""
    for year in (today.year + 1, today.year, today.year - 1, today.year - 2):
        start, end = span(year)
        if (end < today) if ended else (start <= today):
            return start, end
    return span(today.year - 1)


# ---- the reader --------------------------------------------------------------------------------------
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_SEASON_RE = "|".join(SEASONS)
_HOLIDAY_RE = "|".join(re.escape(h).replace(r"\ ", r"\s+") for h in sorted(HOLIDAYS, key=len, reverse=True))
_WEEKDAY_RE = "|".join(WEEKDAYS)
_YEAR = r"(?:19\d\d|20\d\d)"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"


def _unit(group: str) -> str:
    return rf"(?P<{group}>day|week|month|year)s?"


_NUM_WORDS = {"a": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
              "nine": 9, "ten": 10, "twelve": 12, "couple of": 2, "few": 3}  # fmt: skip
_NUMBER = r"\d{1,3}|" + "|".join(sorted(_NUM_WORDS, key=len, reverse=True)).replace(" ", r"\s+")

# One date expression ("atom"); each alternative is named after how it resolves. Compiled on first use:
# the pattern is large, and most queries hold no date at all (``_may_hold_date`` says which may).
@functools.cache
def _atom_re() -> re.Pattern[str]:
    return re.compile(
        rf"""
        (?P<iso_day>\b{_YEAR}-[01]\d-[0-3]\d\b)
      | (?P<iso_month>\b{_YEAR}-[01]\d\b(?!-\d))
      | (?P<decade>\b(?:the\s+)?(?:(?P<century>19|20)?(?P<tens>\d)0)'?s\b)
      | (?P<md>\b(?P<md_month>{_MONTH_RE})\.?\s+(?P<md_day>{_DAY})\b(?:,?\s+(?P<md_year>{_YEAR})\b)?)
      | (?P<dm>\b(?P<dm_day>{_DAY})\s+(?:of\s+)?(?P<dm_month>{_MONTH_RE})\b(?:,?\s+(?P<dm_year>{_YEAR})\b)?)
      | (?P<rel_named>\b(?P<rel>last|this|next|past)\s+(?P<rel_name>{_HOLIDAY_RE}|{_SEASON_RE}|{_MONTH_RE}|{_WEEKDAY_RE}
            |week(?:end)?|month|year)\b)
      | (?P<named_year>\b(?P<ny_name>{_HOLIDAY_RE}|{_SEASON_RE}|{_MONTH_RE})(?:\s+of)?,?\s+(?P<ny_year>{_YEAR})\b)
      | (?P<ago>\b(?P<ago_n>{_NUMBER})\s+{_unit("ago_unit")}\s+ago\b)
      | (?P<within>\b(?:(?:in|within|during|over)\s+)?(?:the\s+)?(?:last|past)
            \s+(?P<within_n>{_NUMBER})\s+{_unit("within_unit")}\b)
      | (?P<dby>\b(?:the\s+)?day\s+before\s+yesterday\b)
      | (?P<today>\btoday\b)
      | (?P<yesterday>\byesterday\b)
      | (?P<month>\b(?P<m_name>{_MONTH_RE})\b)
      | (?P<year>\b{_YEAR}\b(?![./:]\d)(?!-[01]\d\b)(?!-[01]\d-))
        """,
        re.IGNORECASE | re.VERBOSE,
    )


# Words before an atom that belong to it.
_LEAD = re.compile(
    r"(?:\b(?P<lead>in|during|from|on|of|at|since|after|before|until|till|through|between|taken\s+in|filmed\s+in"
    r"|recorded\s+in|shot\s+in|around)\s+)$",
    re.IGNORECASE,
)
# Between two atoms: a span from the first to the second.
_SPAN_JOIN = re.compile(r"^\s*(?:-|–|to|until|till|through|and)\s*$", re.IGNORECASE)
_OPEN_START = {"since", "after"}
_OPEN_END = {"before", "until", "till", "through"}


@dataclass
class _Atom:
    start: int  # character span in the query, lead word included
    end: int
    first: date
    last: date
    words: str
    lead: str = ""
    bare_year: bool = False
    year_free: Callable[[int], tuple[date, date]] | None = None  # a month/season with no year given


def _number(text: str) -> int:
    text = re.sub(r"\s+", " ", text.lower())
    return int(text) if text.isdigit() else _NUM_WORDS[text]


def _shift_months(day: date, months: int) -> date:
    total = day.year * 12 + day.month - 1 + months
    return date(total // 12, total % 12 + 1, 1)


def _resolve(m: re.Match[str], today: date) -> _Atom | None:
    """The days one matched date expression stands for; None when it is not a date after all."""
    kind = m.lastgroup
    g = m.groupdict()
    text = m.group(0)
    span: tuple[date, date] | None = None
    year_free: Callable[[int], tuple[date, date]] | None = None
    try:
        if kind == "iso_day":
            d = date.fromisoformat(text)
            span = (d, d)
        elif kind == "iso_month":
            y, mo = text.split("-")
            span = _month(int(y), int(mo))
        elif kind == "decade":
            century = int(g["century"]) * 100 if g["century"] else (1900 if int(g["tens"]) >= 3 else 2000)
            first = century + int(g["tens"]) * 10
            span = (date(first, 1, 1), date(first + 9, 12, 31))
        elif kind in ("md", "dm"):
            month = MONTHS[g[f"{kind}_month"].lower()]
            day = int(re.match(r"\d+", g[f"{kind}_day"]).group(0))  # type: ignore[union-attr]
            if g[f"{kind}_year"]:
                d = date(int(g[f"{kind}_year"]), month, day)
                span = (d, d)
            else:
                date(2000, month, day)  # raises for February 30
                year_free = lambda y: (date(y, month, day), date(y, month, day))  # noqa: E731
        elif kind == "named_year":
            name, year = _name(g["ny_name"]), int(g["ny_year"])
            span = _named_span(name)(year)
        elif kind == "rel_named":
            span = _relative(g["rel"].lower(), _name(g["rel_name"]), today)
        elif kind == "ago":
            n, unit = _number(g["ago_n"]), g["ago_unit"].lower()
            span = _unit_span(unit, today, -n)
        elif kind == "within":
            n, unit = _number(g["within_n"]), g["within_unit"].lower()
            days = {"day": 1, "week": 7}.get(unit)
            span = (today - timedelta(days=n * days - 1) if days else _back(today, unit, n), today)
        elif kind == "dby":
            span = (today - timedelta(days=2), today - timedelta(days=2))
        elif kind == "today":
            span = (today, today)
        elif kind == "yesterday":
            span = (today - timedelta(days=1), today - timedelta(days=1))
        elif kind == "month":
            month = MONTHS[g["m_name"].lower()]
            year_free = lambda y: _month(y, month)  # noqa: E731
        elif kind == "year":
            if int(text) > today.year + 1:
                return None
            span = (date(int(text), 1, 1), date(int(text), 12, 31))
    except (ValueError, KeyError, AttributeError):
        return None
    if year_free is not None:
        span = _latest(today, year_free, ended=False)
    if span is None:
        return None
    return _Atom(m.start(), m.end(), span[0], span[1], text, bare_year=kind == "year", year_free=year_free)


def _name(text: str) -> str:
    return re.sub(r"\s+", " ", text.lower()).replace("’", "'")


def _named_span(name: str) -> Callable[[int], tuple[date, date]]:
    if name in HOLIDAYS:
        return HOLIDAYS[name]
    if name in SEASONS:
        return lambda y: _season(y, name)
    month = MONTHS[name]
    return lambda y: _month(y, month)


def _back(today: date, unit: str, n: int) -> date:
    """The first day of the ``n`` months or years that end today."""
    if unit == "month":
        first = _shift_months(today.replace(day=1), -n)
        return date(first.year, first.month, min(today.day, calendar.monthrange(first.year, first.month)[1])) + (
            timedelta(days=1)
        )
    try:
        return today.replace(year=today.year - n) + timedelta(days=1)
    except ValueError:  # February 29
        return date(today.year - n, 3, 1)


def _unit_span(unit: str, today: date, shift: int) -> tuple[date, date]:
    """The calendar day, week (Monday to Sunday), month or year ``shift`` units from today's."""
    if unit == "day":
        d = today + timedelta(days=shift)
        return d, d
    if unit == "week":
        monday = today - timedelta(days=today.weekday()) + timedelta(weeks=shift)
        return monday, monday + timedelta(days=6)
    if unit == "month":
        first = _shift_months(today.replace(day=1), shift)
        return _month(first.year, first.month)
    return date(today.year + shift, 1, 1), date(today.year + shift, 12, 31)


def _relative(rel: str, name: str, today: date) -> tuple[date, date] | None:
    """ "last/this/next/past" + a unit, weekday, month, season or holiday."""
    if rel == "past":
        if name in ("week", "month", "year"):  # "the past week" is the seven days up to today
            first = today - timedelta(days=6) if name == "week" else _back(today, name, 1)
            return first, today
        rel = "last"
    if name in ("week", "month", "year"):
        return _unit_span(name, today, {"last": -1, "this": 0, "next": 1}[rel])
    if name == "weekend":
        saturday = today - timedelta(days=(today.weekday() - 5) % 7)
        # the latest Saturday is this weekend's on a weekend day; on a weekday it was last weekend's
        on_weekend = today.weekday() >= 5
        if rel == "last" and on_weekend:
            saturday -= timedelta(days=7)
        elif (rel == "this" and not on_weekend) or rel == "next":
            saturday += timedelta(days=7)
        return saturday, saturday + timedelta(days=1)
    if name in WEEKDAYS:
        if rel != "last":
            return None  # "this monday" may be ahead or behind: not read
        back = (today.weekday() - WEEKDAYS[name]) % 7 or 7
        d = today - timedelta(days=back)
        return d, d
    span = _named_span(name)
    if rel == "this":
        return span(today.year)
    if rel == "next":
        return None  # a library holds no future recordings
    return _latest(today, span, ended=True)


# Every alternative of the atom pattern needs a digit or one of these words.
_DATE_WORDS = frozenset({"last", "this", "next", "past", "ago", "today", "yesterday", *MONTHS})


def _may_hold_date(query: str) -> bool:
    return any(c.isdigit() for c in query) or not _DATE_WORDS.isdisjoint(re.findall(r"[a-z]+", query.lower()))


def _find_atoms(query: str, today: date) -> list[_Atom]:
    atoms: list[_Atom] = []
    if not _may_hold_date(query):
        return atoms
    for m in _atom_re().finditer(query):
        atom = _resolve(m, today)
        if atom is None:
            continue
        lead = _LEAD.search(query[: m.start()])
        if lead is not None:
            atom.lead = re.sub(r"\s+", " ", lead["lead"].lower())
            atom.start = lead.start()
            atom.words = query[atom.start : atom.end]
        if not _counts(atom, m, query):
            continue
        atoms.append(atom)
    return atoms


def _counts(atom: _Atom, m: re.Match[str], query: str) -> bool:
    """Whether a matched date expression is meant as a date here (see the module's notes)."""
    after = query[m.end() :]
    if re.match(r"\s*:", after):
        return False  # "2001: a space odyssey"
    kind = m.lastgroup
    if kind == "month" and not atom.lead:
        # "may", "march", "june", "august" are words and names: a month alone needs a lead word
        return bool(re.match(r"\s*(?:-|–|to|until|till|through)\s", after))
    if kind == "year" and not atom.lead:
        rest = after.strip(" \t.,!?")
        before = query[: m.start()].strip()
        joined = re.search(r"(?:-|–|\bto|\bbetween|\band|\buntil|\btill|\bthrough)\s*$", before, re.I)
        # a bare year counts at the end of a query that says something else, or in a span
        return bool(joined) or (not rest and bool(before)) or bool(re.match(r"(?:-|–|to\b)", rest))
    if kind == "decade":
        return atom.lead in ("in", "during", "from", "of", "since", "before", "after")
    return True


def _combine(atoms: list[_Atom], query: str) -> list[tuple[int, int, DateRange]]:
    """Join atoms into ranges ("2019 to 2021", "since 2020"): (start, end, days) per range; a month
    or season given without a year takes a whole year named elsewhere in the query."""
    out: list[tuple[int, int, DateRange]] = []
    explicit_year = next((a.first.year for a in atoms if a.year_free is None and a.first.year == a.last.year
                          and a.first.month == 1 and a.last.month == 12 and a.first.day == 1 and a.last.day == 31),
                         None)  # fmt: skip
    i = 0
    while i < len(atoms):
        a = atoms[i]
        if a.year_free is not None and explicit_year is not None:
            first, last = a.year_free(explicit_year)  # "in july ... in 2021"
            a = replace(a, first=first, last=last)
        nxt = atoms[i + 1] if i + 1 < len(atoms) else None
        if nxt is not None and _SPAN_JOIN.match(query[a.end : nxt.start]) and a.lead not in _OPEN_START | _OPEN_END:
            if nxt.lead in ("", "to", "until", "till", "through") or a.lead == "between":
                joined = query[a.start : nxt.end]
                first, last = (a.first, nxt.last) if nxt.last >= a.first else (nxt.first, a.last)
                out.append((a.start, nxt.end, DateRange(first, last, joined)))
                i += 2
                continue
        if a.lead in _OPEN_START:
            start = a.first if a.lead == "since" else a.last + timedelta(days=1)
            out.append((a.start, a.end, DateRange(start, None, a.words)))
        elif a.lead in _OPEN_END:
            end = a.last if a.lead in ("until", "till", "through") else a.first - timedelta(days=1)
            out.append((a.start, a.end, DateRange(None, end, a.words)))
        else:
            out.append((a.start, a.end, DateRange(a.first, a.last, a.words)))
        i += 1
    return out


# ---- places inside a query ---------------------------------------------------------------------------
_PLACE_LEAD = re.compile(r"\b(?P<lead>in|from|at|near|around)\s+", re.IGNORECASE)
_PLACE_STOP = re.compile(
    r"^(?:and|but|with|without|then|while|not|or|in|on|at|from|during|near|when|where|that|who|which|of|for|by|to"
    r"|the|a|an|my|our|his|her|their|this|these|those|some|during|since|before|after)$",
    re.IGNORECASE,
)
# Towns of 50,000 people or more whose names are everyday words: typed in lower case they are words.
_COMMON_WORD_PLACES = {"nice", "reading", "bath", "mobile", "orange", "surprise", "independence", "aurora",
                       "split", "victoria", "hope", "paradise", "sunrise", "spring", "normal", "kent", "sale",
                       "batman", "mission", "union", "vista", "corona", "sparks", "male", "derby", "concord",
                       "providence", "pearl", "marathon", "temple", "florence", "buffalo", "phoenix", "lincoln",
                       "jackson", "plantation", "deal", "march", "bologna", "of"}  # fmt: skip
_COMPASS = {"north", "south", "east", "west", "central", "centre", "center", "northern", "southern", "eastern",
            "western", "capital", "coast"}  # fmt: skip


def _place_filter(match: PlaceMatch, words: str, radius_km: float | None = None) -> NearFilter:
    if match.kind in ("country", "region"):
        return NearFilter(match.lat, match.lon, 0.0, words, match.name, match.country_code, match.region, match.kind)
    radius = radius_km if radius_km is not None else match.radius_km
    return NearFilter(match.lat, match.lon, radius, words, match.name, match.country_code, match.region, "city")


def _find_place_words(query: str, find: Callable[[str], PlaceMatch | None]) -> tuple[int, int, NearFilter] | None:
    """The first "in/from/at/near PLACE" whose PLACE runs to the end of its phrase and names a
    known place big enough not to be an ordinary word ("in nice weather" is weather)."""
    for lead in _PLACE_LEAD.finditer(query):
        for end in _place_ends(query, lead.end()):
            name = query[lead.end() : end]
            match = find(name)
            if match is None or not _big_enough(name, match):
                continue
            return lead.start(), end, _place_filter(match, query[lead.start() : end].strip())
    return None


def _place_ends(query: str, start: int) -> list[int]:
    """Where a place name starting at ``start`` may end, longest first: the run of up to four words
    before a connector or punctuation, and with a ", qualifier" after it ("paris, texas")."""
    ends: list[int] = []
    pos = start
    for part in range(2):
        words = []
        for w in re.finditer(r"[^\W\d_][\w'’.-]*|\S", query[pos:]):
            token = w.group(0)
            if not re.match(r"[^\W\d_]", token) or _PLACE_STOP.match(token):
                break
            words.append(w)
        if not words or len(words) > 4:
            break
        end = pos + words[-1].end()
        nxt = query[end:].lstrip()
        if nxt and not re.match(_PLACE_AFTER, nxt, re.IGNORECASE):
            break
        ends.append(end)
        comma = re.match(r"\s*,\s*", query[end:])
        if part or comma is None:
            break
        pos = end + comma.end()
    return ends[::-1]


_PLACE_AFTER = r"[,;.!?]|(?:and|but|with|without|then|while|not|or|in|on|at|from|during|since|before|after|last|this)\b"


def _written_as_place(name: str) -> bool:
    return name[:1].isupper() or "," in name  # "Nice", "paris, texas"


def _big_enough(name: str, match: PlaceMatch) -> bool:
    """Whether a place name in a query is meant as a place, not as an ordinary word."""
    from vidsearch.media.places import QUERY_PLACE_MIN_PEOPLE, QUERY_REGION_MIN_PEOPLE

    plain = name.lower()
    if match.kind == "city":
        if _written_as_place(name):
            return True
        return plain not in _COMMON_WORD_PLACES and match.population >= QUERY_PLACE_MIN_PEOPLE
    if match.kind == "region":
        return plain not in _COMPASS and match.population >= QUERY_REGION_MIN_PEOPLE
    return True


def _default_find(text: str) -> PlaceMatch | None:
    from vidsearch.media.places import find_place, may_name_a_place

    # a name typed in lower case counts only when big (``_big_enough``): smaller ones need no table
    if not may_name_a_place(text, big=not _written_as_place(text)):
        return None
    return find_place(text)


def _tidy(text: str) -> str:
    text = re.sub(r"\s+([,;.!?])", r"\1", text)
    text = re.sub(r"([,;])\s*(?=[,;.!?]|$)", "", text)
    text = _strip_dangling(re.sub(r"\s{2,}", " ", text))
    return _strip_dangling(re.sub(r"\b(?:and|or|from|in|of|during|on)$", "", text, flags=re.I))


def _strip_dangling(text: str) -> str:
    """Without the separators a cut word left at either end ("2021 - beach" -> "beach"); a hyphen
    joined to a word stays, since "-rain" means "not rain"."""
    return re.sub(r"^[\s,;–]*(?:-+(?=\s|$)[\s,;–]*)*|(?:[\s,;–]+-*)+$|\s+-+$", "", text).strip(" ,;–")


def read_filters(
    query: str,
    today: date | None = None,
    *,
    places: bool = True,
    find_place: Callable[[str], PlaceMatch | None] | None = None,
) -> QueryFilters:
    """Take the time words (and, with ``places``, one "in/from/at/near PLACE") out of ``query``.

    Returns the remaining text, the days meant (several time words narrow each other: "in july"
    with "in 2021" is July 2021) and the place. ``today`` is the date relative words count from
    (default: today here); ``find_place`` looks a name up (default: the offline gazetteer).
    """
    today = today or date.today()
    atoms = _find_atoms(query, today)
    spans = _combine(atoms, query)
    dates: DateRange | None = None
    notes: list[str] = []
    cuts: list[tuple[int, int]] = []
    for start, end, rng in spans:
        if dates is None:
            dates = rng
        else:
            both = dates.intersect(rng)
            if both is None:
                notes.append(f"dates: {rng.words!r} does not overlap {dates.words!r}; kept the first")
                continue
            dates = both
        cuts.append((start, end))
    text = _cut(query, cuts)
    near = None
    if places:
        found = _find_place_words(text, find_place or _default_find)
        if found is not None:
            start, end, near = found
            text = _cut(text, [(start, end)])
    return QueryFilters(_tidy(text), dates, near, tuple(notes))


def place_words_in(text: str, names: Collection[str], max_words: int = 4) -> list[str]:
    """The place names of the library that ``text`` mentions, longest first and not overlapping.

    ``names`` holds folded names (``media.places.fold``) of the places the library's clips were
    filmed at ("lisbon", "new york city", "california"). Unlike ``read_filters`` this needs no lead
    word ("lisbon tram"), so it suits a soft boost, or a filter when the words are all the query says.
    """
    return [name for name, _, _ in _place_word_spans(text, names, max_words)]


def cut_place_words(text: str, names: Collection[str], max_words: int = 4) -> tuple[list[str], str]:
    """``place_words_in`` and the text without those words: ``("lisbon", "tram")`` for "Lisbon tram"."""
    spans = _place_word_spans(text, names, max_words)
    return [name for name, _, _ in spans], _tidy(_cut(text, [(start, end) for _, start, end in spans]))


def _place_word_spans(text: str, names: Collection[str], max_words: int) -> list[tuple[str, int, int]]:
    """(folded name, start, end in ``text``) of each library place name ``text`` mentions."""
    from vidsearch.media.places import fold

    # each word of the text folded on its own, with where it stands ("Tromsø" -> "tromso")
    words: list[tuple[str, int, int]] = []
    for m in re.finditer(r"[^\W_]+(?:['’][^\W_]+)*", text):
        for part in fold(m.group(0)).split():
            words.append((part, m.start(), m.end()))
    found: list[tuple[str, int, int]] = []
    i = 0
    while i < len(words):
        for size in range(min(max_words, len(words) - i), 0, -1):
            name = " ".join(w for w, _, _ in words[i : i + size])
            if name in names:
                found.append((name, words[i][1], words[i + size - 1][2]))
                i += size
                break
        else:
            i += 1
    return found


def _cut(text: str, spans: list[tuple[int, int]]) -> str:
    for start, end in sorted(spans, reverse=True):
        text = text[:start] + " " + text[end:]
    return text


# ---- command-line values -----------------------------------------------------------------------------
def _single(text: str, today: date, option: str) -> DateRange:
    value = text.strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", value)
    if m:
        try:
            year = int(m[1])
            if m[3]:
                d = date(year, int(m[2]), int(m[3]))
                return DateRange(d, d, value)
            if m[2]:
                return DateRange(*_month(year, int(m[2])), value)
            return DateRange(date(year, 1, 1), date(year, 12, 31), value)
        except ValueError:
            raise UsageError(f"{option} {text}: no such date") from None
    read = read_filters(value, today, places=False)
    if read.dates is None or read.text or read.dates.start is None or read.dates.end is None:
        raise UsageError(
            f"{option} {text!r}: not a date; use YYYY, YYYY-MM or YYYY-MM-DD (or words like 'yesterday', 'last summer')"
        )
    return read.dates


def parse_since(text: str, today: date | None = None) -> date:
    """``--since`` -> the first day included: ``2021`` is 2021-01-01, ``2021-07`` 2021-07-01."""
    return _single(text, today or date.today(), "--since").start  # type: ignore[return-value]


def parse_until(text: str, today: date | None = None) -> date:
    """``--until`` -> the last day included: ``2021`` is 2021-12-31, ``2021-02`` 2021-02-28."""
    return _single(text, today or date.today(), "--until").end  # type: ignore[return-value]


def date_range(since: str | None, until: str | None, today: date | None = None) -> DateRange | None:
    """``--since``/``--until`` together; UsageError when the end comes before the start."""
    if since is None and until is None:
        return None
    start = parse_since(since, today) if since else None
    end = parse_until(until, today) if until else None
    if start is not None and end is not None and end < start:
        raise UsageError(f"--until {until} comes before --since {since}")
    words = " ".join(p for p in (f"--since {since}" if since else "", f"--until {until}" if until else "") if p)
    return DateRange(start, end, words)


_LATLON = re.compile(r"^\s*([+-]?\d{1,2}(?:\.\d+)?)\s*[, ]\s*([+-]?\d{1,3}(?:\.\d+)?)\s*$")


def parse_near(
    text: str, radius_km: float | None = None, find_place: Callable[[str], PlaceMatch | None] | None = None
) -> NearFilter:
    """``--near`` (``LAT,LON`` or a place name) with ``--radius`` -> a NearFilter.

    A position without a radius gets ``DEFAULT_NEAR_KM``; a city gets a radius that grows with it
    (Lisbon 11 km, London 47 km); a country or region is matched by name and takes no radius.
    Raises UsageError for an unknown place, a position out of range or a radius that is not positive.
    """
    if radius_km is not None and not radius_km > 0:
        raise UsageError(f"--radius must be more than 0 km (got {radius_km:g})")
    m = _LATLON.match(text)
    if m:
        lat, lon = float(m[1]), float(m[2])
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise UsageError(f"--near {text}: latitude must be within -90..90 and longitude within -180..180")
        radius = radius_km if radius_km is not None else DEFAULT_NEAR_KM
        return NearFilter(lat, lon, radius, text.strip(), f"{lat:.4f}, {lon:.4f}")
    match = (find_place or _default_find)(text)
    if match is None:
        raise UsageError(
            f"--near {text}: no such place in the offline place table; give a city, region or country name "
            f"('lisbon', 'paris, texas', 'portugal') or a position as LAT,LON"
        )
    return _place_filter(match, text.strip(), radius_km)
