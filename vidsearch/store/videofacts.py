"""When, where and with what each video was filmed, as columns of the index's ``videos`` table:
writing them, choosing videos by them (the date, place and camera filters) and counting them.

The facts themselves are read in ``vidsearch.media.facts``; here they are records.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vidsearch.types import VideoFacts

if TYPE_CHECKING:
    from vidsearch.store.db import Store

_COLUMNS = (
    "recorded, recorded_local, recorded_source, tz, lat, lon, place, place_names, country, region,"
    " camera_make, camera_model, meta_version"
)


def _names_cell(names: Sequence[str]) -> str:
    # "|a|b|" so that one whole name matches with LIKE '%|a|%'
    return f"|{'|'.join(names)}|" if names else ""


def _row(f: VideoFacts) -> tuple[Any, ...]:
    return (
        f.recorded, f.recorded_local, f.recorded_source, f.tz_offset, f.lat, f.lon, f.place,
        _names_cell(f.place_names), f.country, f.region, f.camera_make, f.camera_model, f.version,
    )  # fmt: skip


def _facts(row: Sequence[Any]) -> VideoFacts:
    rec, local, source, tz, lat, lon, place, names, country, region, make, model, version = row
    return VideoFacts(
        recorded=rec,
        recorded_local=local,
        recorded_source=source or "",
        tz_offset=tz,
        lat=lat,
        lon=lon,
        place=place,
        place_names=tuple(n for n in (names or "").split("|") if n),
        country=country,
        region=region,
        camera_make=make,
        camera_model=model,
        version=int(version or 0),
    )


def _like(text: str) -> str:
    """``text`` as a LIKE pattern matching it anywhere (with ``ESCAPE '\\'``)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True)
class VideoFilter:
    """Which videos a search keeps, by when, where and with what they were filmed.

    Every condition given must hold; a video whose date (or position, camera) is unknown fails a
    condition on it.
    """

    local_from: float | None = None  # recorded_local >= this (wall-clock seconds, as VideoFacts)
    local_before: float | None = None  # recorded_local < this
    circle: tuple[float, float, float] | None = None  # (lat, lon, radius km)
    country: str | None = None  # ISO code of the place
    region: str | None = None  # with ``country``: the region's name as the place table gives it
    camera: str | None = None  # text the camera's make and model hold (any case): "gopro", "iphone 13"
    place_names: tuple[str, ...] = ()  # folded place names; the video's place has one of them

    @property
    def active(self) -> bool:
        return any(
            v is not None for v in (self.local_from, self.local_before, self.circle, self.country, self.camera)
        ) or bool(self.place_names)


@dataclass(frozen=True)
class FactsSummary:
    """What ``status`` shows of the library's dates, positions, places and cameras."""

    videos: int
    first: float | None = None  # earliest recorded_local
    last: float | None = None
    sources: dict[str, int] = field(default_factory=dict)  # videos per source of their date
    with_position: int = 0
    places: list[tuple[str, int]] = field(default_factory=list)  # most frequent first
    cameras: list[tuple[str, int]] = field(default_factory=list)
    unread: int = 0  # videos whose facts have not been read yet (an index from before they were kept)


