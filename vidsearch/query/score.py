"""Score moments against parsed clauses: calibration, soft AND, negation, order, composed queries.

The caller embeds each clause text and gives this module cosine similarity arrays:

* ``pos`` (P, N): each positive clause against N candidate moments,
* ``neg`` (Q, N): each negated clause against the same moments,
* ``library`` (C, M): each clause against a random sample of M moments of the whole library.

**Scale.** ``calibrate`` turns a raw cosine into a z-score against that clause's own library
distribution: 0 means "as similar as a typical moment in this library", 1 means one standard deviation
above it, 3 means it stands out clearly. Raw cosines from different models, or from a short clause and
a long one, differ in level and spread; z-scores do not, so one threshold means the same everywhere.
Every score this module returns (``combine``, ``sequence_matches``) is on this z scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vidsearch.errors import QueryError
from vidsearch.query import _SCORE_NAMES

__all__ = list(_SCORE_NAMES)  # one list, kept where the package serves these names lazily

# Cosine spreads in a real library are 0.02-0.1; a floor keeps a tiny or uniform sample from
# turning a 0.001 difference into a huge z-score.
STD_FLOOR = 0.01


def calibrate(sims: np.ndarray, library: np.ndarray, std_floor: float = STD_FLOOR) -> np.ndarray:
    """Z-score each clause's similarities against that clause's library distribution.

    ``sims`` is (C, N) (or (N,) for one clause), ``library`` is (C, M) with the same clause order.
    Returns float64 of the shape of ``sims``: (sims - library mean) / max(library std, ``std_floor``).
    With fewer than 2 library samples the candidates themselves are added to the sample, so a
    tiny library still gets a usable scale.
    """
    sims_arr = np.asarray(sims, dtype=np.float64)
    one_clause = sims_arr.ndim == 1
    sims2 = np.atleast_2d(sims_arr)
    lib = np.asarray(library, dtype=np.float64)
    if lib.ndim == 1:
        lib = lib[None, :] if sims2.shape[0] == 1 else lib[:, None]
    if lib.shape[0] != sims2.shape[0]:
        raise ValueError(f"library has {lib.shape[0]} clauses but sims has {sims2.shape[0]}")
    if lib.shape[1] < 2:
        lib = np.concatenate([lib, sims2], axis=1)
    if lib.shape[1] == 0:
        return np.zeros_like(sims_arr)
    mean = lib.mean(axis=1, keepdims=True)
    std = np.maximum(lib.std(axis=1, keepdims=True), std_floor)
    z = (sims2 - mean) / std
    return z[0] if one_clause else z


def soft_min(values: np.ndarray, softness: float = 0.5, axis: int = 0) -> np.ndarray:
    """A smooth minimum along ``axis``: -softness * log(mean(exp(-values / softness))).

    It lies between the minimum (softness -> 0) and the mean (softness -> inf), so a moment must be
    good at every clause to score well; one very strong clause cannot hide a missing one. With one
    value it returns that value. Any -inf makes the result -inf.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.shape[axis] == 0:
        raise ValueError("soft_min of nothing")
    if softness <= 0:
        return x.min(axis=axis)
    low = x.min(axis=axis, keepdims=True)
    finite_low = np.where(np.isfinite(low), low, 0.0)
    with np.errstate(invalid="ignore"):
        mean_exp = np.exp(-(x - finite_low) / softness).mean(axis=axis, keepdims=True)
    out = finite_low - softness * np.log(mean_exp)
    out = np.where(np.isneginf(low), -np.inf, out)
    return np.squeeze(out, axis=axis)


@dataclass(frozen=True)
class ScoreParams:
    """How clauses combine (all on the calibrated z scale).

    ``softness``: soft-min temperature over positives (smaller is closer to a strict AND).
    ``neg_weight`` and ``neg_margin``: each negated clause subtracts
    ``neg_weight * max(0, neg_z - neg_margin)``; a moment only as similar to "dog" as a typical
    moment of the library (z around 0) loses nothing.
    ``neg_drop``: when set, a moment whose z for any negated clause exceeds it is dropped (score -inf).
    """

    softness: float = 0.5
    neg_weight: float = 1.0
    neg_margin: float = 1.0
    neg_drop: float | None = None


