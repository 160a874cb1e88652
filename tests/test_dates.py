"""Time words and place names inside a query read as filters; --since, --until, --near, --radius."""

from __future__ import annotations

import math
from datetime import date, datetime, timezone

import pytest

from vidsearch.errors import UsageError
from vidsearch.media import places
from vidsearch.media.metadata import metadata_from_tags
from vidsearch.query import QueryError, parse_query
from vidsearch.query.dates import (
    DEFAULT_NEAR_KM,
    DateRange,
    date_range,
    parse_near,
    parse_since,
    parse_until,
    read_filters,
)

TODAY = date(2025, 3, 10)  # a Monday


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("query", "text", "start", "end"),
    [
        ("beach in 2021", "beach", "2021-01-01", "2021-12-31"),
        ("kids in the snow in 2021", "kids in the snow", "2021-01-01", "2021-12-31"),
        ("fireworks in summer 2023", "fireworks", "2023-06-01", "2023-08-31"),
        ("summer of 2023", "", "2023-06-01", "2023-08-31"),
        ("tree last christmas", "tree", "2024-12-24", "2024-12-26"),
        ("this year", "", "2025-01-01", "2025-12-31"),
        ("picnic in July", "picnic", "2024-07-01", "2024-07-31"),  # the latest July begun by today
        ("in march", "", "2025-03-01", "2025-03-31"),  # the March under way
        ("swimming last summer", "swimming", "2024-06-01", "2024-08-31"),
        ("last winter", "", "2024-12-01", "2025-02-28"),
        ("winter 2023", "", "2022-12-01", "2023-02-28"),
        ("cake yesterday", "cake", "2025-03-09", "2025-03-09"),
        ("the day before yesterday", "", "2025-03-08", "2025-03-08"),
        ("2019-2021", "", "2019-01-01", "2021-12-31"),
        ("dogs from 2019 to 2021", "dogs", "2019-01-01", "2021-12-31"),
        ("between 2019 and 2021", "", "2019-01-01", "2021-12-31"),
        ("beach 2021", "beach", "2021-01-01", "2021-12-31"),  # a bare year ending the query
        ("july 4th fireworks", "fireworks", "2024-07-04", "2024-07-04"),
        ("4th of july 2021", "", "2021-07-04", "2021-07-04"),
        ("a dog on may 5", "a dog", "2024-05-05", "2024-05-05"),
        ("party on 2023-07-04", "party", "2023-07-04", "2023-07-04"),
        ("2023-07", "", "2023-07-01", "2023-07-31"),
        ("in july in 2021", "", "2021-07-01", "2021-07-31"),  # a month takes the year said elsewhere
        ("3 days ago", "", "2025-03-07", "2025-03-07"),
        ("two years ago", "", "2023-01-01", "2023-12-31"),
        ("in the last 30 days", "", "2025-02-09", "2025-03-10"),
        ("past week", "", "2025-03-04", "2025-03-10"),
        ("last week", "", "2025-03-03", "2025-03-09"),
        ("last weekend", "", "2025-03-08", "2025-03-09"),
        ("this weekend", "", "2025-03-15", "2025-03-16"),
        ("last monday", "", "2025-03-03", "2025-03-03"),
        ("this month", "", "2025-03-01", "2025-03-31"),
        ("concert in the 90s", "concert", "1990-01-01", "1999-12-31"),
        ("easter 2022", "", "2022-04-15", "2022-04-18"),
        ("thanksgiving 2023", "", "2023-11-23", "2023-11-26"),
        ("fireworks on new year's eve 2022", "fireworks", "2022-12-31", "2022-12-31"),
        ("watching 2001: a space odyssey in 2020", "watching 2001: a space odyssey", "2020-01-01", "2020-12-31"),
    ],
)
def test_time_words_become_date_filters(query: str, text: str, start: str, end: str) -> None:
    read = read_filters(query, TODAY, places=False)
    assert read.dates is not None, query
    assert (read.dates.start, read.dates.end) == (d(start), d(end))
    assert read.text == text


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [("since 2020", "2020-01-01", None), ("after 2020", "2021-01-01", None), ("before 2020", None, "2019-12-31")],
)
def test_open_ended_spans(query: str, start: str | None, end: str | None) -> None:
    read = read_filters(query, TODAY, places=False)
    assert read.dates is not None
    assert read.dates.start == (d(start) if start else None) and read.dates.end == (d(end) if end else None)


