"""Find moments: parse the query, embed its clauses, read candidates from the store, score, merge.

Every score is on one calibrated scale whatever the model or library: a z-score of the moment's
similarity against the same clause's similarities over a sample of the whole library (0 = a typical
moment of this library, 2 = clearly stands out). See ``vidsearch.query.score``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vidsearch.embed.base import Embedder
from vidsearch.errors import MediaError, UsageError
from vidsearch.query import parse_query
from vidsearch.query.contrast import alternatives
from vidsearch.query.match import combine_matches, scale_for
from vidsearch.store import Candidate, Store
from vidsearch.types import Hit, Segment

if TYPE_CHECKING:
    from vidsearch.query.score import ScoreParams

MERGE_GAP = 1.0  # seconds: moments of one video closer than this become one hit...
MERGE_MARGIN = 1.0  # ...when their scores are this close (calibrated units)...
# ...and they look alike (cosine of their vectors): the parts of one still or slow shot do;
# neighbouring shots of a montage of unrelated clips reach 0.67-0.96 with the lite model (32 of 33
# below 0.95), whose vectors of different scenes are close.
SAME_SHOT = 0.95
LIBRARY_SAMPLE = 1000  # moments used to calibrate each clause
SEQUENCE_MIN_Z = 0.5  # each step of "A then B" must stand out at least this much
LIKE_ALPHA = 0.5  # weight of the reference clip against the edit text when mixing vectors
NEAR_DUPLICATE = 0.97
# An alternative ("rainy day") must fit a moment this much better (cosine) than the negated clause
# ("sunny day") before the moment counts as showing the alternative rather than the excluded thing.
CONTRAST_MARGIN = 0.1
# A negated clause costs NEG_WEIGHT per calibrated unit it matches above NEG_MARGIN: a moment showing
# the excluded thing clearly (z ~ 2) falls below typical moments; one that merely resembles it stays.
NEG_WEIGHT = 2.0
NEG_MARGIN = 0.75  # cosine above which a moment is a copy of the reference


@dataclass(frozen=True)
class LikeRef:
    """A reference clip for "like this but ...": a file and an optional span in seconds."""

    path: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True)
class SearchOptions:
    limit: int = 10
    within: tuple[str, ...] = ()  # restrict to files at or under these paths
    exclude: tuple[str, ...] = ()  # --not TEXT
    like: LikeRef | None = None
    merge_gap: float = MERGE_GAP
    max_gap: float = 30.0  # seconds allowed between the steps of "A then B"
    explain: bool = False
    min_score: float | None = None
    min_match: float | None = None  # absolute match cut-off (None: the model's default)
    whole_weight: float | None = None  # share of the whole-sentence score (None: model default)


@dataclass
class Explanation:
    """How a query was understood, for ``--explain``."""

    lines: list[str] = field(default_factory=list)


# ---- reference clips ("--like PATH@1:20-1:35") ---------------------------------------------------
_TIME = r"(?:\d+:)?(?:\d+:)?\d+(?:\.\d+)?"
_SPAN = re.compile(rf"^(?P<start>{_TIME})(?:-(?P<end>{_TIME}))?$")


def parse_time(text: str) -> float:
    """``90``, ``1:30``, ``1:02:03.5`` -> seconds. Raises UsageError."""
    parts = text.strip().split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)") from None
    if len(values) > 3 or any(v < 0 for v in values):
        raise UsageError(f"not a time: {text!r} (use seconds, M:SS or H:MM:SS)")
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds


def parse_like(spec: str) -> LikeRef:
    """``PATH``, ``PATH@TIME`` or ``PATH@START-END`` -> LikeRef. A path containing '@' still works
    when the part after the last '@' is not a time."""
    if "@" in spec and not os.path.exists(spec):
        path, _, when = spec.rpartition("@")
        match = _SPAN.match(when.strip())
        if match:
            start = parse_time(match["start"])
            end = parse_time(match["end"]) if match["end"] else None
            if end is not None and end <= start:
                raise UsageError(f"--like {spec}: the end time must come after the start")
            return LikeRef(path, start, end)
    return LikeRef(spec)


# ---- the search ----------------------------------------------------------------------------------
def restrict_ids(store: Store, within: Sequence[str]) -> list[int] | None:
    """Video ids under ``within`` paths (None = no restriction). Raises UsageError for unknown paths."""
    if not within:
        return None
    for path in within:
        if not os.path.exists(path) and not store.video_ids_under([path]):
            raise UsageError(f"--in {path}: no such file or folder in the library")
    return store.video_ids_under(within)


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
    hits.sort(key=lambda h: (-h.score, h.path, h.start))
    return hits


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


def find(
    store: Store,
    embedder: Embedder,
    text: str,
    options: SearchOptions,
    explanation: Explanation | None = None,
) -> list[Hit]:
    """Search the library for ``text`` (and/or a reference clip); at most ``options.limit`` hits.

    Raises UsageError (QueryError) for queries that cannot be searched (empty, too long, bad --like).
    """
    from vidsearch.query import ScoreParams, calibrate, combine_detailed, explain

    if not text.strip() and not options.exclude and options.like is None:
        raise UsageError('the query is empty; say what to look for, e.g. vidsearch find "a dog on a beach"')
    parsed = parse_query(text, extra_not=options.exclude) if (text.strip() or options.exclude) else None
    video_ids = restrict_ids(store, options.within)
    if explanation is not None and parsed is not None:
        explanation.lines.extend(explain(parsed))

    # 1. what to look for, as vectors: positive clauses (per step), negated clauses, the reference
    pos_texts = [c.text for c in parsed.positives] if parsed else []
    neg_texts = [c.text for c in parsed.negatives] if parsed else []
    whole = parsed.whole if parsed and len(pos_texts) > 1 and not parsed.sequential else None
    # what each negated clause could have been instead ("rainy" for "sunny"): see query.contrast
    alt_texts = [alternatives(t) for t in neg_texts]
    texts = pos_texts + neg_texts + ([whole] if whole else []) + [a for alts in alt_texts for a in alts]
    vectors = embedder.embed_queries(texts) if texts else np.zeros((0, embedder.dim), np.float32)
    pos_vecs = vectors[: len(pos_texts)]
    neg_vecs = vectors[len(pos_texts) : len(pos_texts) + len(neg_texts)]
    whole_vec = vectors[len(pos_texts) + len(neg_texts)] if whole else None
    alt_vecs = vectors[len(pos_texts) + len(neg_texts) + (1 if whole else 0) :]
    steps = [[pos_texts.index(c.text) for c in step] for step in parsed.steps] if parsed else []

    excluded: set[int] = set()
    ref_vec: np.ndarray | None = None
    if options.like is not None:
        ref_vec, excluded = reference_vector(store, embedder, options.like)
        if explanation is not None:
            explanation.lines.append(f"reference clip: {_describe_like(options.like)}")
        if pos_texts and not (parsed and parsed.sequential):
            # "like this but at night"
            pos_vecs, pos_texts = _compose(embedder, ref_vec, options.like, pos_texts, pos_vecs)
            steps = [list(range(len(pos_texts)))]
            whole_vec = None
        elif not pos_texts:
            pos_vecs = ref_vec[None, :]
            pos_texts = ["like the reference"]
            steps = [[0]]

    # 2. candidates: nearest moments of each positive query vector (inside --in), or a spread of the
    #    library when there are only negations
    k = max(100, options.limit * 10)
    query_vecs = list(pos_vecs) + ([whole_vec] if whole_vec is not None else [])
    cand: dict[int, Candidate] = {}
    for q in query_vecs:
        for c in store.nearest(q, k, video_ids):
            cand.setdefault(c.moment_id, c)
    if not query_vecs:
        ids = store.sample_moment_ids(4 * LIBRARY_SAMPLE, within=video_ids)
        cand = {c.moment_id: c for c in store.candidates({i: 0.0 for i in ids})}
    if parsed is not None and parsed.sequential:
        cand.update(_whole_videos(store, cand.values()))
    for mid in excluded:
        cand.pop(mid, None)
    if not cand:
        return []
    moments = list(cand.values())
    mat = store.vectors([c.moment_id for c in moments])
    if ref_vec is not None:
        keep = (mat @ ref_vec) < NEAR_DUPLICATE  # near copies of the reference are not results
        moments = [m for m, k_ in zip(moments, keep, strict=False) if k_]
        mat = mat[keep]
        if not moments:
            return []

    # 3. calibrated clause scores
    library = store.library_sample(LIBRARY_SAMPLE)
    all_q = np.concatenate([pos_vecs, neg_vecs] + ([whole_vec[None, :]] if whole_vec is not None else []))
    sims = all_q @ mat.T
    lib = all_q @ library.T
    z = calibrate(sims, lib)
    n_pos, n_neg = len(pos_vecs), len(neg_vecs)
    pos_z, neg_z = z[:n_pos], z[n_pos : n_pos + n_neg].copy()
    row = 0
    for i, alts in enumerate(alt_texts):
        if alts:
            # A moment shows the excluded thing only if the negated clause fits it better than every
            # alternative value of the same attribute; otherwise it is only about the same topic.
            alt_best = (alt_vecs[row : row + len(alts)] @ mat.T).max(axis=0)
            neg_z[i] = np.where(alt_best > sims[n_pos + i] + CONTRAST_MARGIN, np.minimum(neg_z[i], 0.0), neg_z[i])
            row += len(alts)
            if explanation is not None:
                explanation.lines.append(f"{neg_texts[i]!r} counts only where it fits better than: "
                                         + ", ".join(repr(a) for a in alts[:4]) + (", ..." if len(alts) > 4 else ""))
    params = ScoreParams(neg_weight=NEG_WEIGHT, neg_margin=NEG_MARGIN)
    starts = np.array([m.start for m in moments])
    ends = np.array([m.end for m in moments])
    vids = np.array([m.video_id for m in moments])

    # absolute match of the text clauses (not of a reference clip), on the model's own scale
    scale = scale_for(store.get_meta("model_id"))
    text_rows = [i for i, t in enumerate(pos_texts) if not t.startswith("like the reference")]
    cutoff = options.min_match if options.min_match is not None else (scale.cutoff if scale else None)
    w = 0.0
    if whole_vec is not None:
        w = options.whole_weight if options.whole_weight is not None else _whole_weight(embedder)

    if len(steps) > 1:
        step_match = None
        if scale is not None:
            step_match = [combine_matches(scale.of(sims[list(step)]), None, 0.0) for step in steps]
        ordered = _sequence_hits(moments, steps, pos_z, neg_z, params, (starts, ends, vids), options, pos_texts,
                                 step_match, cutoff)
        if ordered:
            return ordered
        # No moment is followed by another in that order: a short clip (one moment) may still show
        # every step, so look for moments matching all of them.
        if explanation is not None:
            explanation.lines.append("no moment is followed by another in that order: one moment showing every step")

    match: np.ndarray | None = None
    if scale is not None and text_rows:
        match = combine_matches(scale.of(sims[text_rows]), scale.of(sims[-1]) if whole_vec is not None else None, w)
    combined = combine_detailed(pos_z if n_pos else None, neg_z if n_neg else None, params)
    scores = combined.scores.copy()
    if whole_vec is not None:
        scores = (1 - w) * scores + w * z[-1]
        if explanation is not None:
            explanation.lines.append(f"whole sentence, {w:.2f} of the score: {whole!r}")
    if n_pos == 0:
        scores = scores + 1e-3 * _spread(starts)  # only negations: stable order, earlier first
    details: dict[int, Any] = {}
    if options.explain:
        for i, m in enumerate(moments):
            details[m.moment_id] = combined.explain(i, pos_texts, neg_texts)
            if whole_vec is not None:
                whole_z = round(float(z[-1, i]), 3)
                details[m.moment_id] |= {"score": float(scores[i]), "whole": whole_z, "whole_weight": w}
            if match is not None:
                details[m.moment_id]["match"] = round(float(match[i]), 3)
    keep = np.isfinite(scores)
    if options.min_score is not None:
        keep &= scores >= options.min_score
    if match is not None and cutoff is not None:
        keep &= match >= cutoff
    scored = [_with_similarity(m, float(s)) for m, s, k in zip(moments, scores, keep, strict=True) if k]
    matches = {m.moment_id: float(match[i]) for i, m in enumerate(moments)} if match is not None else {}
    looks = {m.moment_id: mat[i] for i, m in enumerate(moments)}
    hits = _merge_with(scored, options.merge_gap, details, matches, looks)
    return hits[: options.limit]


def _whole_weight(embedder: Embedder) -> float:
    # Each model says how far its reading of the whole sentence counts (``whole_query_weight``);
    # models that do not say (test embedders, plug-ins) rank by the clauses alone.
    return float(getattr(embedder, "whole_query_weight", 0.0))


def _spread(starts: np.ndarray) -> np.ndarray:
    return -starts / (1.0 + float(starts.max(initial=0.0)))


def _with_similarity(c: Candidate, score: float) -> Candidate:
    return Candidate(c.moment_id, c.video_id, c.path, c.start, c.end, score, c.cost, c.available)


def _merge_with(
    scored: Sequence[Candidate],
    gap: float,
    details: dict[int, Any],
    matches: dict[int, float],
    vectors: dict[int, np.ndarray],
) -> list[Hit]:
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


def _whole_videos(store: Store, candidates: Sequence[Candidate] | Any) -> dict[int, Candidate]:
    """Every moment of the videos among the candidates (an order query needs their neighbours)."""
    video_ids = sorted({c.video_id for c in candidates})[:200]
    ids = [m for v in video_ids for m, _, _ in store.moments_of(v)]
    return {c.moment_id: c for c in store.candidates({i: 0.0 for i in ids})}


def _sequence_hits(
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
) -> list[Hit]:
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
        if options.explain:
            details["explain"] = {
                "steps": [
                    {"clauses": [pos_texts[i] for i in step], "z": round(float(step_scores[k][idx]), 3)}
                    for k, (step, idx) in enumerate(zip(steps, (first, last), strict=False))
                ]
            }
        hits.append(Hit(a.path, a.start, b.end, score, a.video_id, (a.moment_id, b.moment_id), a.available, details))
    return hits


def _describe_like(like: LikeRef) -> str:
    if like.start is None:
        return like.path
    return f"{like.path} from {like.start:.1f} s" + (f" to {like.end:.1f} s" if like.end is not None else "")


def reference_vector(store: Store, embedder: Embedder, like: LikeRef) -> tuple[np.ndarray, set[int]]:
    """The reference clip's vector, and the ids of stored moments that are the reference itself.

    A clip inside the library reuses its stored vectors; any other file is decoded and embedded.
    Raises UsageError when the file is missing, not a video, or the time is past its end.
    """
    if not os.path.exists(like.path):
        raise UsageError(f"--like {like.path}: no such file")
    video = store.video_by_path(like.path)
    if video is not None and video.status == "indexed":
        if like.start is not None and like.start >= video.duration:
            raise UsageError(
                f"--like {like.path}@{like.start:g}: past the end of the video ({video.duration:.1f} s long)"
            )
        rows = store.moments_of(video.id)
        lo = like.start if like.start is not None else 0.0
        hi = like.end if like.end is not None else (lo + 1e-3 if like.start is not None else float("inf"))
        chosen = [m for m, s, e in rows if s < hi and e > lo] or [rows[0][0]]
        vec = store.vectors(chosen).mean(axis=0)
        return (vec / np.linalg.norm(vec)).astype(np.float32), set(chosen)
    return _embed_file_span(embedder, like), set()


def _reference_segment(embedder: Embedder, like: LikeRef) -> Segment:
    from vidsearch.media import decode

    try:
        info = decode.probe(like.path)
    except MediaError as exc:
        raise UsageError(f"--like {like.path}: not a usable video ({exc})") from None
    start = like.start or 0.0
    if start >= info.duration:
        raise UsageError(f"--like {like.path}@{start:g}: past the end of the video ({info.duration:.1f} s long)")
    end = like.end if like.end is not None else (start + 10.0 if like.start is not None else info.duration)
    end = min(end, info.duration)
    n = max(2, embedder.frames_per_moment)
    interval = max(0.1, (end - start) / n)
    frames = decode.frames_in_spans(like.path, [(start, end)], interval, embedder.frame_side, info)[0]
    if not frames:
        raise UsageError(f"--like {like.path}: no frames could be decoded in that span")
    return Segment(start, end, tuple(frames))


def _embed_file_span(embedder: Embedder, like: LikeRef) -> np.ndarray:
    vecs, _ = embedder.embed_moments([_reference_segment(embedder, like)])
    return np.asarray(vecs[0], dtype=np.float32)


def _compose(
    embedder: Embedder, ref_vec: np.ndarray, like: LikeRef, texts: Sequence[str], text_vecs: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """The positive query vectors (and their names) for "like the reference, but <texts>".

    A model that takes frames and text together (the multimodal LLM) gets both in one input, as
    composed-retrieval models do: one vector. Other models keep the reference and each edit clause
    as separate clauses, so their scores are calibrated apart and a hit must match both (soft AND),
    and ``--explain`` shows each part (benchmarks/query_eval.py compares it with mixing the vectors).
    """
    composed = getattr(embedder, "embed_composed", None)
    if composed is not None:
        segment = _reference_segment(embedder, like)
        vec = np.asarray(composed([segment], [" and ".join(texts)]), dtype=np.float32).reshape(1, -1)
        return vec, [f"like the reference, {' and '.join(texts)}"]
    return np.vstack([ref_vec[None, :], text_vecs]), ["like the reference", *texts]


def plain_find(store: Store, embedder: Embedder, text: str, limit: int = 10) -> list[Hit]:
    """The baseline vidsearch improves on: one vector for the whole query, nearest moments, merged.

    Kept for benchmarks and tests that measure what query understanding adds.
    """
    query = embedder.embed_queries([text])[0]
    return merge_adjacent(store.nearest(query, max(100, limit * 10)), margin=float("inf"))[:limit]