@dataclass(frozen=True, eq=False)
class Combined:
    """Scores of N moments and what each clause contributed, for ``find --explain``."""

    scores: np.ndarray  # (N,) final score; -inf where dropped by a negated clause
    match: np.ndarray  # (N,) soft-min over the positive clauses (0 when there are none)
    penalty: np.ndarray  # (N,) total subtracted for negated clauses
    dropped: np.ndarray  # (N,) bool, removed by ``neg_drop``
    pos: np.ndarray = field(repr=False)  # (P, N) calibrated positive scores
    neg: np.ndarray = field(repr=False)  # (Q, N) calibrated negated scores
    neg_penalties: np.ndarray = field(repr=False)  # (Q, N) penalty from each negated clause

    def explain(
        self, index: int, positives: Sequence[str] = (), negatives: Sequence[str] = ()
    ) -> dict[str, object]:
        """One moment's breakdown (3 decimals): each clause's z-score and penalty, the clauses'
        soft minimum (``clauses``) and the result."""
        pos_names = list(positives) or [f"positive {i + 1}" for i in range(self.pos.shape[0])]
        neg_names = list(negatives) or [f"negative {i + 1}" for i in range(self.neg.shape[0])]
        return {
            "score": round(float(self.scores[index]), 3),
            "clauses": round(float(self.match[index]), 3),
            "penalty": round(float(self.penalty[index]), 3),
            "dropped": bool(self.dropped[index]),
            "positives": {name: round(float(self.pos[i, index]), 3) for i, name in enumerate(pos_names)},
            "negatives": {
                name: {
                    "z": round(float(self.neg[i, index]), 3),
                    "penalty": round(float(self.neg_penalties[i, index]), 3),
                }
                for i, name in enumerate(neg_names)
            },
        }


def _as_clauses(array: np.ndarray | None, name: str) -> np.ndarray | None:
    """A (clauses, moments) float64 array, or None when there are no clauses."""
    if array is None:
        return None
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be (clauses, moments), got shape {arr.shape}")
    return arr if arr.shape[0] else None


def combine_detailed(
    pos_cal: np.ndarray | None, neg_cal: np.ndarray | None = None, params: ScoreParams | None = None
) -> Combined:
    """Combine calibrated clause scores into one score per moment, keeping each clause's part.

    ``pos_cal`` is (P, N), ``neg_cal`` is (Q, N); either may have 0 rows (or be None), not both.
    Score = soft_min(positives) - sum over negated clauses of neg_weight * relu(neg_z - neg_margin).
    With no positives the match is 0 for every moment, so the ranking comes from the negations alone.
    """
    params = params or ScoreParams()
    pos_given = _as_clauses(pos_cal, "pos_cal")
    neg_given = _as_clauses(neg_cal, "neg_cal")
    if pos_given is None and neg_given is None:
        raise ValueError("combine needs at least one positive or negated clause")
    n = pos_given.shape[1] if pos_given is not None else neg_given.shape[1]  # type: ignore[union-attr]
    pos = pos_given if pos_given is not None else np.zeros((0, n))
    neg = neg_given if neg_given is not None else np.zeros((0, n))
    if pos.shape[1] != neg.shape[1]:
        raise ValueError(f"pos_cal has {pos.shape[1]} moments but neg_cal has {neg.shape[1]}")

    match = soft_min(pos, params.softness, axis=0) if pos.shape[0] else np.zeros(n)
    neg_penalties = params.neg_weight * np.maximum(neg - params.neg_margin, 0.0)
    penalty = neg_penalties.sum(axis=0)
    if params.neg_drop is not None and neg.shape[0]:
        dropped = np.asarray((neg > params.neg_drop).any(axis=0))
    else:
        dropped = np.zeros(n, dtype=bool)
    scores = np.where(dropped, -np.inf, match - penalty)
    return Combined(scores, match, penalty, dropped, pos, neg, neg_penalties)


def combine(
    pos_cal: np.ndarray | None, neg_cal: np.ndarray | None = None, params: ScoreParams | None = None
) -> np.ndarray:
    """The (N,) scores of ``combine_detailed`` (see there); -inf marks moments dropped by a negation."""
    return combine_detailed(pos_cal, neg_cal, params).scores


