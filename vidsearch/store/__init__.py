"""The index: one SQLite file with sqlite-vec vectors (schema, migrations, writes, nearest-neighbour reads)."""

from vidsearch.store.db import (
    SCHEMA_VERSION,
    Candidate,
    IndexInfo,
    Store,
    StoredVideo,
)

__all__ = [
    "SCHEMA_VERSION",
    "Candidate",
    "IndexInfo",
    "Store",
    "StoredVideo",
]
