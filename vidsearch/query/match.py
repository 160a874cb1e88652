"""How well a moment matches a query in absolute terms, next to the library-calibrated score.

The calibrated score (``vidsearch.query.score.calibrate``) says how much a moment stands out in
*this* library, so the best moment always stands out somewhat, even for a query about something
the library does not hold. The match says how close the moment is to the words themselves, on a
scale fixed per model: 0 is as close as an unrelated moment typically is, 1 as close as a moment
showing the query's words on screen. A cut-off on it lets a search find nothing.

Each model's scale comes from ``MatchScale`` values it publishes (see ``scale_for``); a model
without one gets no match figure and no cut-off.
"""

from __future__ import annotations

import numpy as np

from vidsearch.embed.base import MatchScale

__all__ = ["MatchScale", "combine_matches", "scale_for", "speech_scale_for"]


def scale_for(model_id: str | None) -> MatchScale | None:
    """The match scale of the model that made an index (by its recorded ``model_id``), or None.

    Known without loading the model, so a search answered from cached query vectors stays cheap.
    """
    if not model_id:
        return None
    from vidsearch.embed import lite

    if model_id == lite.MODEL_ID:
        return lite.MATCH_SCALE
    return None


def speech_scale_for(model_id: str | None) -> MatchScale | None:
    """The match scale of a query against what was said in a moment (the model's embedding of the
    words said), for the model that made an index; None where the model publishes none."""
    if not model_id:
        return None
    from vidsearch.embed import lite

    if model_id == lite.MODEL_ID:
        return lite.SPEECH_MATCH_SCALE
    return None


def combine_matches(clauses: np.ndarray, whole: np.ndarray | None, whole_weight: float) -> np.ndarray:
    """One match per moment from the positive clauses' matches (C, N) and the whole sentence's (N,):
    the clauses' mean, blended with the whole sentence by ``whole_weight`` as the scores are.

    The mean, not the scores' soft minimum: the match decides whether anything is shown at all, and
    one clause the model cannot see ("then smiling", "with a storyboard below") must not sink a
    moment that matches the rest. On the development clips (benchmarks/real_eval.py) the lowest
    match of a caption's own clip was 0.07 with a soft minimum and 0.12 with the mean, while the
    best match of queries for absent things stayed the same.
    """
    match = np.asarray(clauses, dtype=np.float64).mean(axis=0)
    if whole is not None:
        match = (1.0 - whole_weight) * match + whole_weight * np.asarray(whole, dtype=np.float64)
    return np.asarray(match)
