"""Offline places: how often a landmark's position gets its city's name, and what a lookup costs.

Landmarks (a camera standing at them) with the city a person would name. For each way of naming a
position it prints how many landmarks are shown under the expected city, and how many have that
name anywhere among their searchable words (locality, city, county, region):

* reverse-geocode  the package's own ``get`` (nearest point in raw degrees; the baseline)
* nearest          the nearest place on the sphere
* weighted w       vidsearch.media.places: the place within 30 km with the smallest
                   (distance + 0.5 km) / population ** w (w = 0.33 is the shipped choice)

Then the costs, all in this run: importing the package and its first ``get`` (it parses its table
and builds a k-d tree) against reading the table the way vidsearch does (first read, then the cached
copy), a position lookup and a lookup by name.

    .venv/bin/python benchmarks/places.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from vidsearch.media import places

# (latitude, longitude, the city a person would name, other names that are right too)
LANDMARKS: list[tuple[float, float, str, tuple[str, ...]]] = [
    (48.8584, 2.2945, "Paris", ()),  # Eiffel Tower
    (48.8606, 2.3376, "Paris", ()),  # Louvre
    (40.7580, -73.9855, "New York City", ("Manhattan",)),  # Times Square
    (40.7829, -73.9654, "New York City", ("Manhattan",)),  # Central Park
    (37.8199, -122.4783, "San Francisco", ()),  # Golden Gate Bridge
    (41.8902, 12.4922, "Rome", ()),  # Colosseum
    (41.4036, 2.1744, "Barcelona", ()),  # Sagrada Familia
    (41.4145, 2.1527, "Barcelona", ()),  # Park Guell
    (52.5163, 13.3777, "Berlin", ()),  # Brandenburg Gate
    (35.6595, 139.7005, "Tokyo", ("Shibuya",)),  # Shibuya crossing
    (-22.9519, -43.2105, "Rio de Janeiro", ()),  # Christ the Redeemer
    (-22.9711, -43.1822, "Rio de Janeiro", ("Copacabana",)),  # Copacabana
    (38.6916, -9.2160, "Lisbon", ("Belém",)),  # Belem Tower
    (38.7075, -9.1364, "Lisbon", ()),  # Praca do Comercio
    (-33.8568, 151.2153, "Sydney", ()),  # Opera House
    (-33.8915, 151.2767, "Sydney", ("Bondi Beach",)),  # Bondi Beach
    (51.5007, -0.1246, "London", ("Westminster",)),  # Big Ben
    (51.5055, -0.0754, "London", ()),  # Tower Bridge
    (34.1341, -118.3215, "Los Angeles", ("Hollywood",)),  # Hollywood sign
    (34.0083, -118.4988, "Santa Monica", ()),  # Santa Monica Pier
    (25.1972, 55.2744, "Dubai", ()),  # Burj Khalifa
    (37.9715, 23.7257, "Athens", ()),  # Acropolis
    (50.0865, 14.4114, "Prague", ()),  # Charles Bridge
    (52.3600, 4.8852, "Amsterdam", ()),  # Rijksmuseum
    (1.2834, 103.8607, "Singapore", ()),  # Marina Bay Sands
    (50.8467, 4.3525, "Brussels", ()),  # Grand Place
    (48.2085, 16.3731, "Vienna", ()),  # St Stephen's
    (45.4642, 9.1900, "Milan", ()),  # Duomo
    (45.4380, 12.3358, "Venice", ()),  # Rialto
    (43.7680, 11.2531, "Florence", ()),  # Ponte Vecchio
    (55.7520, 37.6175, "Moscow", ()),  # Kremlin
    (39.9163, 116.3972, "Beijing", ()),  # Forbidden City
    (18.9220, 72.8347, "Mumbai", ()),  # Gateway of India
    (-33.9486, 18.4017, "Cape Town", ()),  # Table Mountain cableway
    (43.6426, -79.3871, "Toronto", ()),  # CN Tower
    (47.6205, -122.3493, "Seattle", ()),  # Space Needle
    (41.8826, -87.6226, "Chicago", ()),  # Millennium Park
    (36.1126, -115.1767, "Las Vegas", ("Paradise",)),  # Bellagio (the Strip lies in Paradise)
    (50.0617, 19.9373, "Kraków", ()),  # Main Square
    (37.1761, -3.5881, "Granada", ()),  # Alhambra
    (41.1405, -8.6129, "Porto", ()),  # Ribeira
    (38.7876, -9.3905, "Sintra", ()),  # Sintra palace
    (55.9486, -3.1999, "Edinburgh", ()),  # Castle
    (21.2793, -157.8292, "Honolulu", ("Waikiki",)),  # Waikiki
    (46.0207, 7.7491, "Zermatt", ()),
    (48.1374, 11.5755, "Munich", ()),  # Marienplatz
    (37.5796, 126.9770, "Seoul", ()),  # Gyeongbokgung
    (41.0086, 28.9802, "Istanbul", ()),  # Hagia Sophia
    (29.9792, 31.1342, "Giza", ()),  # Pyramids
    (19.4326, -99.1332, "Mexico City", ()),  # Zocalo
    (-34.6037, -58.3816, "Buenos Aires", ()),  # Obelisco
    (31.6258, -7.9891, "Marrakesh", ()),  # Jemaa el-Fnaa
    (64.1417, -21.9266, "Reykjavík", ()),  # Hallgrimskirkja
    (69.6492, 18.9553, "Tromsø", ()),
    (22.2759, 114.1455, "Hong Kong", ()),  # Victoria Peak
    (34.9671, 135.7727, "Kyoto", ()),  # Fushimi Inari
    (13.7500, 100.4913, "Bangkok", ()),  # Grand Palace
    (43.0828, -79.0742, "Niagara Falls", ()),
]

# Towns next to a big city, where a person names the town: the check that a big city's pull does
# not swallow its neighbours.
TOWNS: list[tuple[float, float, str, tuple[str, ...]]] = [
    (38.6979, -9.4215, "Cascais", ()),
    (48.8049, 2.1204, "Versailles", ()),  # the palace
    (34.1478, -118.1445, "Pasadena", ()),
    (52.4043, 13.0384, "Potsdam", ()),  # Sanssouci
    (40.7440, -74.0324, "Hoboken", ()),
    (37.8044, -122.2712, "Oakland", ()),
    (43.8066, 11.2927, "Fiesole", ()),
    (43.7384, 7.4246, "Monaco", ("Monte-Carlo",)),
    (35.4437, 139.6380, "Yokohama", ()),
    (51.4839, -0.6044, "Windsor", ()),  # the castle
    (37.8591, -122.4853, "Sausalito", ()),
    (-32.0569, 115.7439, "Fremantle", ()),
    (-33.7969, 151.2877, "Manly", ()),
    (52.0116, 4.3571, "Delft", ()),
    (42.3736, -71.1097, "Cambridge", ()),  # Massachusetts
    (40.4168, -3.7038, "Madrid", ()),
    (40.4820, -3.3599, "Alcalá de Henares", ()),
    (48.7758, 9.1829, "Stuttgart", ()),
    (48.8975, 9.1922, "Ludwigsburg", ()),
    (45.0703, 7.6869, "Turin", ()),
    (51.2277, 6.7735, "Düsseldorf", ()),
    (51.4556, 7.0116, "Essen", ()),
    (53.4808, -2.2426, "Manchester", ()),
    (53.4875, -2.2901, "Salford", ()),
    (-37.8136, 144.9631, "Melbourne", ()),
    (-38.1499, 144.3617, "Geelong", ()),
    (35.0116, 135.7681, "Kyoto", ()),
    (34.6901, 135.1955, "Kobe", ()),
    (59.3293, 18.0686, "Stockholm", ()),
    (59.3706, 17.9653, "Sundbyberg", ()),
]


def _named(expected: str, also: tuple[str, ...], *names: str) -> bool:
    wanted = {places.fold(n) for n in (expected, *also)}
    return any(places.fold(n) in wanted for n in names if n)


def _words_hold(expected: str, words: str) -> bool:
    return f" {places.fold(expected)} " in f" {words} "


def accuracy(title: str, cases: list[tuple[float, float, str, tuple[str, ...]]]) -> None:
    import reverse_geocode

    table = places.gazetteer()
    LANDMARKS = cases  # noqa: N806 (the same loops for both sets)
    print(f"{len(LANDMARKS)} {title}: shown under the expected name / expected name among the words")
    rows: list[tuple[str, int, int]] = []
    shown = words = 0
    for lat, lon, city, also in LANDMARKS:
        got = reverse_geocode.get((lat, lon))
        shown += _named(city, also, got["city"])
        text = " ".join(places.fold(got.get(k, "")) for k in ("city", "county", "state"))
        words += _words_hold(city, text)
    rows.append(("reverse-geocode get", shown, words))
    shown = words = 0
    for lat, lon, city, also in LANDMARKS:
        i = table.nearest(lat, lon)
        shown += _named(city, also, table.city[i])
        words += _words_hold(city, " ".join(places.fold(x) for x in (table.city[i], table.area[i], table.region[i])))
    rows.append(("nearest on the sphere", shown, words))
    saved = places.POPULATION_WEIGHT
    misses: list[str] = []
    try:
        for weight in (0.15, 0.25, 0.33, 0.4, 0.5):
            places.POPULATION_WEIGHT = weight
            shown = words = 0
            for lat, lon, city, also in LANDMARKS:
                place = table.place_at(lat, lon)
                assert place is not None
                ok = _named(city, also, place.city, place.locality)
                shown += _named(city, also, place.city)
                words += _words_hold(city, place.words)
                if weight == saved and not _words_hold(city, place.words) and not ok:
                    misses.append(f"{city}: {place.name} ({place.locality})")
            rows.append((f"weighted w={weight}" + (" (shipped)" if weight == saved else ""), shown, words))
    finally:
        places.POPULATION_WEIGHT = saved
    for name, shown, words in rows:
        print(f"  {name:28s} shown {shown:3d}/{len(LANDMARKS)}   in words {words:3d}/{len(LANDMARKS)}")
    if misses:
        print("  missed by the shipped choice: " + "; ".join(misses))


def _timed(code: str) -> float:
    """Seconds a fresh interpreter takes to run ``code`` (the import and first-use cost a user pays)."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def costs() -> None:
    clock = "import time; t = time.perf_counter(); {}; print(time.perf_counter() - t)"
    with tempfile.TemporaryDirectory() as cache:
        package = statistics.median(
            _timed(clock.format("import reverse_geocode; reverse_geocode.get((38.72, -9.14))")) for _ in range(3)
        )
        load = (
            "from pathlib import Path; from vidsearch.media.places import Gazetteer; "
            f"Gazetteer.load(cache=Path({cache!r})).place_at(38.72, -9.14)"
        )
        first = _timed(clock.format(load))
        cached = statistics.median(_timed(clock.format(load)) for _ in range(3))
        named = statistics.median(
            _timed(clock.format(load.replace("place_at(38.72, -9.14)", "find('lisbon')"))) for _ in range(3)
        )
    print("first use in a fresh process (median of 3):")
    print(f"  reverse-geocode import + first get   {package:6.2f} s  (baseline)")
    print(f"  vidsearch first read (builds copy)   {first:6.2f} s  ({first / package:.2f}x)")
    print(f"  vidsearch, cached copy, place_at     {cached:6.2f} s  ({cached / package:.2f}x)")
    print(f"  vidsearch, cached copy, find by name {named:6.2f} s  ({named / package:.2f}x)")
    table = places.gazetteer()
    rng = np.random.default_rng(0)
    points = [(float(a), float(b)) for a, b in zip(rng.uniform(-60, 70, 300), rng.uniform(-180, 180, 300), strict=True)]
    t = time.perf_counter()
    for lat, lon in points:
        table.place_at(lat, lon)
    per_place = (time.perf_counter() - t) / len(points)
    import reverse_geocode

    t = time.perf_counter()
    for lat, lon in points:
        reverse_geocode.get((lat, lon))
    per_package = (time.perf_counter() - t) / len(points)
    t = time.perf_counter()
    for name in ("lisbon", "paris texas", "california", "portugal", "kraków") * 20:
        table.find(name)
    per_name = (time.perf_counter() - t) / 100
    print("warm lookups:")
    print(f"  reverse-geocode get   {per_package * 1e3:7.3f} ms  (baseline)")
    print(f"  vidsearch place_at    {per_place * 1e3:7.3f} ms  ({per_place / per_package:.2f}x)")
    print(f"  vidsearch find name   {per_name * 1e3:7.3f} ms")


if __name__ == "__main__":
    accuracy("landmarks in big cities", LANDMARKS)
    accuracy("towns next to a big city", TOWNS)
    costs()
