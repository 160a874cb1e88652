"""Find moments: parse the query, embed its clauses, read candidates from the store, score, merge.

Every score is on one calibrated scale whatever the model or library: a z-score of the moment's
similarity against the same clause's similarities over a sample of the whole library (0 = a typical
moment of this library, 2 = clearly stands out). See ``vidsearch.query.score``. Beside it, a match
on the model's own absolute scale (``vidsearch.query.match``) lets a search find nothing.

The stages, each a function below: what the query asks for (``_wanted``), which moments could
answer it (``_candidates``), how well each does (``_clause_scores`` for the pictures, ``_with_text``
for what is said, shown in words and named: ``vidsearch.query.spoken``), and the hits
(``vidsearch.query.hits``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from vidsearch.embed.base import Embedder, MatchScale
from vidsearch.errors import UsageError
from vidsearch.query import ParsedQuery, parse_query
from vidsearch.query.contrast import alternatives
from vidsearch.query.filters import PlaceWords, filmed_at, filtered_video_ids, intersect, read_search_filters
from vidsearch.query.hits import merge_adjacent, merge_hit_lists, merge_scored, sequence_hits, with_similarity
from vidsearch.query.match import combine_matches, fit, scale_for, speech_scale_for, vocabulary_for
from vidsearch.query.options import Explanation, SearchOptions
from vidsearch.query.reference import (
    NEAR_DUPLICATE,
    SAME_PICTURE,
    check_like,
    compose,
    describe_like,
    reference_vector,
)
from vidsearch.query.spoken import SpokenQuery, candidate_ids, combine, explain_text, spoken_text, text_evidence
from vidsearch.query.spoken import with_speech_lines as _with_speech_lines
from vidsearch.store import Candidate, Store
from vidsearch.types import Hit

LIBRARY_SAMPLE = 1000  # moments used to calibrate each clause
# A video filmed at the place a query names, when the name is all the query says, scores this (the
# calibrated scale's "clearly stands out"): above moments that merely resemble the name, below a
# picture that shows it (a sign reading "LISBON").
PLACE_SCORE = 2.0
# An alternative ("rainy day") must fit a moment this much better (cosine) than the negated clause
# ("sunny day") before the moment counts as showing the alternative rather than the excluded thing.
CONTRAST_MARGIN = 0.1
# A negated clause costs NEG_WEIGHT per calibrated unit it matches above NEG_MARGIN: a moment showing
# the excluded thing clearly (z ~ 2) falls below typical moments; one that merely resembles it stays.
NEG_WEIGHT = 2.0
NEG_MARGIN = 0.75


def restrict_ids(store: Store, within: Sequence[str]) -> list[int] | None:
    """Video ids under ``within`` paths (None = no restriction). Raises UsageError for unknown paths."""
    if not within:
        return None
    for path in within:
        if not os.path.exists(path) and not store.video_ids_under([path]):
            raise UsageError(f"--in {path}: no such file or folder in the library")
    return store.video_ids_under(within)


@dataclass
class _Wanted:
    """What a query looks for: its clauses as texts and vectors, the reference clip's vector."""

    parsed: ParsedQuery | None
    pos_texts: list[str]
    pos_vecs: np.ndarray
    neg_texts: list[str]
    neg_vecs: np.ndarray
    alt_texts: list[list[str]]  # per negated clause, what it could have been instead
    alt_vecs: np.ndarray
    whole: str | None  # the whole sentence, when it counts beside the clauses
    whole_vec: np.ndarray | None
    steps: list[list[int]]  # positive clauses per step of "A then B" (one step otherwise)
    ref_vec: np.ndarray | None = None
    excluded: set[int] = field(default_factory=set)  # the reference's own moments
    edited: bool = False  # the reference comes with a change in words ("but at night")
    spoken: SpokenQuery | None = None  # what the query's words look for in what is said, shown, named
    said: SpokenQuery | None = None  # --said: what must have been said

    @property
    def sequential(self) -> bool:
        return self.parsed is not None and self.parsed.sequential

    def query_vectors(self) -> list[np.ndarray]:
        """The vectors whose nearest moments are the candidates."""
        return list(self.pos_vecs) + ([self.whole_vec] if self.whole_vec is not None else [])

    @property
    def text_queries(self) -> list[SpokenQuery]:
        return [q for q in (self.spoken, self.said) if q is not None]


