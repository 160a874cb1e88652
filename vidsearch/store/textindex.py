"""What moments say and show in words, and the names of the files: the index's text side.

* ``speech_sources`` and ``speech_lines``: what was said in each video (transcribed speech or
  subtitles), where it came from, and its lines with their times;
* ``moment_text``, searched through the FTS5 table ``moment_words``: each moment's speech and
  on-screen text (kept in step by triggers, see ``migrations``);
* ``video_names`` (FTS5): the file and folder names of each video below its library root, so a folder
  called "grandma 80th birthday" is found by those words;
* ``speech_vectors`` (vec0): the model's embedding of each moment's speech, made once the model's
  vector size is known.

Records and vectors only: which model made a vector and how a query is scored are not known here.
Queries come in as FTS5 expressions built by ``vidsearch.query.words``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from vidsearch.speech.types import SpeechLine
    from vidsearch.store.db import Store

SPEECH_VECTORS = "speech_vectors"
KNN_MAX_K = 4096  # sqlite-vec refuses larger k


@dataclass(frozen=True)
class SpeechSource:
    """How one video's words were read, as the index records it.

    ``source`` is ``"speech"``, ``"sidecar"`` or ``"stream"`` (None when nothing was read: no
    subtitles and no speech heard, or an error); ``origin`` names it (the speech model, the subtitle
    file, the stream); ``transcribed`` says whether the speech model listened (False when subtitles
    were read, or transcription was off and there were none); ``sidecar_signature`` is the subtitle
    files beside the video when it was read (``vidsearch.speech.subtitles.sidecar_signature``), so a
    changed one is read again; ``error`` is why nothing could be read; ``speech_model`` is the speech
    model that listened (or was to listen, when the sound could not be read), None when none did
    (subtitles were read, or transcription was off), so choosing another model reads it again.
    """

    source: str | None
    origin: str = ""
    language: str | None = None
    transcribed: bool = False
    sidecar_signature: str = ""
    audio_seconds: float = 0.0
    speech_seconds: float = 0.0
    error: str | None = None
    speech_model: str | None = None


@dataclass(frozen=True)
class TextCounts:
    """What the index holds in words, for ``status``."""

    moments_with_speech: int = 0
    moments_with_screen_text: int = 0
    videos_with_speech: int = 0  # videos where something was said (speech or subtitles)
    videos_with_subtitles: int = 0
    transcribed_seconds: float = 0.0  # audio the speech model listened to
    speech_errors: int = 0
    speech_pending: int = 0  # indexed videos whose words are not read yet


def name_words(path: str | bytes, root: str | bytes | None) -> str:
    """The words of a video's place in the library: its folders below ``root`` and its file name,
    without the extension ("grandma 80th birthday / IMG_0001" for ``ROOT/grandma 80th birthday/IMG_0001.mp4``).

    Without a root (or outside it) the file name and its two parent folders are used.
    """
    text = os.fsdecode(path)
    parts: list[str] = []
    if root is not None:
        base = os.fsdecode(root).rstrip(os.sep) + os.sep
        if text.startswith(base):
            parts = text[len(base) :].split(os.sep)
    if not parts:
        parts = [p for p in text.split(os.sep) if p][-3:]
    if parts:
        parts[-1] = os.path.splitext(parts[-1])[0]
    # undecodable bytes (kept by fsdecode as lone surrogates) cannot go into SQLite text
    return " / ".join(parts).encode("utf-8", "replace").decode("utf-8")


def _words_json(line: SpeechLine) -> str | None:
    if not line.words:
        return None
    return json.dumps([[round(w.start, 3), round(w.end, 3), w.text, round(w.probability, 3)] for w in line.words])


def _line(start: float, end: float, text: str, words: str | None) -> SpeechLine:
    # imported here: a search of a library without speech never needs the speech types
    from vidsearch.speech.types import SpeechLine, Word

    parsed = tuple(Word(s, e, t, p) for s, e, t, p in json.loads(words)) if words else ()
    return SpeechLine(start=float(start), end=float(end), text=text, words=parsed)


class TextIndex:
    """The text side of one open index (``Store.text``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def db(self) -> Any:
        return self.store.db

    # ---- names -----------------------------------------------------------------------------
    def name_video(self, video_id: int, path: str | bytes, root_id: int | None) -> None:
        """Make the video findable by the words of its file and folder names (after a save or a move)."""
        root = None
        if root_id is not None:
            row = self.db.execute("SELECT path FROM roots WHERE id=?", (root_id,)).fetchone()
            root = bytes(row[0]) if row else None
        self.db.execute("DELETE FROM video_names WHERE rowid=?", (video_id,))
        self.db.execute("INSERT INTO video_names(rowid, name) VALUES (?, ?)", (video_id, name_words(path, root)))

    # ---- writing -----------------------------------------------------------------------------
    def save_screen_text(self, video_id: int, moments: Sequence[tuple[int, str]]) -> None:
        """Record what each moment (id, text) shows in words on screen; empty texts are left out."""
        for moment_id, text in moments:
            if text.strip():
                self.db.execute(
                    "INSERT INTO moment_text(moment_id, video_id, screen) VALUES (?, ?, ?)"
                    " ON CONFLICT(moment_id) DO UPDATE SET screen=excluded.screen",
                    (moment_id, video_id, text.strip()),
                )

    def moment_ids(self, video_id: int) -> list[int]:
        """The video's moment ids in the order they were saved (the order of its spans)."""
        rows = self.db.execute("SELECT id FROM moments WHERE video_id=? ORDER BY id", (video_id,))
        return [int(r[0]) for r in rows]

    def save_speech(
        self,
        video_id: int,
        source: SpeechSource,
        lines: Sequence[SpeechLine] = (),
        moment_speech: Sequence[tuple[int, str]] = (),
        vectors: np.ndarray | None = None,
    ) -> None:
        """Replace what the index knows was said in one video: its source, its lines, each moment's
        words (moment id, text) and their vectors (one row per entry of ``moment_speech``, or None).

        The caller holds the transaction that keeps it together with the video's pictures.
        """
        if vectors is not None and len(vectors) != len(moment_speech):
            raise ValueError("one speech vector per moment with speech")
        self.clear_speech(video_id)
        self.db.execute(
            "INSERT INTO speech_sources(video_id, source, origin, language, transcribed, sidecar_signature,"
            " audio_seconds, speech_seconds, error, speech_model, read_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                video_id, source.source, source.origin, source.language, int(source.transcribed),
                source.sidecar_signature, source.audio_seconds, source.speech_seconds, source.error,
                source.speech_model, time.time(),
            ),  # fmt: skip
        )
        for line in lines:
            self.db.execute(
                'INSERT INTO speech_lines(video_id, start, "end", text, words) VALUES (?,?,?,?,?)',
                (video_id, line.start, line.end, line.text, _words_json(line)),
            )
        for moment_id, text in moment_speech:
            self.db.execute(
                "INSERT INTO moment_text(moment_id, video_id, speech) VALUES (?, ?, ?)"
                " ON CONFLICT(moment_id) DO UPDATE SET speech=excluded.speech",
                (moment_id, video_id, text),
            )
        if vectors is not None and len(vectors):
            self._ensure_vectors(vectors.shape[1])
            vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            for (moment_id, _), vector in zip(moment_speech, vectors, strict=True):
                self.db.execute(
                    f"INSERT INTO {SPEECH_VECTORS}(moment_id, embedding, video_id) VALUES (?,?,?)",
                    (moment_id, vector.tobytes(), video_id),
                )

    def clear_speech(self, video_id: int) -> None:
        """Forget what was said in one video (its pictures and on-screen text stay)."""
        self.db.execute("DELETE FROM speech_sources WHERE video_id=?", (video_id,))
        self.db.execute("DELETE FROM speech_lines WHERE video_id=?", (video_id,))
        self.db.execute("UPDATE moment_text SET speech='' WHERE video_id=? AND speech != ''", (video_id,))
        self.db.execute("DELETE FROM moment_text WHERE video_id=? AND speech='' AND screen=''", (video_id,))
        self.forget_vectors(video_id)

    def _ensure_vectors(self, dim: int) -> None:
        self.db.execute(
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {SPEECH_VECTORS} USING vec0("
            f"moment_id INTEGER PRIMARY KEY, embedding float[{dim}] distance_metric=cosine, video_id INTEGER)"
        )

    def forget_vectors(self, video_id: int) -> None:
        """Drop one video's speech vectors (a vec0 table has no foreign keys to cascade)."""
        if self.store._has_table(SPEECH_VECTORS):
            self.db.execute(f"DELETE FROM {SPEECH_VECTORS} WHERE video_id=?", (video_id,))

    def drop_vectors(self) -> None:
        """Drop every speech vector (the model changes: the next one may have another size)."""
        self.db.execute(f"DROP TABLE IF EXISTS {SPEECH_VECTORS}")

    # ---- what needs reading ------------------------------------------------------------------
    def speech_sources(self, video_ids: Iterable[int] | None = None) -> dict[int, SpeechSource]:
        """The recorded source of each video whose words were read (all, or those of ``video_ids``)."""
        sql = (
            "SELECT video_id, source, origin, language, transcribed, sidecar_signature, audio_seconds,"
            " speech_seconds, error, speech_model FROM speech_sources"
        )
        params: tuple[Any, ...] = ()
        if video_ids is not None:
            sql += " WHERE video_id IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(video_ids)),)
        return {
            int(vid): SpeechSource(src, origin, lang, bool(tr), sig, float(audio), float(speech), err, model)
            for vid, src, origin, lang, tr, sig, audio, speech, err, model in self.db.execute(sql, params)
        }

    # ---- exact words -------------------------------------------------------------------------
    def _within(self, video_ids: Sequence[int] | None) -> tuple[str, list[Any]]:
        if video_ids is None:
            return "", []
        return " AND t.video_id IN (SELECT value FROM json_each(?))", [json.dumps(list(video_ids))]

    def best_moments(self, expression: str, limit: int, video_ids: Sequence[int] | None = None) -> list[int]:
        """Moments whose words match the FTS5 ``expression``, best (bm25) first, at most ``limit``."""
        where, params = self._within(video_ids)
        rows = self.db.execute(
            "SELECT w.rowid FROM moment_words w JOIN moment_text t ON t.moment_id = w.rowid"
            f" WHERE moment_words MATCH ?{where} ORDER BY bm25(moment_words) LIMIT ?",
            [expression, *params, limit],
        )
        return [int(r[0]) for r in rows]

    def moments_matching(self, expression: str, among: Sequence[int]) -> set[int]:
        """Which of the moments ``among`` match the FTS5 ``expression``."""
        if not among:
            return set()
        rows = self.db.execute(
            "SELECT rowid FROM moment_words WHERE moment_words MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            (expression, json.dumps(list(among))),
        )
        return {int(r[0]) for r in rows}

    def moment_frequency(self, expression: str) -> tuple[int, int]:
        """(moments matching ``expression``, moments with any words): a term's document frequency."""
        matching = self.db.execute("SELECT count(*) FROM moment_words WHERE moment_words MATCH ?", (expression,))
        total = self.db.execute("SELECT count(*) FROM moment_text")
        return int(matching.fetchone()[0]), int(total.fetchone()[0])

    def best_videos(self, expression: str, limit: int, video_ids: Sequence[int] | None = None) -> list[int]:
        """Videos whose names match the FTS5 ``expression``, best first, at most ``limit``."""
        sql = "SELECT rowid FROM video_names WHERE video_names MATCH ?"
        params: list[Any] = [expression]
        if video_ids is not None:
            sql += " AND rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(video_ids)))
        rows = self.db.execute(sql + " ORDER BY bm25(video_names) LIMIT ?", [*params, limit])
        return [int(r[0]) for r in rows]

    def videos_matching(self, expression: str, among: Sequence[int]) -> set[int]:
        """Which of the videos ``among`` have names matching the FTS5 ``expression``."""
        if not among:
            return set()
        rows = self.db.execute(
            "SELECT rowid FROM video_names WHERE video_names MATCH ? AND rowid IN (SELECT value FROM json_each(?))",
            (expression, json.dumps(list(among))),
        )
        return {int(r[0]) for r in rows}

    def video_frequency(self, expression: str) -> tuple[int, int]:
        """(videos whose names match ``expression``, videos): a term's document frequency among names."""
        matching = self.db.execute("SELECT count(*) FROM video_names WHERE video_names MATCH ?", (expression,))
        total = self.db.execute("SELECT count(*) FROM videos")
        return int(matching.fetchone()[0]), int(total.fetchone()[0])

    # ---- speech vectors ----------------------------------------------------------------------
    def has_speech_vectors(self) -> bool:
        return self.store._has_table(SPEECH_VECTORS)

    def speech_nearest(self, query: np.ndarray, k: int, video_ids: Sequence[int] | None = None) -> dict[int, float]:
        """{moment id: cosine} of the ``k`` moments whose speech is closest to ``query`` (exact scan)."""
        if not self.has_speech_vectors() or k <= 0 or (video_ids is not None and not video_ids):
            return {}
        sql = f"SELECT moment_id, distance FROM {SPEECH_VECTORS} WHERE embedding MATCH ? AND k = ?"
        params: list[Any] = [np.ascontiguousarray(query, dtype=np.float32).tobytes(), min(k, KNN_MAX_K)]
        if video_ids is not None:
            sql += " AND video_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(list(video_ids)))
        return {int(mid): 1.0 - float(dist) for mid, dist in self.db.execute(sql, params).fetchall()}

    def speech_vectors(self, moment_ids: Sequence[int]) -> dict[int, np.ndarray]:
        """The speech vectors of those of ``moment_ids`` that have speech."""
        if not moment_ids or not self.has_speech_vectors():
            return {}
        found: dict[int, np.ndarray] = {}
        rest = self.store._read_vector_chunks(list(moment_ids), found, table=SPEECH_VECTORS)
        if rest:
            rows = self.db.execute(
                f"SELECT moment_id, embedding FROM {SPEECH_VECTORS}"
                " WHERE moment_id IN (SELECT value FROM json_each(?))",
                (json.dumps(rest),),
            )
            found.update({int(mid): np.frombuffer(emb, dtype=np.float32) for mid, emb in rows})
        return found

    def speech_sample(self, n: int) -> np.ndarray:
        """Speech vectors of up to ``n`` moments spread over the library, to calibrate spoken scores.

        Picked by ``n`` indexed look-ups at evenly spaced ids of sqlite-vec's own id table (where it
        has one), not a read of every moment with speech: a search pays this on every query.
        """
        dim = self.store.dim or 0
        if not self.has_speech_vectors():
            return np.zeros((0, dim), np.float32)
        table = f"{SPEECH_VECTORS}_rowids" if self.store._has_table(f"{SPEECH_VECTORS}_rowids") else SPEECH_VECTORS
        key = "rowid" if table.endswith("_rowids") else "moment_id"
        lo, hi = self.db.execute(f"SELECT min({key}), max({key}) FROM {table}").fetchone()
        if lo is None:
            return np.zeros((0, dim), np.float32)
        if hi - lo < n:  # few enough to read them all
            ids = {int(r[0]) for r in self.db.execute(f"SELECT {key} FROM {table}")}
        else:
            spread = (
                self.db.execute(f"SELECT {key} FROM {table} WHERE {key} >= ? ORDER BY {key} LIMIT 1", (target,))
                for target in (lo + (hi - lo) * i // n for i in range(n))
            )
            ids = {int(row[0]) for row in (r.fetchone() for r in spread) if row is not None}
        found = self.speech_vectors(sorted(ids))
        return np.stack(list(found.values())) if found else np.zeros((0, dim), np.float32)

    # ---- reading back ------------------------------------------------------------------------
    def lines(self, video_id: int, start: float, end: float) -> list[SpeechLine]:
        """The lines said in one video between ``start`` and ``end`` seconds, in time order."""
        rows = self.db.execute(
            'SELECT start, "end", text, words FROM speech_lines WHERE video_id=? AND "end" > ? AND start < ?'
            " ORDER BY start",
            (video_id, start, end),
        )
        return [_line(*row) for row in rows]

    def moment_words(self, moment_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """{moment id: (speech, screen text)} of those of ``moment_ids`` that have words."""
        if not moment_ids:
            return {}
        rows = self.db.execute(
            "SELECT moment_id, speech, screen FROM moment_text WHERE moment_id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(moment_ids)),),
        )
        return {int(mid): (speech, screen) for mid, speech, screen in rows}

    def counts(self) -> TextCounts:
        q = self.db.execute
        with_speech, with_screen = q(
            "SELECT COALESCE(sum(speech != ''), 0), COALESCE(sum(screen != ''), 0) FROM moment_text"
        ).fetchone()
        spoken, subtitled, listened, errors = q(
            "SELECT COALESCE(sum(source IS NOT NULL AND EXISTS(SELECT 1 FROM speech_lines l WHERE l.video_id ="
            " s.video_id)), 0), COALESCE(sum(source IN ('sidecar', 'stream')), 0),"
            " COALESCE(sum(CASE WHEN transcribed THEN audio_seconds ELSE 0 END), 0),"
            " COALESCE(sum(error IS NOT NULL), 0) FROM speech_sources s"
        ).fetchone()
        pending = q(
            "SELECT count(*) FROM videos v WHERE v.status='indexed'"
            " AND NOT EXISTS(SELECT 1 FROM speech_sources s WHERE s.video_id = v.id)"
        ).fetchone()[0]
        return TextCounts(
            moments_with_speech=int(with_speech),
            moments_with_screen_text=int(with_screen),
            videos_with_speech=int(spoken),
            videos_with_subtitles=int(subtitled),
            transcribed_seconds=float(listened),
            speech_errors=int(errors),
            speech_pending=int(pending),
        )
