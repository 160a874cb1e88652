"""The index: one SQLite file with sqlite-vec vectors (schema, migrations, writes, nearest-neighbour reads)."""

from vidsearch.store.db import (
    Candidate,
    IndexInfo,
    Store,
    StoredMoment,
    StoredVideo,
)
from vidsearch.store.migrations import SCHEMA_VERSION
from vidsearch.store.videofacts import FactsSummary, VideoFilter

__all__ = [
    "SCHEMA_VERSION",
    "Candidate",
    "FactsSummary",
    "IndexInfo",
    "Store",
    "StoredMoment",
    "StoredVideo",
    "VideoFilter",
]