def sequence_matches(
    step_scores: Sequence[np.ndarray],
    times: tuple[np.ndarray, np.ndarray, np.ndarray],
    max_gap: float = 30.0,
    tolerance: float = 1.0,
    softness: float = 0.5,
    min_score: float | None = None,
) -> list[tuple[int, int, float]]:
    """Find "A, then B (, then C...)" inside each video.

    ``step_scores[k]`` is an (N,) score of every moment for step k (e.g. ``combine`` of that step's
    clauses); ``times`` is (starts, ends, video_ids), each (N,). Moment j can follow moment i when both
    are in the same video, j != i, ``start_j >= end_i - tolerance`` (B begins after A ends; the
    tolerance absorbs shared boundaries) and ``start_j - end_i <= max_gap`` seconds.
    For each video, a dynamic programme picks, for every possible last moment, the chain whose weakest
    step is strongest (ties: higher sum); the chain's score is the soft-min of its step scores.
    Returns (first moment index, last moment index, score), best first, with at most one chain per
    stretch of time (a chain overlapping a better one in the same video is left out). Moments with a
    non-finite score at a step cannot take that step.
    """
    if not step_scores:
        return []
    starts, ends, videos = (np.asarray(a) for a in times)
    scores = np.stack([np.asarray(s, dtype=np.float64) for s in step_scores])
    n = scores.shape[1]
    if not (len(starts) == len(ends) == len(videos) == n):
        raise ValueError(f"times must have one entry per moment ({n})")
    steps = scores.shape[0]

    chains: list[tuple[float, int, int, int]] = []  # (score, video, first, last)
    for video in np.unique(videos):
        idx = np.flatnonzero(videos == video)
        s, e = starts[idx].astype(np.float64), ends[idx].astype(np.float64)
        sc = scores[:, idx]
        # can_follow[i, j]: moment j may come right after moment i in the sequence.
        gap = s[None, :] - e[:, None]
        can_follow = (gap >= -tolerance) & (gap <= max_gap)
        np.fill_diagonal(can_follow, False)

        best_min = np.where(np.isfinite(sc[0]), sc[0], -np.inf)
        best_sum = np.where(np.isfinite(sc[0]), sc[0], -np.inf)
        back = []
        for k in range(1, steps):
            cand_min = np.where(can_follow, best_min[:, None], -np.inf)  # rows: previous, cols: next
            cand_sum = np.where(can_follow, best_sum[:, None], -np.inf)
            # Pick the predecessor with the strongest weakest step, then the highest sum.
            top = cand_min.max(axis=0, keepdims=True)
            tie_sum = np.where(cand_min == top, cand_sum, -np.inf)
            prev = tie_sum.argmax(axis=0)
            cols = np.arange(len(idx))
            prev_min, prev_sum = cand_min[prev, cols], cand_sum[prev, cols]
            here = np.where(np.isfinite(sc[k]), sc[k], -np.inf)
            best_min = np.minimum(prev_min, here)
            best_sum = np.where(np.isfinite(prev_min) & np.isfinite(here), prev_sum + here, -np.inf)
            back.append(prev)
        for last in np.flatnonzero(np.isfinite(best_min)):
            # Walk back to recover the chain's step scores for the soft-min.
            chain = [int(last)]
            for prev in reversed(back):
                chain.append(int(prev[chain[-1]]))
            chain.reverse()
            value = float(soft_min(sc[np.arange(steps), chain], softness))
            if min_score is None or value >= min_score:
                chains.append((value, int(video), int(idx[chain[0]]), int(idx[chain[-1]])))

    chains.sort(key=lambda c: -c[0])
    taken: dict[int, list[tuple[float, float]]] = {}
    out: list[tuple[int, int, float]] = []
    for value, video, first_i, last_i in chains:
        span = (float(starts[first_i]), float(ends[last_i]))
        spans = taken.setdefault(video, [])
        if any(span[0] < b and a < span[1] for a, b in spans):
            continue
        spans.append(span)
        out.append((first_i, last_i, value))
    return out


def _unit(vectors: np.ndarray) -> np.ndarray:
    v = np.asarray(vectors, dtype=np.float64)
    norm = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.divide(v, norm, out=np.zeros_like(v), where=norm > 0)


def compose(ref: np.ndarray, edit: np.ndarray, alpha: float) -> np.ndarray:
    """A query vector for "like this clip, but <edit>": unit(alpha * unit(ref) + (1 - alpha) * unit(edit)).

    ``ref`` is the reference moment's vector, ``edit`` the embedded edit text; both (D,) or (n, D).
    ``alpha`` in [0, 1]: 1 is the reference alone, 0 the edit alone. Returns float32 unit vector(s).
    Raises ``QueryError`` when the two cancel out (no direction left to search).
    """
    if not 0.0 <= alpha <= 1.0:
        raise QueryError(f"the reference weight must be between 0 and 1, got {alpha}")
    ref_arr, edit_arr = np.asarray(ref), np.asarray(edit)
    if ref_arr.shape[-1] != edit_arr.shape[-1]:
        raise ValueError(f"reference has {ref_arr.shape[-1]} dimensions, edit has {edit_arr.shape[-1]}")
    mixed = alpha * _unit(ref_arr) + (1.0 - alpha) * _unit(edit_arr)
    if np.any(np.linalg.norm(mixed, axis=-1) < 1e-6):
        raise QueryError("the reference clip and the edit text cancel out; give the reference more weight")
    return _unit(mixed).astype(np.float32)


def near_duplicates(ref: np.ndarray, vectors: np.ndarray, threshold: float = 0.97) -> np.ndarray:
    """(N,) bool: which of ``vectors`` (N, D) have cosine >= ``threshold`` with ``ref`` (D,).

    Used to leave the reference moment and its near copies out of "more like this" results.
    """
    cos = _unit(np.atleast_2d(vectors)) @ _unit(ref)
    return cos >= threshold


def is_near_duplicate(a: np.ndarray, b: np.ndarray, threshold: float = 0.97) -> bool:
    """True when vectors ``a`` and ``b`` point the same way (cosine >= ``threshold``); zeros never do."""
    return bool(near_duplicates(a, np.asarray(b)[None, :], threshold)[0])
