"""Find moments: embed the query, read nearest moments from the store, merge neighbours into hits."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidsearch.embed.base import Embedder
from vidsearch.errors import UsageError
from vidsearch.store import Candidate, Store
from vidsearch.types import Hit

MERGE_GAP = 1.0  # seconds: moments of one video closer than this become one hit


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 10
    within: tuple[str, ...] = ()  # restrict to files at or under these paths
    merge_gap: float = MERGE_GAP


def restrict_ids(store: Store, within: Sequence[str]) -> list[int] | None:
    """Video ids under ``within`` paths (None = no restriction). Raises UsageError for unknown paths."""
    if not within:
        return None
    for path in within:
        if not os.path.exists(path) and not store.video_ids_under([path]):
            raise UsageError(f"--in {path}: no such file or folder in the library")
    return store.video_ids_under(within)


def merge_adjacent(candidates: Sequence[Candidate], gap: float = MERGE_GAP) -> list[Hit]:
    """Merge overlapping or touching moments of the same video into one hit, best score kept.

    Returns hits sorted best first.
    """
    by_video: dict[int, list[Candidate]] = {}
    for c in candidates:
        by_video.setdefault(c.video_id, []).append(c)
    hits: list[Hit] = []
    for group in by_video.values():
        group.sort(key=lambda c: c.start)
        run = [group[0]]
        for c in group[1:]:
            if c.start <= max(r.end for r in run) + gap:
                run.append(c)
            else:
                hits.append(_hit_of(run))
                run = [c]
        hits.append(_hit_of(run))
    hits.sort(key=lambda h: (-h.score, h.path, h.start))
    return hits


def _hit_of(run: Sequence[Candidate]) -> Hit:
    best = max(run, key=lambda c: c.similarity)
    return Hit(
        path=best.path,
        start=min(c.start for c in run),
        end=max(c.end for c in run),
        score=best.similarity,
        video_id=best.video_id,
        moment_ids=tuple(c.moment_id for c in run),
        available=best.available,
        details={"best_start": round(best.start, 3), "best_end": round(best.end, 3), "cost": best.cost},
    )


def plain_search(
    store: Store, query_vector: np.ndarray, options: SearchOptions, video_ids: list[int] | None = None
) -> list[Hit]:
    """Single-vector nearest-neighbour search with neighbour merging (the baseline path)."""
    k = max(50, options.limit * 8)
    candidates = store.nearest(query_vector, k, video_ids)
    return merge_adjacent(candidates, options.merge_gap)[: options.limit]


def find(store: Store, embedder: Embedder, text: str, options: SearchOptions) -> list[Hit]:
    """Search the library for ``text``; returns at most ``options.limit`` hits, best first."""
    if not text.strip():
        raise UsageError("the query is empty; say what to look for, e.g. vidsearch find \"a dog on a beach\"")
    video_ids = restrict_ids(store, options.within)
    query = embedder.embed_queries([text])[0]
    return plain_search(store, query, options, video_ids)