def find(
    store: Store,
    embedder: Embedder,
    text: str,
    options: SearchOptions,
    explanation: Explanation | None = None,
) -> list[Hit]:
    """Search the library for ``text`` (and/or a reference clip); at most ``options.limit`` hits,
    in ``options.sort`` order, each with when and where its video was filmed (``Hit.facts``).

    The time and place words of ``text`` and the date, place and camera options choose the videos
    searched (``vidsearch.query.filters``); a query that only filters lists the videos that pass, in
    the order they were filmed. Raises UsageError (QueryError) for queries that cannot be searched
    (empty, too long, bad --like, bad filter values).
    """
    filters = read_search_filters(store, text, options)
    if explanation is not None:
        explanation.lines.extend(filters.lines)
    said = (options.said or "").strip()
    if not filters.text and not options.exclude and options.like is None and not filters.active and not said:
        raise UsageError('the query is empty; say what to look for, e.g. vidsearch find "a dog on a beach"')
    video_ids = intersect(restrict_ids(store, options.within), filtered_video_ids(store, filters))
    if explanation is not None and filters.active:
        explanation.lines.append(f"filters keep {len(video_ids or ())} video(s)")
    if filters.only_filters and not options.exclude and options.like is None and not said:
        hits = _listed(store, video_ids or [], options.limit, 0.0)
        return _ordered(store, hits, options.sort)  # "score": as listed, in time order
    hits = _ranked(store, embedder, filters.text, options, explanation, video_ids)
    if filters.place_words is not None:
        hits = _with_place_words(store, embedder, filters.place_words, options, explanation, video_ids, hits)
    return _ordered(store, hits, options.sort)