@pytest.mark.parametrize(
    "query",
    [
        "2001: a space odyssey poster",  # a title
        "a poster of 2001: a space odyssey",  # a title after a word that leads dates
        "1984 book cover",  # a year that does not end the query
        "blade runner 2049",  # a year still to come
        "may the force be with you",
        "a protest march",
        "summer dress",  # seasons and holidays alone are what the picture shows
        "christmas tree",
        "90s fashion",
        "see you next summer",  # the library holds nothing from the future
        "a dog in the park",
    ],
)
def test_words_that_are_not_dates_stay_text(query: str) -> None:
    read = read_filters(query, TODAY, places=False)
    assert read.dates is None
    assert read.text == query


def test_the_not_a_date_query_still_searches_as_words() -> None:
    read = read_filters("2001: a space odyssey poster", TODAY)
    assert read.dates is None and read.near is None
    parsed = parse_query(read.text)
    assert [c.text for c in parsed.positives] == ["2001: a space odyssey poster"]


def test_explain_says_how_the_dates_were_read() -> None:
    read = read_filters("beach in 2021", TODAY)
    assert read.explain() == ["dates: 'in 2021' -> 2021-01-01 to 2021-12-31"]


def test_beach_in_2021_keeps_only_2021_clips_by_the_day_where_they_were_filmed() -> None:
    """The filter compares each clip's local wall clock (MediaMetadata.local_seconds) with the days."""
    now = datetime(2025, 3, 10, tzinfo=timezone.utc).timestamp()

    def clip(stamp: str):
        return metadata_from_tags("/v/a.mov", {"com.apple.quicktime.creationdate": stamp}, now=now)

    clips = {
        "new year's eve 2020, late": clip("2020-12-31T23:30:00+0000"),
        "summer 2021": clip("2021-07-01T12:00:00+0100"),
        "new year's eve 2021 in Lisbon": clip("2021-12-31T23:59:59+0000"),
        # 2021-12-31 15:30 UTC, but already 2022 where it was filmed
        "new year's day 2022 in Tokyo": clip("2022-01-01T00:30:00+0900"),
        # 2022-01-01 03:00 UTC, still 2021 where it was filmed
        "new year's eve 2021 in New York": clip("2021-12-31T22:00:00-0500"),
    }
    read = read_filters("beach in 2021", TODAY)
    assert read.dates is not None
    low, high = read.dates.bounds()
    kept = {name for name, meta in clips.items() if low <= meta.local_seconds < high}  # type: ignore[operator]
    assert kept == {"summer 2021", "new year's eve 2021 in Lisbon", "new year's eve 2021 in New York"}


# ---- places inside a query ---------------------------------------------------------------------------
@pytest.mark.slow
def test_a_query_that_is_only_filters() -> None:
    read = read_filters("videos from lisbon in 2023", TODAY)
    assert read.text == "videos"
    assert read.dates is not None and (read.dates.start, read.dates.end) == (d("2023-01-01"), d("2023-12-31"))
    assert read.near is not None and read.near.name == "Lisbon, Portugal" and read.near.kind == "city"
    assert read.near.contains(38.7223, -9.1393) and not read.near.contains(41.15, -8.61)  # Porto
    with pytest.raises(QueryError):  # nothing left to look for: the caller lists the matches by date
        parse_query(read.text)


@pytest.mark.slow  # the first reads the table of world places
@pytest.mark.parametrize(
    ("query", "text", "place", "kind"),
    [
        ("dog in portugal", "dog", "Portugal", "country"),
        ("a kid in california", "a kid", "California, United States", "region"),
        ("sunset at the beach in Nice", "sunset at the beach", "Nice, France", "city"),
        ("surfing in paris, texas", "surfing", "Paris, United States", "city"),
        ("hiking in Cascais", "hiking", "Cascais, Portugal", "city"),
        ("tram in lisbon at night", "tram at night", "Lisbon, Portugal", "city"),
    ],
)
def test_place_names_in_a_query(query: str, text: str, place: str, kind: str) -> None:
    read = read_filters(query, TODAY)
    assert read.near is not None
    assert (read.text, read.near.name, read.near.kind) == (text, place, kind)


@pytest.mark.parametrize(
    "query",
    [
        "beach in nice weather",  # "nice" is weather here
        "sunset at the beach in nice",  # lower-case "nice" is a word
        "kids in the snow",
        "hiking in cascais",  # a small town typed in lower case may be a word: left as text
        "a house in the north",
        "a cat at sunset",
    ],
)
def test_words_that_are_not_places_stay_text(query: str) -> None:
    read = read_filters(query, TODAY)
    assert read.near is None and read.text == query


def test_library_place_names_are_found_without_a_lead_word() -> None:
    from vidsearch.query.dates import place_words_in

    library = {"lisbon", "portugal", "new york city", "new york", "sintra"}
    assert place_words_in("Lisbon tram", library) == ["lisbon"]
    assert place_words_in("skyline of New York City at night", library) == ["new york city"]
    assert place_words_in("a beach, no people", library) == []
    assert place_words_in("Tromsø lights", {"tromso"}) == ["tromso"]


