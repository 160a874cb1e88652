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


def _m4_moment_thumbnails(db: Any) -> None:
    # Each moment's still and hover strip (JPEG), deleted with the moment (vidsearch.store.thumbnails).
    # Moments indexed before this table existed get theirs on the next `index` (no re-embedding).
    db.execute(
        """
        CREATE TABLE moment_thumbnails(
            moment_id INTEGER PRIMARY KEY REFERENCES moments(id) ON DELETE CASCADE,
            still BLOB NOT NULL,
            strip BLOB NOT NULL,
            strip_frames INTEGER NOT NULL
        );
        """
    )


def _m5_when_where(db: Any) -> None:
    # When, where and with what each video was filmed (vidsearch.media.facts), for the date, place
    # and camera filters. ``recorded_local`` is the wall clock where it was filmed counted as if UTC
    # (what date filters compare); ``place_names`` holds the place's folded names as "|a|b|c|" so
    # one name matches with LIKE '%|name|%'. ``meta_version`` 0 means not read yet: the next
    # `index` reads those videos' headers (no re-embedding). ``created`` (the container's
    # creation_time alone) is superseded by ``recorded``.
    db.execute(
        """
        ALTER TABLE videos ADD COLUMN recorded REAL;
        ALTER TABLE videos ADD COLUMN recorded_local REAL;
        ALTER TABLE videos ADD COLUMN recorded_source TEXT NOT NULL DEFAULT '';
        ALTER TABLE videos ADD COLUMN tz INTEGER;
        ALTER TABLE videos ADD COLUMN lat REAL;
        ALTER TABLE videos ADD COLUMN lon REAL;
        ALTER TABLE videos ADD COLUMN place TEXT;
        ALTER TABLE videos ADD COLUMN place_names TEXT NOT NULL DEFAULT '';
        ALTER TABLE videos ADD COLUMN country TEXT;
        ALTER TABLE videos ADD COLUMN region TEXT;
        ALTER TABLE videos ADD COLUMN camera_make TEXT;
        ALTER TABLE videos ADD COLUMN camera_model TEXT;
        ALTER TABLE videos ADD COLUMN meta_version INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE videos DROP COLUMN created;
        CREATE INDEX videos_recorded ON videos(recorded_local);
        CREATE INDEX videos_position ON videos(lat, lon);
        """
    )


def _m6_checksums(db: Any) -> None:
    # A checksum on each video's file name and on each moment's video, times and vector
    # (vidsearch.store.health): answers are verified as they are read, and `status --check` verifies all.
    from vidsearch.store.health import moment_checksum, path_checksum

    db.execute("ALTER TABLE videos ADD COLUMN checksum INTEGER")
    db.execute("ALTER TABLE moments ADD COLUMN checksum INTEGER")
    videos = db.execute("SELECT id, path FROM videos").fetchall()
    db.executemany("UPDATE videos SET checksum=? WHERE id=?", [(path_checksum(bytes(p)), i) for i, p in videos])
    if db.execute("SELECT 1 FROM sqlite_master WHERE name='moment_vectors'").fetchone() is None:
        return  # no vectors yet
    moments = db.execute('SELECT id, video_id, start, "end" FROM moments')
    rows = {mid: (vid, start, end) for mid, vid, start, end in moments}
    updates = [
        (moment_checksum(*rows[mid], bytes(vector)), mid)
        for mid, vector in db.execute("SELECT moment_id, embedding FROM moment_vectors")
        if mid in rows
    ]
    db.executemany("UPDATE moments SET checksum=? WHERE id=?", updates)


def _m7_words(db: Any) -> None:
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


def _m8_speech_model(db: Any) -> None:
    # The speech model that listened to each video (or was to: a file without sound records it too),
    # so choosing another model transcribes those videos again, pictures kept; NULL when none did
    # (subtitles were read, or transcription was off). Words read before this column existed name
    # their model as their origin; for a failed read the model is not known, and NULL keeps it as is.
    db.execute("ALTER TABLE speech_sources ADD COLUMN speech_model TEXT")
    db.execute("UPDATE speech_sources SET speech_model = origin WHERE source = 'speech'")


MIGRATIONS = [
    _m0_initial,
    _m1_vector_log,
    _m2_moment_budget,
    _m3_moment_setting,
    _m4_moment_thumbnails,
    _m5_when_where,
    _m6_checksums,
    _m7_words,
    _m8_speech_model,
]
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
