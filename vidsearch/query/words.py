"""Exact words: how well the words of a query appear in what a moment says and shows, or in a file's
name, through the index's FTS5 tables (``vidsearch.store.textindex``).

A query's content words are its terms (function words and search filler such as "clip" are left
out). A moment's word score is the share of the query's terms it holds, each term weighted by how
rare it is in the library (BM25's inverse document frequency), lowered a little when the terms are
there but not together: 1.0 means every word, side by side ("happy birthday" in "Happy birthday,
grandpa!"), 0 none. FTS5 stems English and folds case and accents, so "birthdays" finds "Birthday".
BM25 itself only picks which moments to look at: its values are not comparable across queries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from vidsearch.store import Store

# Words that carry no content of their own in a search for words, and words that say what to search
# rather than what was said or shown ("the clip where ...").
STOPWORDS = frozenset(
    """a an the and or but of to in on at by for with from into onto over under about as is are was were be
    been being am do does did has have had it its this that these those there here then than so such
    i me my we us our you your he him his she her they them their who whom which what when where while
    how why all any some no not very just also too can could will would shall should may might must
    one ones someone somebody anyone anybody everyone everybody something anything
    clip clips video videos moment moments scene scenes footage film shot part bit time""".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")

# A word score when all the terms are in a moment but not near each other ("happy" in one sentence,
# "birthday" in another), against 1.0 when they are.
APART = 0.85
BEST_MOMENTS = 200  # moments looked at per query, by BM25
BEST_VIDEOS = 20  # videos looked at per query, by their names


def query_terms(text: str) -> list[str]:
    """The content words of ``text``, lowercased, each once, in order; all its words when it has
    nothing but function words ("to be or not to be")."""
    words = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in words if w not in STOPWORDS]
    return list(dict.fromkeys(kept or words))


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_any(terms: Sequence[str], columns: Sequence[str] = ()) -> str:
    """An FTS5 expression matching any of ``terms`` (in ``columns`` only, when given)."""
    body = " OR ".join(_quoted(t) for t in terms)
    return f"{{{' '.join(columns)}}} : ({body})" if columns else body


def fts_near(terms: Sequence[str], columns: Sequence[str] = ()) -> str:
    """An FTS5 expression matching all of ``terms`` close together (a few words between them at most)."""
    body = f"NEAR({' '.join(_quoted(t) for t in terms)}, {len(terms) + 2})"
    return f"{{{' '.join(columns)}}} : {body}" if columns else body


def _idf(matching: int, total: int) -> float:
    return math.log(1.0 + (total - matching + 0.5) / (matching + 0.5))


def _scores(
    terms: Sequence[str],
    columns: Sequence[str],
    candidates: list[int],
    matching: Callable[[str, list[int]], set[int]],
    frequency: Callable[[str], tuple[int, int]],
) -> dict[int, float]:
    """Word scores of ``candidates`` (see the module's notes) from the index's answers."""
    if not candidates:
        return {}
    weights = [_idf(*frequency(fts_any([t], columns))) for t in terms]
    total = sum(weights) or 1.0
    held = {c: 0.0 for c in candidates}
    for term, weight in zip(terms, weights, strict=True):
        for found in matching(fts_any([term], columns), candidates):
            held[found] += weight
    together = matching(fts_near(terms, columns), candidates) if len(terms) > 1 else set(candidates)
    return {c: (w / total) * (1.0 if c in together else APART) for c, w in held.items() if w > 0}


def moment_word_scores(
    store: Store,
    text: str,
    columns: Sequence[str] = ("speech", "screen"),
    video_ids: Sequence[int] | None = None,
    limit: int = BEST_MOMENTS,
    also: Sequence[int] = (),
) -> dict[int, float]:
    """{moment id: word score in (0, 1]} of the moments whose ``columns`` (speech, on-screen text)
    hold words of ``text``: the best ``limit`` by BM25 (inside ``video_ids`` when given), and those of
    the moments ``also`` that hold any."""
    terms = query_terms(text)
    if not terms or (video_ids is not None and not video_ids):
        return {}
    words = store.text
    candidates = words.best_moments(fts_any(terms, columns), limit, video_ids) if limit > 0 else []
    candidates = list(dict.fromkeys([*candidates, *also]))
    return _scores(terms, columns, candidates, words.moments_matching, words.moment_frequency)


def video_name_scores(
    store: Store,
    text: str,
    video_ids: Sequence[int] | None = None,
    limit: int = BEST_VIDEOS,
    also: Sequence[int] = (),
) -> dict[int, float]:
    """{video id: word score in (0, 1]} of the videos whose file and folder names hold words of
    ``text``: the best ``limit`` (inside ``video_ids``), and those of the videos ``also`` that do."""
    terms = query_terms(text)
    if not terms or (video_ids is not None and not video_ids):
        return {}
    words = store.text
    candidates = words.best_videos(fts_any(terms), limit, video_ids) if limit > 0 else []
    candidates = list(dict.fromkeys([*candidates, *also]))
    return _scores(terms, (), candidates, words.videos_matching, words.video_frequency)


def line_score(text: str, line: str) -> float:
    """How many of the content words of ``text`` the ``line`` holds (a share, by plain comparison of
    lowercased words and their first five letters): picks which line of a hit to show."""
    terms = query_terms(text)
    if not terms:
        return 0.0
    said = {w.lower()[:5] for w in _WORD.findall(line)}
    return sum(1 for t in terms if t[:5] in said) / len(terms)
