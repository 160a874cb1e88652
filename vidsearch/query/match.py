"""How well a moment matches a query in absolute terms, next to the library-calibrated score.

The calibrated score (``vidsearch.query.score.calibrate``) says how much a moment stands out in
*this* library, so the best moment always stands out somewhat, even for a query about something
the library does not hold. The match says how close the moment is to the words themselves, on a
scale fixed per model: 0 is as close as an unrelated moment typically is, 1 as close as a moment
showing the query's words on screen. A cut-off on it lets a search find nothing.

A fixed scale cannot tell a query the model reads well from one it barely can: "a hot air balloon"
names an ImageNet class and reaches cosine 0.63 with that class's phrase, while "two people playing
chess" reaches 0.27 with the best of them. So a moment that comes within 0.3 of the first has found
little of it, and within 0.3 of the second most of what the model could ever see. The **fit** says
that: the moment's cosine over the best cosine the query reaches with any phrase a moment's picture
is mixed from (the model's vocabulary, ``vocabulary_for``). The default cut-off asks for both a
match and a fit.

Each model's scale comes from ``MatchScale`` values it publishes (see ``scale_for``); a model
without one gets no match figure and no cut-off.
"""

from __future__ import annotations

import numpy as np

from vidsearch.embed.base import MatchScale

__all__ = ["MatchScale", "combine_matches", "fit", "scale_for", "speech_scale_for", "vocabulary_for"]


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


def vocabulary_for(model_id: str | None) -> np.ndarray | None:
    """The (phrases, dim) unit vectors of everything the model that made an index can say about a
    picture (for the lite model: its class names and scene cues), or None where it publishes none.

    Read without loading the model (the lite model keeps them in the user cache folder when it
    indexes), so a search answered from cached query vectors stays cheap.
    """
    if not model_id:
        return None
    from vidsearch.embed import lite

    if model_id == lite.MODEL_ID:
        return lite.vocabulary()
    return None


def fit(query: np.ndarray, moments: np.ndarray, vocabulary: np.ndarray) -> np.ndarray:
    """How much of what the model could see of ``query`` (D,) each of ``moments`` (N, D) shows: the
    moment's cosine over the query's best cosine with any row of ``vocabulary`` (V, D). (N,) float64;
    1 or more where the moment is as close as the model's best reading of the query gets (on-screen
    text in the query's words goes above it)."""
    q = np.asarray(query, dtype=np.float64)
    ceiling = max(float((np.asarray(vocabulary, dtype=np.float64) @ q).max(initial=0.0)), 1e-6)
    return np.asarray(np.asarray(moments, dtype=np.float64) @ q / ceiling)