# ---- --since / --until -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "since", "until"),
    [
        ("2021", "2021-01-01", "2021-12-31"),
        ("2021-02", "2021-02-01", "2021-02-28"),
        ("2024-02", "2024-02-01", "2024-02-29"),  # a leap year
        ("2021-7", "2021-07-01", "2021-07-31"),
        ("2021-07-04", "2021-07-04", "2021-07-04"),
        ("yesterday", "2025-03-09", "2025-03-09"),
        ("last summer", "2024-06-01", "2024-08-31"),
    ],
)
def test_since_and_until_values_include_whole_days(value: str, since: str, until: str) -> None:
    assert parse_since(value, TODAY) == d(since)
    assert parse_until(value, TODAY) == d(until)


def test_until_includes_the_last_second_of_its_day_and_since_the_first() -> None:
    rng = date_range("2021-07-04", "2021-07-04", TODAY)
    assert rng is not None
    low, high = rng.bounds()

    def wall(*args: int) -> float:
        return datetime(*args, tzinfo=timezone.utc).timestamp()

    assert low == wall(2021, 7, 4)
    assert low <= wall(2021, 7, 4, 0, 0, 0) < high  # type: ignore[operator]
    assert wall(2021, 7, 4, 23, 59, 59) + 0.999 < high  # type: ignore[operator]
    assert not wall(2021, 7, 5) < high  # type: ignore[operator]
    assert not wall(2021, 7, 3, 23, 59, 59) >= low  # type: ignore[operator]


@pytest.mark.parametrize(
    ("since", "until", "message"),
    [
        ("2021-13", None, "no such date"),
        ("2021-02-30", None, "no such date"),
        ("sometime", None, "not a date"),
        (None, "lisbon", "not a date"),
        ("2022", "2021", "comes before"),
    ],
)
def test_bad_since_until_values_are_usage_errors(since: str | None, until: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        date_range(since, until, TODAY)


def test_date_ranges_narrow_each_other() -> None:
    a = DateRange(d("2021-01-01"), d("2021-12-31"), "in 2021")
    b = DateRange(d("2021-06-01"), d("2021-08-31"), "summer 2021")
    both = a.intersect(b)
    assert both is not None and (both.start, both.end) == (b.start, b.end)
    assert a.intersect(DateRange(d("2022-01-01"), None)) is None
    assert DateRange(None, d("2021-12-31")).describe() == "until 2021-12-31"
    assert DateRange(d("2021-07-04"), d("2021-07-04")).describe() == "2021-07-04"


# ---- --near / --radius -------------------------------------------------------------------------------
def _north_of(lat: float, lon: float, km: float) -> tuple[float, float]:
    return lat + math.degrees(km / places.EARTH_RADIUS_KM), lon


def test_near_a_position_cuts_at_the_radius() -> None:
    near = parse_near("38.7223,-9.1393", radius_km=5)
    assert (near.lat, near.lon, near.radius_km) == (38.7223, -9.1393, 5)
    assert near.contains(*_north_of(38.7223, -9.1393, 4.999))
    assert not near.contains(*_north_of(38.7223, -9.1393, 5.001))
    assert parse_near("38.7223, -9.1393").radius_km == DEFAULT_NEAR_KM
    assert parse_near("38.7223 -9.1393").lat == 38.7223


def test_near_the_date_line_and_across_it() -> None:
    near = parse_near("-16.5,179.99", radius_km=10)
    assert near.contains(-16.5, -179.99)  # 2 km away, on the other side of 180
    assert not near.contains(-16.5, 179.7)


def test_near_a_place_name_and_a_radius_given() -> None:
    lisbon = parse_near("lisbon")
    assert lisbon.kind == "city" and lisbon.radius_km == pytest.approx(11.4)
    assert lisbon.describe() == "within 11.4 km of Lisbon, Portugal"
    tight = parse_near("lisbon", radius_km=2)
    assert tight.radius_km == 2 and not tight.contains(38.7075, -9.2)  # Belem side, 5 km out
    country = parse_near("portugal")
    assert country.is_area and country.contains(41.15, -8.61, "PT") and not country.contains(40.4, -3.7, "ES")


@pytest.mark.parametrize(
    ("value", "radius", "message"),
    [
        ("atlantis-under-the-sea", None, "no such place"),
        ("95,10", None, "latitude must be within"),
        ("lisbon", 0, "--radius must be more than 0"),
        ("lisbon", -3, "--radius must be more than 0"),
    ],
)
def test_bad_near_values_are_usage_errors(value: str, radius: float | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_near(value, radius)
