"""Each moment's thumbnails (JPEG bytes) in the index file, beside the moment they show.

A table in the index rather than a file beside it: a moment and its pictures are written in one
transaction and a moment's deletion takes its pictures with it (a foreign-key cascade), on every path
that drops moments (a changed or deleted file, watch, --rebuild), so they can never disagree after a
crash; one file to back up. The pictures live in their own table, so searches never read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vidsearch.types import MomentThumbnails

if TYPE_CHECKING:
    from vidsearch.store.db import Store, StoredVideo


@dataclass(frozen=True)
class MissingThumbnails:
    """An indexed video some of whose moments have no thumbnails: (moment id, start, end) each."""

    video: StoredVideo
    moments: list[tuple[int, float, float]]


class Thumbnails:
    """The thumbnails of one open ``Store`` (``store.thumbnails``)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, moment_id: int, thumbnails: MomentThumbnails) -> None:
        """Store (or replace) the thumbnails of ``moment_id``; the caller holds the transaction."""
        self.store.db.execute(
            "INSERT OR REPLACE INTO moment_thumbnails(moment_id, still, strip, strip_frames) VALUES(?,?,?,?)",
            (moment_id, thumbnails.still, thumbnails.strip, thumbnails.strip_frames),
        )

    def still(self, moment_id: int) -> bytes | None:
        """The still of ``moment_id`` (JPEG), or None when it has none (or there is no such moment)."""
        row = self.store.db.execute("SELECT still FROM moment_thumbnails WHERE moment_id=?", (moment_id,)).fetchone()
        return bytes(row[0]) if row else None

    def strip(self, moment_id: int) -> tuple[bytes, int] | None:
        """The strip of ``moment_id`` (JPEG) and how many frames it holds side by side, or None."""
        row = self.store.db.execute(
            "SELECT strip, strip_frames FROM moment_thumbnails WHERE moment_id=?", (moment_id,)
        ).fetchone()
        return (bytes(row[0]), int(row[1])) if row else None

    def stills(self, moment_ids: list[int]) -> dict[int, bytes]:
        """{moment id: still} for those of ``moment_ids`` that have one."""
        import json

        rows = self.store.db.execute(
            "SELECT moment_id, still FROM moment_thumbnails WHERE moment_id IN (SELECT value FROM json_each(?))",
            (json.dumps(moment_ids),),
        )
        return {int(m): bytes(s) for m, s in rows}

    def missing(self) -> list[MissingThumbnails]:
        """The indexed videos with moments that have no thumbnails (an index made before they
        existed), each with those moments in time order."""
        rows = self.store.db.execute(
            'SELECT m.video_id, m.id, m.start, m."end" FROM moments m'
            " WHERE NOT EXISTS (SELECT 1 FROM moment_thumbnails t WHERE t.moment_id = m.id)"
            " ORDER BY m.video_id, m.start"
        ).fetchall()
        by_video: dict[int, list[tuple[int, float, float]]] = {}
        for video_id, moment_id, start, end in rows:
            by_video.setdefault(int(video_id), []).append((int(moment_id), float(start), float(end)))
        out = []
        for video_id, moments in by_video.items():
            video = self.store.video(video_id)
            if video is not None and video.status == "indexed":
                out.append(MissingThumbnails(video, moments))
        return out

    def totals(self) -> tuple[int, int]:
        """(moments with thumbnails, their bytes in all)."""
        count, size = self.store.db.execute(
            "SELECT count(*), COALESCE(sum(length(still) + length(strip)), 0) FROM moment_thumbnails"
        ).fetchone()
        return int(count), int(size)
