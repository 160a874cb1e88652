"""Reading when and where videos were filmed for videos already in the index: those indexed before
the index kept it (an older schema), read by an older version of the reading, or renamed or touched
when their date came from the name or the modification time. Headers only: no frame is decoded and
no vector changes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from vidsearch.errors import MediaError

if TYPE_CHECKING:
    from vidsearch.index.indexer import IndexProgress
    from vidsearch.store import Store
    from vidsearch.types import VideoFacts

BATCH = 100  # videos per transaction
PROGRESS_SECONDS = 5.0  # a progress line at most this often


def read_outdated_facts(
    store: Store, progress: IndexProgress, cancel: Callable[[], bool] | None = None
) -> int:
    """Read the facts of every indexed video whose facts are missing or outdated; return how many
    were written. Files that are not there now (an offline drive) are left for a later run; a file
    whose headers cannot be read gets its date from its name or modification time. Raises
    ``vidsearch.index.indexer.Cancelled`` when ``cancel()`` turns true (batches written so far stay).
    """
    from vidsearch.index.indexer import Cancelled
    from vidsearch.media.facts import FACTS_VERSION, facts_from_name, read_facts

    todo = store.facts.outdated(FACTS_VERSION)
    if not todo:
        return 0
    progress.note(f"reading when and where {len(todo)} indexed video(s) were filmed (headers only, no re-embedding)")
    written = 0
    batch: list[tuple[int, VideoFacts]] = []
    problem_told = False
    last_note = time.monotonic()
    for done, (video_id, path) in enumerate(todo, 1):
        if cancel is not None and cancel():
            _write(store, batch)
            raise Cancelled
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue  # not there now: read it when it is
        try:
            read = read_facts(path)
        except (MediaError, OSError):
            read = facts_from_name(path, mtime)
        if read.place_problem and not problem_told:
            progress.note(f"no place names: {read.place_problem}")
            problem_told = True
        batch.append((video_id, read.facts))
        if len(batch) >= BATCH:
            written += _write(store, batch)
        if time.monotonic() - last_note >= PROGRESS_SECONDS:
            progress.note(f"  read {done}/{len(todo)}")
            last_note = time.monotonic()
    written += _write(store, batch)
    return written


def _write(store: Store, batch: list[tuple[int, VideoFacts]]) -> int:
    count = len(batch)
    if batch:
        with store.transaction():
            store.facts.write_many(batch)
        batch.clear()
    return count
