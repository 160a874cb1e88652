"""When and where a video was filmed, and with what: what the index keeps of a file's metadata
(``vidsearch.media.metadata``) and the place its position names (``vidsearch.media.places``).

Read once per file: at index time from the tags ``decode.probe`` has already read, and for videos
indexed before (or by an older way of reading) from the headers alone, with no decoding.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from vidsearch.media.metadata import (
    FROM_FILE_NAME,
    FROM_FILE_NAME_DAY,
    FROM_MTIME,
    MediaMetadata,
    metadata_from_tags,
    read_metadata,
)
from vidsearch.types import VideoFacts, VideoInfo

# Bumped when the reading changes (a new tag, a better place table): videos read by an older
# version are read again on the next `index`, from their headers only.
FACTS_VERSION = 1

# Sources that depend on the file's name or modification time: read again when those change (a
# rename keeps the vectors, and must not keep a date the old name gave).
NAME_OR_MTIME_SOURCES = (FROM_FILE_NAME, FROM_FILE_NAME_DAY, FROM_MTIME)


@dataclass(frozen=True)
class ReadFacts:
    """What reading one file gave: its facts, and why its place could not be named (None when it
    could, or it has no position)."""

    facts: VideoFacts
    place_problem: str | None = None


def facts_of(meta: MediaMetadata) -> ReadFacts:
    """``MediaMetadata`` -> the facts the index keeps, with the place its position names.

    A missing place table leaves the place empty and marks the facts as not current
    (``version`` 0), so they are read again once the table is there.
    """
    from vidsearch.media.places import GazetteerMissingError, place_at

    place = None
    problem = None
    if meta.has_position:
        assert meta.lat is not None and meta.lon is not None
        try:
            place = place_at(meta.lat, meta.lon)
        except GazetteerMissingError as exc:
            problem = str(exc)
    facts = VideoFacts(
        recorded=meta.recorded,
        recorded_local=meta.local_seconds,
        recorded_source=meta.recorded_source if meta.recorded is not None else "",
        tz_offset=meta.tz_offset,
        lat=meta.lat,
        lon=meta.lon,
        place=place.name if place is not None else None,
        place_names=place.names if place is not None else (),
        country=place.country_code if place is not None else None,
        region=(place.region or None) if place is not None else None,
        camera_make=meta.camera_make,
        camera_model=meta.camera_model,
        version=0 if problem else FACTS_VERSION,
    )
    return ReadFacts(facts, problem)


def facts_from_probe(info: VideoInfo, mtime: float | None) -> ReadFacts:
    """The facts of a file just probed (``decode.probe``), from the tags it read: no second open."""
    meta = metadata_from_tags(
        info.path, info.tags, mtime=mtime, duration=info.duration, width=info.width, height=info.height, fps=info.fps
    )
    return facts_of(meta)


def read_facts(path: str | os.PathLike[str]) -> ReadFacts:
    """Open ``path`` (headers only) and read its facts. Raises ``VideoOpenError``."""
    return facts_of(read_metadata(path))


def facts_from_name(path: str, mtime: float | None) -> ReadFacts:
    """The facts of a file whose headers cannot be read: its date from its name, else ``mtime``."""
    return facts_of(metadata_from_tags(path, {}, mtime=mtime))
