"""From scored moments to hits: touching moments of one shot become one hit, "A then B" chains
become one span from A's start to B's end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsearch.query.options import MERGE_GAP, SearchOptions
from vidsearch.store import Candidate
from vidsearch.types import Hit

if TYPE_CHECKING:
    from vidsearch.query.score import ScoreParams

MERGE_MARGIN = 1.0  # moments merge when their scores are this close (calibrated units)...
# ...and they look alike (cosine of their vectors): the parts of one still or slow shot do;
# neighbouring shots of a montage of unrelated clips reach 0.67-0.96 with the lite model (32 of 33
# below 0.95), whose vectors of different scenes are close.
SAME_SHOT = 0.95
SEQUENCE_MIN_Z = 0.5  # each step of "A then B" must stand out at least this much


def merge_adjacent(
    candidates: Sequence[Candidate],
    gap: float = MERGE_GAP,
    margin: float = MERGE_MARGIN,
    vectors: dict[int, np.ndarray] | None = None,
    same_shot: float = SAME_SHOT,
) -> list[Hit]:
    """Merge overlapping or touching moments of one video into one hit, best score kept.

    Moments are taken best first; one that touches hits already taken (within ``gap`` seconds)
    joins each whose score is within ``margin`` of its own and, when ``vectors`` (moment id ->
    unit vector) are given, whose best moment looks like it (cosine >= ``same_shot``): a moment
    bridging two such hits makes them one. A touching moment that joins none is dropped when it
    looks like the better hit (only its weaker part) and kept as a hit of its own when it does not
    (another shot, which a hit must not run into). Returns hits sorted best first.
    """
    runs: list[list[Candidate]] = []
    spans: list[list[float]] = []  # [start, end, best score] per run

    def alike(c: Candidate, run: list[Candidate]) -> bool:
        if vectors is None or c.moment_id not in vectors or run[0].moment_id not in vectors:
            return True
        return float(vectors[c.moment_id] @ vectors[run[0].moment_id]) >= same_shot

    for c in sorted(candidates, key=lambda c: -c.similarity):
        touching = [
            i for i, (run, span) in enumerate(zip(runs, spans, strict=True))
            if run[0].video_id == c.video_id and c.start <= span[1] + gap and c.end >= span[0] - gap
        ]
        same = [i for i in touching if alike(c, runs[i])]
        joined = [i for i in same if c.similarity >= spans[i][2] - margin]
        if joined:
            into = joined[0]
            runs[into].append(c)
            spans[into][0], spans[into][1] = min(spans[into][0], c.start), max(spans[into][1], c.end)
            for i in sorted(joined[1:], reverse=True):  # c bridges these hits: one hit
                runs[into].extend(runs[i])
                spans[into][0] = min(spans[into][0], spans[i][0])
                spans[into][1] = max(spans[into][1], spans[i][1])
                spans[into][2] = max(spans[into][2], spans[i][2])
                del runs[i], spans[i]
        elif not same:
            runs.append([c])
            spans.append([c.start, c.end, c.similarity])
    hits = [_hit_of(run) for run in runs]
    hits.sort(key=_rank)
    return hits


def _rank(hit: Hit) -> tuple[float, str, float]:
    """Best first, scores compared to 6 decimals (far finer than any difference a score means, far
    coarser than the arithmetic's rounding), equal ones in path and time order: the same order with
    a filter as without."""
    return (-round(hit.score, 6), hit.path, hit.start)


def _hit_of(run: Sequence[Candidate]) -> Hit:
    best = max(run, key=lambda c: c.similarity)
    extra: dict[str, object] = {"cost": best.cost}
    return Hit(
        path=best.path,
        start=min(c.start for c in run),
        end=max(c.end for c in run),
        score=best.similarity,
        video_id=best.video_id,
        moment_ids=tuple(c.moment_id for c in sorted(run, key=lambda c: c.start)),
        available=best.available,
        details=extra,
    )


def merge_hit_lists(*lists: Sequence[Hit]) -> list[Hit]:
    """Hits of several searches as one list, best first: a hit overlapping a better one of the same
    video is dropped."""
    kept: list[Hit] = []
    for hit in sorted((h for hits in lists for h in hits), key=_rank):
        if not any(k.video_id == hit.video_id and hit.start < k.end and k.start < hit.end for k in kept):
            kept.append(hit)
    return kept


def with_similarity(c: Candidate, score: float) -> Candidate:
    """``c`` with ``score`` as its similarity."""
    return Candidate(c.moment_id, c.video_id, c.path, c.start, c.end, score, c.cost, c.available)


def merge_scored(
    scored: Sequence[Candidate],
    gap: float,
    details: dict[int, Any],
    matches: dict[int, float],
    vectors: dict[int, np.ndarray],
) -> list[Hit]:
    """``merge_adjacent`` over scored moments, each hit then carrying its best moment's match and
    ``--explain`` details."""
    hits = merge_adjacent(scored, gap, vectors=vectors)
    if not details and not matches:
        return hits
    by_id = {c.moment_id: c for c in scored}
    out = []
    for h in hits:
        best = max((by_id[m] for m in h.moment_ids), key=lambda c: c.similarity)
        extra = dict(h.details)
        if best.moment_id in matches:
            extra["match"] = round(matches[best.moment_id], 3)
        if details:
            extra["explain"] = details.get(best.moment_id)
        out.append(Hit(h.path, h.start, h.end, h.score, h.video_id, h.moment_ids, h.available, extra))
    return out


def sequence_hits(
    moments: Sequence[Candidate],
    steps: Sequence[Sequence[int]],
    pos_z: np.ndarray,
    neg_z: np.ndarray,
    params: ScoreParams,
    times: tuple[np.ndarray, np.ndarray, np.ndarray],
    options: SearchOptions,
    pos_texts: Sequence[str],
    step_match: list[np.ndarray] | None = None,
    cutoff: float | None = None,
    step_fit: list[np.ndarray] | None = None,
    fit_cutoff: float | None = None,
) -> list[Hit]:
    """Hits for "A then B": each step's moments scored on their own (``steps`` lists the positive
    clauses of each), chained in time order within ``options.max_gap`` in one video; a chain
    matches as well as its weakest step (``step_match``) and is dropped below ``cutoff``, and fits
    as its weakest step (``step_fit``), dropped below ``fit_cutoff``."""
    from vidsearch.query import combine_detailed, sequence_matches

    neg = neg_z if len(neg_z) else None
    step_scores = []
    for step in steps:
        s = combine_detailed(pos_z[list(step)], neg, params).scores
        step_scores.append(np.where(s >= SEQUENCE_MIN_Z, s, -np.inf))
    chains = sequence_matches(step_scores, times, max_gap=options.max_gap, min_score=options.min_score)
    hits: list[Hit] = []
    for first, last, score in chains:
        if len(hits) == options.limit:
            break
        a, b = moments[first], moments[last]
        details: dict[str, Any] = {"cost": a.cost, "steps": [round(a.start, 3), round(b.start, 3)]}
        if step_match is not None:
            # the chain matches as well as its weakest step
            chain_match = min(float(step_match[0][first]), float(step_match[-1][last]))
            if cutoff is not None and chain_match < cutoff:
                continue
            details["match"] = round(chain_match, 3)
        if step_fit is not None:
            chain_fit = min(float(step_fit[0][first]), float(step_fit[-1][last]))
            if fit_cutoff is not None and chain_fit < fit_cutoff:
                continue
            details["fit"] = round(chain_fit, 3)
        if options.explain:
            details["explain"] = {
                "steps": [
                    {"clauses": [pos_texts[i] for i in step], "z": round(float(step_scores[k][idx]), 3)}
                    for k, (step, idx) in enumerate(zip(steps, (first, last), strict=False))
                ]
            }
        hits.append(Hit(a.path, a.start, b.end, score, a.video_id, (a.moment_id, b.moment_id), a.available, details))
    return hits