def _ranked(
    store: Store,
    embedder: Embedder,
    text: str,
    options: SearchOptions,
    explanation: Explanation | None,
    video_ids: list[int] | None,
) -> list[Hit]:
    """The best ``options.limit`` hits for ``text`` (and/or a reference clip, and/or ``--said``) among
    ``video_ids``: by what moments show, and by what they say, show in words and are named."""
    from vidsearch.query import ScoreParams, combine_detailed, explain

    parsed = parse_query(text, extra_not=options.exclude) if (text.strip() or options.exclude) else None
    if options.like is not None:
        check_like(store, options.like)  # a bad path or time is told before the model loads
    if explanation is not None and parsed is not None:
        explanation.lines.extend(explain(parsed))
    wanted = _wanted(store, embedder, parsed, options, explanation)
    moments, mat = _candidates(store, wanted, options, video_ids)
    if not moments:
        return []
    n_pos, n_neg = len(wanted.pos_vecs), len(wanted.neg_vecs)
    sims, z = _clause_scores(store, wanted, mat, explanation) if n_pos or n_neg else (None, None)
    params = ScoreParams(neg_weight=NEG_WEIGHT, neg_margin=NEG_MARGIN)
    starts = np.array([m.start for m in moments])

    # absolute match of the text clauses (not of a reference clip), on the model's own scale
    scale = scale_for(store.get_meta("model_id"))
    text_rows = [i for i, t in enumerate(wanted.pos_texts) if not t.startswith("like the reference")]
    cutoff = options.min_match if options.min_match is not None else (scale.cutoff if scale else None)
    # --min-match replaces the whole default cut-off; the fit is part of the default only
    fit_cutoff = scale.fit_cutoff if scale is not None and options.min_match is None else None
    w = 0.0
    if wanted.whole_vec is not None:
        w = options.whole_weight if options.whole_weight is not None else _whole_weight(embedder)

    # steps in time fit clause by clause: as a chain of moments or as one moment showing them all
    clause_fits = _clause_fits(store, wanted, mat) if scale is not None and wanted.sequential else None
    if len(wanted.steps) > 1 and sims is not None and z is not None:
        pos_z, neg_z = z[:n_pos], z[n_pos : n_pos + n_neg]
        step_match = step_fit = None
        if scale is not None:
            step_match = [combine_matches(scale.of(sims[list(step)]), None, 0.0) for step in wanted.steps]
        if clause_fits is not None and fit_cutoff is not None:
            # a step fits as its clauses do on average, as its match counts them
            step_fit = [clause_fits[list(step)].mean(axis=0) for step in wanted.steps]
        times = (starts, np.array([m.end for m in moments]), np.array([m.video_id for m in moments]))
        ordered = sequence_hits(moments, wanted.steps, pos_z, neg_z, params, times, options, wanted.pos_texts,
                                step_match, cutoff, step_fit, fit_cutoff)
        if ordered:
            return _with_speech_lines(store, ordered, _said_words(wanted), {})
        # No moment is followed by another in that order: a short clip (one moment) may still show
        # every step, so look for moments matching all of them.
        if explanation is not None:
            explanation.lines.append("no moment is followed by another in that order: one moment showing every step")

    scores: np.ndarray | None = None
    match: np.ndarray | None = None
    fits = _fits(store, wanted, mat, clause_fits) if scale is not None and text_rows else None
    penalty: np.ndarray | float = 0.0
    details: dict[int, Any] = {}
    if sims is not None and z is not None:
        pos_z, neg_z = z[:n_pos], z[n_pos : n_pos + n_neg]
        if scale is not None and text_rows:
            whole_match = scale.of(sims[-1]) if wanted.whole_vec is not None else None
            match = combine_matches(scale.of(sims[text_rows]), whole_match, w)
        combined = combine_detailed(pos_z if n_pos else None, neg_z if n_neg else None, params)
        penalty = combined.penalty
        scores = combined.scores.copy()
        if wanted.whole_vec is not None:
            scores = (1 - w) * scores + w * z[-1]
            if explanation is not None:
                explanation.lines.append(f"whole sentence, {w:.2f} of the score: {wanted.whole!r}")
        if n_pos == 0:
            scores = scores + 1e-3 * _spread(starts)  # only negations: stable order, earlier first
        if options.explain:
            for i, m in enumerate(moments):
                details[m.moment_id] = combined.explain(i, wanted.pos_texts, wanted.neg_texts)
                if wanted.whole_vec is not None:
                    whole_z = round(float(z[-1, i]), 3)
                    details[m.moment_id] |= {"score": round(float(scores[i]), 3), "whole": whole_z, "whole_weight": w}
                if match is not None:
                    details[m.moment_id]["match"] = round(float(match[i]), 3)
                if fits is not None:
                    details[m.moment_id]["fit"] = round(float(fits[i]), 3)
    explained = details if options.explain else None
    speech_scale = speech_scale_for(store.get_meta("model_id"))
    pictures_match = match
    scores, match, heard = _with_text(store, wanted, moments, scores, match, penalty, speech_scale, explained,
                                      explanation)  # fmt: skip
    keep = np.isfinite(scores)
    if options.min_score is not None:
        keep &= scores >= options.min_score
    if match is not None and cutoff is not None:
        keep &= match >= cutoff
    if fits is not None and fit_cutoff is not None:
        # a moment found by what it says or shows in words is not judged by its pictures' fit
        by_text = match > pictures_match if match is not None and pictures_match is not None else False
        keep &= (fits >= fit_cutoff) | by_text
    scored = [with_similarity(m, float(s)) for m, s, k in zip(moments, scores, keep, strict=True) if k]
    matches = {m.moment_id: float(match[i]) for i, m in enumerate(moments)} if match is not None else {}
    looks = {m.moment_id: mat[i] for i, m in enumerate(moments)}
    hits = merge_scored(scored, options.merge_gap, details, matches, looks)[: options.limit]
    return _with_speech_lines(store, hits, _said_words(wanted), heard)


def _fits(
    store: Store, wanted: _Wanted, mat: np.ndarray, clause_fits: np.ndarray | None
) -> np.ndarray | None:
    """The fit (``vidsearch.query.match.fit``) of each moment to the query's words as one sentence,
    or None where there is no such sentence (a reference clip) or the model publishes no vocabulary.
    Steps in time ("A then B") read as one moment showing every step fit as their clauses
    (``clause_fits``) do on average (the match counts clauses the same way)."""
    if wanted.ref_vec is not None:
        return None
    if wanted.sequential:
        return clause_fits.mean(axis=0) if clause_fits is not None else None
    query = wanted.whole_vec if wanted.whole_vec is not None else (
        wanted.pos_vecs[0] if len(wanted.pos_vecs) == 1 else None)
    vocabulary = vocabulary_for(store.get_meta("model_id")) if query is not None else None
    if query is None or vocabulary is None:
        return None
    return fit(query, mat, vocabulary)


def _clause_fits(store: Store, wanted: _Wanted, mat: np.ndarray) -> np.ndarray | None:
    """(positive clauses, moments) fits of each clause on its own, or None where the model publishes
    no vocabulary or a clause is a reference clip."""
    if wanted.ref_vec is not None or not len(wanted.pos_vecs):
        return None
    vocabulary = vocabulary_for(store.get_meta("model_id"))
    if vocabulary is None:
        return None
    return np.stack([fit(v, mat, vocabulary) for v in wanted.pos_vecs])