class FactsTable:
    """The facts columns of one open ``Store`` (``store.facts``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def _db(self) -> Any:
        return self.store.db

    # ---- writing ---------------------------------------------------------------------------------
    def write(self, video_id: int, facts: VideoFacts) -> None:
        """Write the facts of one video (inside the caller's transaction, if any)."""
        self.write_many([(video_id, facts)])

    def write_many(self, rows: Iterable[tuple[int, VideoFacts]]) -> None:
        assignments = ", ".join(f"{c.strip()}=?" for c in _COLUMNS.split(","))
        self._db.executemany(
            f"UPDATE videos SET {assignments} WHERE id=?", [(*_row(f), video_id) for video_id, f in rows]
        )

    def outdated(self, version: int) -> list[tuple[int, str]]:
        """(id, path) of the indexed videos whose facts were read by an older version than ``version``
        (or never), in path order."""
        from vidsearch.store.db import _str

        rows = self._db.execute(
            "SELECT id, path FROM videos WHERE status='indexed' AND meta_version < ? ORDER BY path", (version,)
        )
        return [(int(i), _str(p)) for i, p in rows]

    def mark_outdated(self, video_id: int, sources: Sequence[str]) -> None:
        """Have the facts of ``video_id`` read again when their date came from one of ``sources``
        (a renamed or touched file whose date came from its name or modification time)."""
        self._db.execute(
            "UPDATE videos SET meta_version=0 WHERE id=? AND recorded_source IN (SELECT value FROM json_each(?))",
            (video_id, json.dumps(list(sources))),
        )

    # ---- reading ---------------------------------------------------------------------------------
    def of(self, video_ids: Iterable[int]) -> dict[int, VideoFacts]:
        """{video id: its facts} for the given videos."""
        rows = self._db.execute(
            f"SELECT id, {_COLUMNS} FROM videos WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(video_ids))),),
        )
        return {int(r[0]): _facts(r[1:]) for r in rows}

    def in_time_order(self, video_ids: Iterable[int], limit: int) -> list[int]:
        """The first ``limit`` of ``video_ids`` in the order they were filmed (unknown dates last)."""
        rows = self._db.execute(
            "SELECT id FROM videos WHERE id IN (SELECT value FROM json_each(?))"
            " ORDER BY recorded_local IS NULL, recorded_local, path LIMIT ?",
            (json.dumps(sorted(set(video_ids))), limit),
        )
        return [int(r[0]) for r in rows]

    def has_positions(self) -> bool:
        """Whether any video of the library has a position (place filters can match something)."""
        return self._db.execute("SELECT 1 FROM videos WHERE lat IS NOT NULL LIMIT 1").fetchone() is not None

    def place_names(self) -> set[str]:
        """Every folded name of the places the library's videos were filmed at."""
        names: set[str] = set()
        for (cell,) in self._db.execute("SELECT DISTINCT place_names FROM videos WHERE place_names != ''"):
            names.update(n for n in cell.split("|") if n)
        return names

    def ids_where(self, where: VideoFilter) -> list[int]:
        """Ids of the indexed videos that pass ``where``, in id order."""
        sql = ["status='indexed'"]
        params: list[Any] = []
        if where.local_from is not None:
            sql.append("recorded_local >= ?")
            params.append(where.local_from)
        if where.local_before is not None:
            sql.append("recorded_local < ?")
            params.append(where.local_before)
        if where.country is not None:
            sql.append("country = ?")
            params.append(where.country)
            if where.region is not None:
                sql.append("region = ?")
                params.append(where.region)
        if where.camera is not None:
            sql.append("(COALESCE(camera_make, '') || ' ' || COALESCE(camera_model, '')) LIKE ? ESCAPE '\\'")
            params.append(_like(where.camera.strip()))
        if where.place_names:
            sql.append("(" + " OR ".join("place_names LIKE ? ESCAPE '\\'" for _ in where.place_names) + ")")
            params += [_like(f"|{n}|") for n in where.place_names]
        if where.circle is None:
            rows = self._db.execute(f"SELECT id FROM videos WHERE {' AND '.join(sql)} ORDER BY id", params)
            return [int(r[0]) for r in rows]
        from vidsearch.media.places import bounding_box, haversine_km

        lat, lon, km = where.circle
        lo_lat, hi_lat, lo_lon, hi_lon = bounding_box(lat, lon, km)
        sql.append("lat BETWEEN ? AND ?")
        params += [lo_lat, hi_lat]
        # a box running past the 180th meridian is two boxes
        lon_ranges = [(max(lo_lon, -180.0), min(hi_lon, 180.0))]
        if lo_lon < -180.0:
            lon_ranges.append((lo_lon + 360.0, 180.0))
        if hi_lon > 180.0:
            lon_ranges.append((-180.0, hi_lon - 360.0))
        sql.append("(" + " OR ".join("lon BETWEEN ? AND ?" for _ in lon_ranges) + ")")
        params += [x for pair in lon_ranges for x in pair]
        rows = self._db.execute(f"SELECT id, lat, lon FROM videos WHERE {' AND '.join(sql)} ORDER BY id", params)
        return [int(i) for i, a, b in rows if haversine_km(lat, lon, a, b) <= km]

    def summary(self, top: int = 5) -> FactsSummary:
        """Date range, date sources, positions, and the ``top`` places and cameras of indexed videos."""
        from vidsearch.media.metadata import camera_name

        q = self._db.execute
        indexed = "status='indexed'"
        videos, first, last, with_position, unread = q(
            "SELECT count(*), min(recorded_local), max(recorded_local), count(lat),"
            f" sum(meta_version = 0) FROM videos WHERE {indexed}"
        ).fetchone()
        sources = dict(
            q(
                f"SELECT recorded_source, count(*) FROM videos WHERE {indexed} AND recorded_source != ''"
                " GROUP BY 1 ORDER BY 2 DESC, 1"
            ).fetchall()
        )
        places = q(
            f"SELECT place, count(*) FROM videos WHERE {indexed} AND place IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
            " LIMIT ?",
            (top,),
        ).fetchall()
        cameras: Counter[str] = Counter()
        for make, model, count in q(
            f"SELECT camera_make, camera_model, count(*) FROM videos WHERE {indexed}"
            " AND (camera_make IS NOT NULL OR camera_model IS NOT NULL) GROUP BY 1, 2"
        ):
            name = camera_name(make, model)
            if name:
                cameras[name] += count
        return FactsSummary(
            videos=int(videos),
            first=first,
            last=last,
            sources={str(k): int(v) for k, v in sources.items()},
            with_position=int(with_position),
            places=[(str(p), int(c)) for p, c in places],
            cameras=sorted(cameras.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
            unread=int(unread or 0),
        )
