"""The index file's schema, as numbered migrations: ``MIGRATIONS[i]`` takes the schema from version i
to i + 1 (SQLite's ``user_version``). Never edit one that has shipped; add the next.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidsearch.errors import IndexVersionError, UsageError


def _m0_initial(db: Any) -> None:
    db.execute(
        """
        CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE roots(
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            added REAL NOT NULL,
            online INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE videos(
            id INTEGER PRIMARY KEY,
            path BLOB NOT NULL UNIQUE,
            root_id INTEGER REFERENCES roots(id) ON DELETE SET NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            fingerprint TEXT NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            duration REAL NOT NULL DEFAULT 0,
            fps REAL NOT NULL DEFAULT 0,
            width INTEGER NOT NULL DEFAULT 0,
            height INTEGER NOT NULL DEFAULT 0,
            rotation INTEGER NOT NULL DEFAULT 0,
            codec TEXT,
            created REAL,
            indexed_at REAL NOT NULL
        );
        CREATE INDEX videos_fingerprint ON videos(fingerprint);
        CREATE INDEX videos_root ON videos(root_id);
        CREATE TABLE moments(
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            frames INTEGER NOT NULL DEFAULT 0,
            visual_tokens INTEGER NOT NULL DEFAULT 0,
            exit_layer INTEGER,
            seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX moments_video ON moments(video_id, start);
        """
    )


def _m1_vector_log(db: Any) -> None:
    # Every insert or delete of a moment is logged; the log's sequence number is the index's change
    # counter, from which the compact index beside the file (vidsearch.store.searchindex) catches up or rebuilds.
    # Triggers rather than calls in each writer, so no write path (indexer, watch, --rebuild) can forget.
    db.execute(
        """
        CREATE TABLE vector_log(
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            moment_id INTEGER NOT NULL,
            added INTEGER NOT NULL
        );
        CREATE TRIGGER moments_logged_insert AFTER INSERT ON moments BEGIN
            INSERT INTO vector_log(moment_id, added) VALUES (NEW.id, 1);
        END;
        CREATE TRIGGER moments_logged_delete AFTER DELETE ON moments BEGIN
            INSERT INTO vector_log(moment_id, added) VALUES (OLD.id, 0);
        END;
        """
    )


def _m2_moment_budget(db: Any) -> None:
    # Why each moment got its frames and frame size (the budget policy's reason, in words).
    db.execute("ALTER TABLE moments ADD COLUMN budget TEXT NOT NULL DEFAULT ''")


def _m3_moment_setting(db: Any) -> None:
    # The budget setting each moment was embedded under ("fast" frames are below the model's minimum).
    db.execute("ALTER TABLE moments ADD COLUMN setting TEXT NOT NULL DEFAULT ''")


def _m4_words(db: Any) -> None:
    # What is said in each video (speech or subtitles: where it came from, its lines with times) and
    # what each moment says and shows in words, searchable by exact words (FTS5, kept in step by
    # triggers) beside the file and folder names. Speech is read after the pictures, so a video may
    # have no speech_sources row yet (an index from before, or a run that stopped between the two);
    # the next `index` reads it without touching the pictures. The speech vectors (the model's
    # embedding of each moment's words) are a vec0 table made with the model's size
    # (vidsearch.store.textindex). The tokenizer stems English (porter) over unicode61, which folds
    # case and accents, so "birthdays" finds "Birthday" and "cafe" finds "Café". IF NOT EXISTS: running
    # it again on a file that has them is harmless.
    db.execute(
        """
        CREATE TABLE IF NOT EXISTS speech_sources(
            video_id INTEGER PRIMARY KEY REFERENCES videos(id) ON DELETE CASCADE,
            source TEXT,
            origin TEXT NOT NULL DEFAULT '',
            language TEXT,
            transcribed INTEGER NOT NULL DEFAULT 0,
            sidecar_signature TEXT NOT NULL DEFAULT '',
            audio_seconds REAL NOT NULL DEFAULT 0,
            speech_seconds REAL NOT NULL DEFAULT 0,
            error TEXT,
            read_at REAL NOT NULL
        );
        CREATE TABLE IF NOT EXISTS speech_lines(
            id INTEGER PRIMARY KEY,
            video_id INTEGER NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            text TEXT NOT NULL,
            words TEXT
        );
        CREATE INDEX IF NOT EXISTS speech_lines_video ON speech_lines(video_id, start);
        CREATE TABLE IF NOT EXISTS moment_text(
            moment_id INTEGER PRIMARY KEY REFERENCES moments(id) ON DELETE CASCADE,
            video_id INTEGER NOT NULL,
            speech TEXT NOT NULL DEFAULT '',
            screen TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX IF NOT EXISTS moment_text_video ON moment_text(video_id);
        CREATE VIRTUAL TABLE IF NOT EXISTS moment_words USING fts5(
            speech, screen, content='moment_text', content_rowid='moment_id',
            tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER IF NOT EXISTS moment_text_insert AFTER INSERT ON moment_text BEGIN
            INSERT INTO moment_words(rowid, speech, screen) VALUES (NEW.moment_id, NEW.speech, NEW.screen);
        END;
        CREATE TRIGGER IF NOT EXISTS moment_text_delete AFTER DELETE ON moment_text BEGIN
            INSERT INTO moment_words(moment_words, rowid, speech, screen)
                VALUES ('delete', OLD.moment_id, OLD.speech, OLD.screen);
        END;
        CREATE TRIGGER IF NOT EXISTS moment_text_update AFTER UPDATE ON moment_text BEGIN
            INSERT INTO moment_words(moment_words, rowid, speech, screen)
                VALUES ('delete', OLD.moment_id, OLD.speech, OLD.screen);
            INSERT INTO moment_words(rowid, speech, screen) VALUES (NEW.moment_id, NEW.speech, NEW.screen);
        END;
        CREATE VIRTUAL TABLE IF NOT EXISTS video_names USING fts5(
            name, tokenize='porter unicode61 remove_diacritics 2'
        );
        CREATE TRIGGER IF NOT EXISTS videos_named_delete AFTER DELETE ON videos BEGIN
            DELETE FROM video_names WHERE rowid = OLD.id;
        END;
        """
    )
    from vidsearch.store.textindex import name_words

    db.execute("DELETE FROM video_names")
    roots = {rid: bytes(path) for rid, path in db.execute("SELECT id, path FROM roots").fetchall()}
    for video_id, path, root_id in db.execute("SELECT id, path, root_id FROM videos").fetchall():
        db.execute(
            "INSERT INTO video_names(rowid, name) VALUES (?, ?)",
            (video_id, name_words(bytes(path), roots.get(root_id))),
        )


MIGRATIONS = [_m0_initial, _m1_vector_log, _m2_moment_budget, _m3_moment_setting, _m4_words]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: Any, path: Path) -> None:
    """Bring the open connection ``db`` (the index at ``path``) to ``SCHEMA_VERSION``.

    An index already there is never written to (read-only mounts still work). Raises
    IndexVersionError for a file from a newer vidsearch, UsageError for an SQLite file that is not
    an index.
    """
    version = schema_version(db, path)
    if version == SCHEMA_VERSION:
        return
    # Another process may be opening the same file (find beside watch, after an upgrade): take the
    # write lock first (waiting up to the busy timeout), then read the version again, so exactly
    # one of them migrates and the others find the work done.
    db.execute("BEGIN IMMEDIATE")
    try:
        version = schema_version(db, path)
        while version < SCHEMA_VERSION:
            MIGRATIONS[version](db)
            version += 1
            db.execute(f"PRAGMA user_version={version}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def schema_version(db: Any, path: Path) -> int:
    """The schema version of the index at ``path``; raises as ``migrate`` says."""
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise IndexVersionError(
            f"the index {path} was written by a newer vidsearch (schema {version}, "
            f"this one knows {SCHEMA_VERSION}); upgrade vidsearch"
        )
    if version == 0 and db.execute("SELECT 1 FROM sqlite_master WHERE name='videos'").fetchone() is not None:
        raise UsageError(f"{path} is an SQLite file but not a vidsearch index")
    return version
