"""Indexes as older versions of vidsearch wrote them: a current index taken back to an older schema,
so tests can check that opening it migrates it and keeps what it held."""

from __future__ import annotations

from typing import Any

from vidsearch.store import SCHEMA_VERSION


def _undo_when_where(db: Any) -> None:
    db.execute("DROP INDEX videos_recorded")
    db.execute("DROP INDEX videos_position")
    for column in ("recorded", "recorded_local", "recorded_source", "tz", "lat", "lon", "place", "place_names",
                   "country", "region", "camera_make", "camera_model", "meta_version"):  # fmt: skip
        db.execute(f"ALTER TABLE videos DROP COLUMN {column}")
    db.execute("ALTER TABLE videos ADD COLUMN created REAL")


def _undo_checksums(db: Any) -> None:
    db.execute("ALTER TABLE videos DROP COLUMN checksum")
    db.execute("ALTER TABLE moments DROP COLUMN checksum")


def _undo_words(db: Any) -> None:
    tables = ("moment_words", "video_names", "moment_text", "speech_lines", "speech_sources")
    triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger'").fetchall()
    for name, sql in triggers:
        if any(table in sql for table in tables):
            db.execute(f"DROP TRIGGER {name}")
    db.execute("DROP TABLE IF EXISTS speech_vectors")
    for table in tables:
        db.execute(f"DROP TABLE IF EXISTS {table}")


# UNDO[v] takes schema v + 1 back to v
UNDO = {
    2: lambda db: db.execute("ALTER TABLE moments DROP COLUMN budget"),
    3: lambda db: db.execute("ALTER TABLE moments DROP COLUMN setting"),
    4: lambda db: db.execute("DROP TABLE moment_thumbnails"),
    5: _undo_when_where,
    6: _undo_checksums,
    7: _undo_words,
    8: lambda db: db.execute("ALTER TABLE speech_sources DROP COLUMN speech_model"),
}


def downgrade(db: Any, version: int) -> None:
    """Take the open index ``db`` (at the current schema) back to schema ``version``."""
    for v in range(SCHEMA_VERSION - 1, version - 1, -1):
        UNDO[v](db)
    db.execute(f"PRAGMA user_version={version}")
