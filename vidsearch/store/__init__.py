"""The index: one SQLite file with sqlite-vec vectors (schema, migrations, writes, nearest-neighbour reads)."""

from vidsearch.store.db import (
    SCHEMA_VERSION,
    Candidate,
    IndexInfo,
    Store,
    StoredVideo,
    default_db_path,
    writer_lock,
)

__all__ = [
    "SCHEMA_VERSION",
    "Candidate",
    "IndexInfo",
    "Store",
    "StoredVideo",
    "default_db_path",
    "writer_lock",
]