def _with_place_words(
    store: Store,
    embedder: Embedder,
    words: PlaceWords,
    options: SearchOptions,
    explanation: Explanation | None,
    video_ids: list[int] | None,
    hits: list[Hit],
) -> list[Hit]:
    """``hits`` for the whole query, with the videos filmed at the places it names: searched for the
    rest of the query (their place already says the rest), or, when the names were all it said,
    listed in time order at ``PLACE_SCORE``. The best hit of each span is kept."""
    there = filmed_at(store, words, video_ids)
    if explanation is not None:
        names = ", ".join(repr(n) for n in words.names)
        what = f"searched for {words.rest!r}" if words.rest else "listed"
        explanation.lines.append(f"place words: {names} is where {len(there)} video(s) were filmed; those are {what}")
    if not there:
        return hits
    if words.rest or options.exclude or options.like is not None:
        found = _ranked(store, embedder, words.rest, options, None, there)
    else:
        found = _listed(store, there, options.limit, PLACE_SCORE)
    return merge_hit_lists(hits, found)[: options.limit]


def _listed(store: Store, video_ids: Sequence[int], limit: int, score: float) -> list[Hit]:
    """The first ``limit`` of ``video_ids`` in the order they were filmed, each as one hit over all
    its moments, at ``score``."""
    hits = []
    for video_id in store.facts.in_time_order(video_ids, limit):
        moments = store.moments_of(video_id)
        if not moments:
            continue
        first = store.candidates({moments[0][0]: score})[0]
        hits.append(
            Hit(first.path, moments[0][1], max(e for _, _, e in moments), score, video_id,
                tuple(m for m, _, _ in moments), first.available, {"cost": first.cost})
        )  # fmt: skip
    return hits


def _ordered(store: Store, hits: list[Hit], sort: str) -> list[Hit]:
    """``hits`` with their videos' facts, in ``sort`` order ("score": as they are, best first)."""
    facts = store.facts.of(h.video_id for h in hits)
    hits = [replace(h, facts=facts.get(h.video_id)) for h in hits]
    if sort == "date":
        # unknown dates last; the wall clock where it was filmed, as the filters count it
        hits.sort(key=lambda h: (_local(h) is None, _local(h) or 0.0, h.path, h.start))
    elif sort == "path":
        hits.sort(key=lambda h: (h.path, h.start))
    return hits


def _local(hit: Hit) -> float | None:
    return hit.facts.recorded_local if hit.facts is not None else None


def _wanted(
    store: Store,
    embedder: Embedder,
    parsed: ParsedQuery | None,
    options: SearchOptions,
    explanation: Explanation | None,
) -> _Wanted:
    """Every text the query holds embedded in one call, and the reference clip read or embedded."""
    pos_texts = [c.text for c in parsed.positives] if parsed else []
    neg_texts = [c.text for c in parsed.negatives] if parsed else []
    whole = parsed.whole if parsed and len(pos_texts) > 1 and not parsed.sequential else None
    # what each negated clause could have been instead ("rainy" for "sunny"): see query.contrast
    alt_texts = [alternatives(c.text, keep=c.kept) for c in parsed.negatives] if parsed else []
    # what the text side looks for: the words said or shown, in the query and in --said
    spoken, about_speech = spoken_text(parsed.whole) if parsed and pos_texts else (None, False)
    said = (options.said or "").strip() or None
    extra = [t for t in (spoken, said) if t]
    texts = pos_texts + neg_texts + ([whole] if whole else []) + [a for alts in alt_texts for a in alts] + extra
    vectors = embedder.embed_queries(texts) if texts else np.zeros((0, embedder.dim), np.float32)
    extra_vecs = vectors[len(texts) - len(extra) :]
    vectors = vectors[: len(texts) - len(extra)]
    n_pos, n_neg = len(pos_texts), len(neg_texts)
    wanted = _Wanted(
        parsed=parsed,
        pos_texts=pos_texts,
        pos_vecs=vectors[:n_pos],
        neg_texts=neg_texts,
        neg_vecs=vectors[n_pos : n_pos + n_neg],
        alt_texts=alt_texts,
        alt_vecs=vectors[n_pos + n_neg + (1 if whole else 0) :],
        whole=whole,
        whole_vec=vectors[n_pos + n_neg] if whole else None,
        steps=[[pos_texts.index(c.text) for c in step] for step in parsed.steps] if parsed else [],
        spoken=SpokenQuery(spoken, extra_vecs[0], about_speech=about_speech) if spoken else None,
        said=SpokenQuery(said, extra_vecs[-1], speech_only=True, about_speech=True) if said else None,
    )
    if explanation is not None:
        if wanted.spoken is not None and about_speech:
            explanation.lines.append(f"said: {spoken!r} (in what was said and in file names)")
        if wanted.said is not None:
            explanation.lines.append(f"--said: {said!r} (in what was said only)")
    if options.like is None:
        return wanted
    wanted.ref_vec, wanted.excluded = reference_vector(store, embedder, options.like)
    if explanation is not None:
        explanation.lines.append(f"reference clip: {describe_like(options.like)}")
    if pos_texts and not wanted.sequential:  # "like this but at night"
        wanted.edited = True
        wanted.pos_vecs, wanted.pos_texts = compose(embedder, wanted.ref_vec, options.like, pos_texts, wanted.pos_vecs)
        wanted.steps = [list(range(len(wanted.pos_texts)))]
        wanted.whole_vec = None
    elif not pos_texts:  # "more like this"
        wanted.pos_vecs = wanted.ref_vec[None, :]
        wanted.pos_texts = ["like the reference"]
        wanted.steps = [[0]]
    return wanted


