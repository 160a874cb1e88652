"""Places offline: positions become the names people use, names become positions or areas."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from vidsearch.media import places
from vidsearch.media.places import (
    Gazetteer,
    GazetteerMissingError,
    bounding_box,
    find_place,
    fold,
    haversine_km,
    place_at,
)


def test_a_clip_filmed_in_lisbon_is_named_lisbon() -> None:
    place = place_at(38.7223, -9.1393)  # Rossio
    assert place is not None
    assert place.city == "Lisbon" and place.country == "Portugal" and place.country_code == "PT"
    assert place.name == "Lisbon, Portugal"
    assert "lisbon" in place.words.split() and "portugal" in place.words.split()
    assert "lisbon" in place.names and "portugal" in place.names
    times_square = place_at(40.7580, -73.9855)
    assert times_square is not None and "new york" in times_square.names


def test_a_big_city_names_its_landmarks_and_leaves_its_neighbour_towns_their_names() -> None:
    eiffel = place_at(48.8584, 2.2945)
    assert eiffel is not None and eiffel.city == "Paris"
    assert eiffel.locality != "Paris"  # the nearest point in the table is a suburb across the river
    cascais = place_at(38.6979, -9.4215)  # 25 km from Lisbon
    assert cascais is not None and cascais.city == "Cascais"


def test_distances_are_measured_on_the_sphere_far_north() -> None:
    # At 70 N a degree of longitude is a third of a degree of latitude: a flat nearest-point search in
    # degrees names Alta's neighbours wrongly; on the sphere the town the camera stands in wins.
    place = place_at(69.6492, 18.9553)
    assert place is not None and place.city == "Tromsø"
    assert "tromso" in place.words.split()


@pytest.mark.parametrize(("lat", "lon"), [(0.0, -160.0), (0.0, 0.0), (95.0, 0.0), (-45.0, -120.0)])
def test_no_place_far_from_every_town_or_for_no_fix(lat: float, lon: float) -> None:
    assert place_at(lat, lon) is None


@pytest.mark.parametrize(
    ("typed", "kind", "name", "code"),
    [
        ("lisbon", "city", "Lisbon, Portugal", "PT"),
        ("Lisbon", "city", "Lisbon, Portugal", "PT"),
        ("paris", "city", "Paris, France", "FR"),
        ("paris, texas", "city", "Paris, United States", "US"),
        ("paris texas", "city", "Paris, United States", "US"),
        ("london, canada", "city", "London, Canada", "CA"),
        ("new york", "city", "New York City, United States", "US"),
        ("zurich", "city", "Zürich, Switzerland", "CH"),
        ("portugal", "country", "Portugal", "PT"),
        ("california", "region", "California, United States", "US"),
        ("Île-de-France", "region", "Île-de-France, France", "FR"),
    ],
)
def test_place_names_typed_by_people(typed: str, kind: str, name: str, code: str) -> None:
    match = find_place(typed)
    assert match is not None
    assert (match.kind, match.name, match.country_code) == (kind, name, code)


def test_a_city_reaches_further_the_bigger_it_is() -> None:
    lisbon, london, town = find_place("lisbon"), find_place("london"), find_place("paris, texas")
    assert lisbon is not None and london is not None and town is not None
    assert town.radius_km == places.DEFAULT_RADIUS_KM
    assert town.radius_km < lisbon.radius_km < london.radius_km <= places.MAX_CITY_RADIUS_KM
    lat, lon = lisbon.lat, lisbon.lon
    assert haversine_km(lat, lon, 38.7223, -9.1393) < lisbon.radius_km


@pytest.mark.parametrize("typed", ["nowhere-ville", "", "   ", "zzzz qqqq"])
def test_unknown_names_are_none(typed: str) -> None:
    assert find_place(typed) is None


def test_folding_makes_names_plain_words() -> None:
    assert fold("Île-de-France") == "ile de france"
    assert fold("Tromsø") == "tromso"
    assert fold("Kraków") == "krakow"
    assert fold("Straße") == "strasse"
    assert fold("Ra's al Khaymah") == "ras al khaymah"


def test_haversine() -> None:
    assert haversine_km(38.7223, -9.1393, 41.1579, -8.6291) == pytest.approx(274.0, abs=2.0)  # Lisbon-Porto
    one_degree = 2 * math.pi * places.EARTH_RADIUS_KM / 360
    assert haversine_km(0, 0, 1, 0) == pytest.approx(one_degree)
    assert haversine_km(10, 179.5, 10, -179.5) == pytest.approx(one_degree * math.cos(math.radians(10)), rel=1e-3)


@pytest.mark.parametrize(("lat", "lon"), [(38.72, -9.14), (69.6, 18.9), (-33.9, 151.2), (0.0, 179.9)])
def test_bounding_box_holds_the_whole_circle(lat: float, lon: float) -> None:
    lo_lat, hi_lat, lo_lon, hi_lon = bounding_box(lat, lon, 25.0)
    for k in range(36):
        bearing = math.radians(k * 10)
        d = 24.999 / places.EARTH_RADIUS_KM
        p = math.asin(
            math.sin(math.radians(lat)) * math.cos(d) + math.cos(math.radians(lat)) * math.sin(d) * math.cos(bearing)
        )
        q = math.radians(lon) + math.atan2(
            math.sin(bearing) * math.sin(d) * math.cos(math.radians(lat)),
            math.cos(d) - math.sin(math.radians(lat)) * math.sin(p),
        )
        plat, plon = math.degrees(p), math.degrees(q)
        assert lo_lat <= plat <= hi_lat
        assert lo_lon <= plon <= hi_lon  # longitudes past 180 stay unwrapped, as documented


def _tiny_table(folder: Path) -> Path:
    rows = [
        {"country_code": "PT", "city": "Lisbon", "latitude": 38.71667, "longitude": -9.13333, "population": 517802,
         "state": "Lisbon"},
        {"country_code": "PT", "city": "Porto", "latitude": 41.14961, "longitude": -8.61099, "population": 249633,
         "state": "Porto"},
    ]  # fmt: skip
    folder.mkdir()
    with gzip.open(folder / "geocode.gz", "wt", encoding="utf-8") as f:
        json.dump(rows, f)
    (folder / "countries.csv").write_text("PT,Portugal\n", encoding="utf-8")
    return folder


def test_the_table_is_read_once_then_from_a_compact_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _tiny_table(tmp_path / "pkg")
    cache = tmp_path / "cache"
    first = Gazetteer.load(source, cache)
    assert len(first) == 2 and len(list(cache.glob("places-*.npz"))) == 1

    def no_parsing(*args: object, **kwargs: object) -> object:
        raise AssertionError("the table was parsed again")

    monkeypatch.setattr(places.json, "loads", no_parsing)
    again = Gazetteer.load(source, cache)
    assert again.city == ["Lisbon", "Porto"]
    assert again.find("porto") is not None and again.find("portugal") is not None
    place = again.place_at(41.15, -8.61)
    assert place is not None and place.city == "Porto"


def test_a_torn_copy_is_rebuilt(tmp_path: Path) -> None:
    source = _tiny_table(tmp_path / "pkg")
    cache = tmp_path / "cache"
    Gazetteer.load(source, cache)
    copy = next(cache.glob("places-*.npz"))
    copy.write_bytes(copy.read_bytes()[:100])
    assert Gazetteer.load(source, cache).city == ["Lisbon", "Porto"]


def test_a_missing_table_says_what_to_install(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(GazetteerMissingError, match="place table"):
        Gazetteer.load(tmp_path / "empty", tmp_path / "cache")


def test_words_after_in_or_at_that_name_no_big_place_leave_the_table_unread(monkeypatch: pytest.MonkeyPatch) -> None:
    from vidsearch.query.dates import read_filters

    assert find_place("lisbon") is not None  # the table and its compact copy exist
    places._known_names.cache_clear()
    read = []
    monkeypatch.setattr(places, "gazetteer", lambda: read.append(1) or Gazetteer.load())
    for query in ("a dog on the beach at sunset", "kids playing in the snow", "a picnic in the park"):
        assert read_filters(query).near is None
    assert read == []  # answered from the name hashes alone, in milliseconds
    # the names it passes still reach the table: big places typed in lower case, small ones capitalised
    assert read_filters("kids playing in lisbon").near is not None
    assert read_filters("tram in Sintra").near is not None
    assert read_filters("the beach at paris, texas").near is not None
    assert len(read) == 3