def _candidates(
    store: Store, wanted: _Wanted, options: SearchOptions, video_ids: list[int] | None
) -> tuple[list[Candidate], np.ndarray]:
    """The moments worth scoring and their vectors: the nearest moments of each query vector (inside
    ``video_ids``), or a spread of the library when there are only negations; for "A then B" every
    moment of those videos; never the reference clip or a near copy of it (with a change in words:
    never the same picture)."""
    k = max(100, options.limit * 10)
    query_vecs = wanted.query_vectors()
    cand: dict[int, Candidate] = {}
    for q in query_vecs:
        for c in store.nearest(q, k, video_ids):
            cand.setdefault(c.moment_id, c)
    if not query_vecs and wanted.said is None:
        ids = store.sample_moment_ids(4 * LIBRARY_SAMPLE, within=video_ids)
        cand = {c.moment_id: c for c in store.candidates({i: 0.0 for i in ids})}
    # moments found by what is said in them, the words they show and the names they are filed under
    found: set[int] = set()
    for text_query in wanted.text_queries:
        found |= candidate_ids(store, text_query, video_ids, query_vecs)
    for c in store.candidates({i: 0.0 for i in found - set(cand)}):
        cand[c.moment_id] = c
    if wanted.sequential:
        cand.update(_whole_videos(store, cand.values()))
    for mid in wanted.excluded:
        cand.pop(mid, None)
    moments = [c for c in cand.values() if c.available or options.include_offline]
    if not moments:
        return [], np.zeros((0, store.dim or 0), np.float32)
    mat = store.vectors([c.moment_id for c in moments])
    if wanted.ref_vec is not None:
        copy = SAME_PICTURE if wanted.edited else NEAR_DUPLICATE
        keep = (mat @ wanted.ref_vec) < copy  # copies of the reference are not results
        moments = [m for m, k_ in zip(moments, keep, strict=True) if k_]
        mat = mat[keep]
    return moments, mat


def _clause_scores(
    store: Store, wanted: _Wanted, mat: np.ndarray, explanation: Explanation | None
) -> tuple[np.ndarray, np.ndarray]:
    """(cosine, calibrated z) of each clause against each moment: rows are the positive clauses,
    the negated ones, then the whole sentence when it counts. A negated clause's z is zeroed where an
    alternative value of its attribute fits the moment clearly better (it shows that, not the
    excluded thing)."""
    from vidsearch.query import calibrate

    library = store.library_sample(LIBRARY_SAMPLE)
    whole = [wanted.whole_vec[None, :]] if wanted.whole_vec is not None else []
    all_q = np.concatenate([wanted.pos_vecs, wanted.neg_vecs, *whole])
    # In double precision: a float32 product's rounding depends on the matrix's shape, so the same moment
    # would score a little differently with a filter than without, and equal moments would trade places.
    sims = all_q.astype(np.float64) @ mat.T.astype(np.float64)
    z = calibrate(sims, all_q @ library.T)
    n_pos = len(wanted.pos_vecs)
    row = 0
    for i, alts in enumerate(wanted.alt_texts):
        if not alts:
            continue
        alt_best = (wanted.alt_vecs[row : row + len(alts)] @ mat.T).max(axis=0)
        z[n_pos + i] = np.where(alt_best > sims[n_pos + i] + CONTRAST_MARGIN, np.minimum(z[n_pos + i], 0.0),
                                z[n_pos + i])
        row += len(alts)
        if explanation is not None:
            shown = ", ".join(repr(a) for a in alts[:4]) + (", ..." if len(alts) > 4 else "")
            explanation.lines.append(f"{wanted.neg_texts[i]!r} counts only where it fits better than: {shown}")
    return sims, z


def _with_text(
    store: Store,
    wanted: _Wanted,
    moments: Sequence[Candidate],
    scores: np.ndarray | None,
    match: np.ndarray | None,
    penalty: np.ndarray | float,
    speech_scale: MatchScale | None,
    details: dict[int, Any] | None,
    explanation: Explanation | None,
) -> tuple[np.ndarray, np.ndarray | None, dict[int, str]]:
    """The pictures' scores and matches (None with --said alone) with the text side's evidence:
    what the query's words find joins the pictures' (``spoken.combine``); --said must be met as well,
    like one more clause (soft AND). Negated clauses cost the text side what they cost the pictures.
    Also returns the moments that the text side found rather than their pictures, with how
    (``"meaning"`` or ``"words"``), so their hits can be narrowed to the line said."""
    from vidsearch.query.score import soft_min

    heard: dict[int, str] = {}

    def weigh(query: SpokenQuery, pictures: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        evidence = text_evidence(store, query, moments, speech_scale)
        spoken, words = evidence.scores()
        spoken, words = spoken - penalty, words - penalty
        floor = pictures if pictures is not None else np.full(len(moments), -np.inf)
        for i, m in enumerate(moments):
            if max(spoken[i], words[i]) > floor[i]:
                heard.setdefault(m.moment_id, "meaning" if spoken[i] >= words[i] else "words")
            if details is not None:
                details.setdefault(m.moment_id, {})["said" if query.speech_only else "text"] = explain_text(evidence, i)
        return spoken, words, evidence.matches()

    if wanted.spoken is not None and scores is not None:
        spoken, words, text_match = weigh(wanted.spoken, scores)
        scores = combine([scores, spoken, words])
        if match is not None:
            match = np.maximum(match, text_match)
    if wanted.said is not None:
        spoken, words, said_match = weigh(wanted.said, None)
        said = combine([spoken, words])
        if scores is None:
            scores, match = said, said_match
        else:
            scores = soft_min(np.stack([scores, said]), axis=0)
            if match is not None:
                match = np.minimum(match, said_match)
    assert scores is not None  # a query without clauses has --said (find checks)
    if details is not None:
        for i, m in enumerate(moments):
            details.setdefault(m.moment_id, {})["score"] = float(scores[i])
    if explanation is not None and wanted.text_queries:
        explanation.lines.append("score: the best of pictures, speech and words, plus a share of the others")
    return scores, match, heard


def _said_words(wanted: _Wanted) -> str | None:
    """The words whose line a hit shows (what --said or the query says was said, else the query)."""
    query = wanted.said or wanted.spoken
    return query.text if query is not None else None


def _whole_weight(embedder: Embedder) -> float:
    # Each model says how far its reading of the whole sentence counts (``whole_query_weight``);
    # models that do not say (test embedders, plug-ins) rank by the clauses alone.
    return float(getattr(embedder, "whole_query_weight", 0.0))


def _spread(starts: np.ndarray) -> np.ndarray:
    return -starts / (1.0 + float(starts.max(initial=0.0)))


def _whole_videos(store: Store, candidates: Sequence[Candidate] | Any) -> dict[int, Candidate]:
    """Every moment of the videos among the candidates (an order query needs their neighbours)."""
    video_ids = sorted({c.video_id for c in candidates})[:200]
    ids = [m for v in video_ids for m, _, _ in store.moments_of(v)]
    return {c.moment_id: c for c in store.candidates({i: 0.0 for i in ids})}


def plain_find(store: Store, embedder: Embedder, text: str, limit: int = 10) -> list[Hit]:
    """The baseline vidsearch improves on: one vector for the whole query, nearest moments, merged.

    Kept for benchmarks and tests that measure what query understanding adds.
    """
    query = embedder.embed_queries([text])[0]
    return merge_adjacent(store.nearest(query, max(100, limit * 10)), margin=float("inf"))[:limit]
