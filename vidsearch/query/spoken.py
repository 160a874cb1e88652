"""The second way into a moment: what is said in it, the words it shows, and the names it is filed under.

A search weighs three kinds of evidence for each moment:

* **visual**: how well its pictures fit the query (``vidsearch.query.search``, a calibrated z-score);
* **spoken meaning**: how close what was said in it is to the query, by the model's own text
  embedding of its speech, calibrated like the visual score against a sample of the library's speech;
* **words**: how many of the query's words it says or shows, or its file and folder names hold
  (``vidsearch.query.words``), put on the same scale (every word, together: ``WORDS_Z``).

The combined score is the strongest of the three plus ``BOTH`` times what the others add above a
typical moment (``combine``), so either kind alone finds a moment and a moment with both ranks above
one with either. The match that decides whether anything is shown at all is the best of the
three kinds' matches, so a moment found by its words is not cut away for its pictures.

When the query says what is said ("someone says happy birthday", a quoted phrase), the spoken and
word sides look for that part ("happy birthday"); ``--said TEXT`` looks for TEXT in what was said
only, never in on-screen text, names or pictures.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vidsearch.embed.base import MatchScale
from vidsearch.query.words import line_score, moment_word_scores, video_name_scores
from vidsearch.store import Candidate, Store
from vidsearch.types import Hit

SPEECH_SAMPLE = 1000  # moments with speech used to calibrate the spoken meaning
MEANING_CANDIDATES = 100  # moments looked at per query for what was said, by meaning
NAMED_MOMENTS = 50  # moments looked at in the videos whose names hold the query's words
# Every word of the query, side by side, counts as a moment that stands out clearly (z 3, as far above
# a typical moment as a clear visual match); fewer words count less, quadratically, so that one word
# of a longer query ("dog" of "a dog on the beach" said in passing) does not outrank the pictures.
WORDS_Z = 3.0
# What the other kinds of evidence add to the strongest one, per calibrated unit above typical.
BOTH = 0.25
# Spoken meaning counts this much of its z when the query does not say it is about speech: a moment
# where someone talks about the beach is evidence for "a beach", weaker than one showing it.
UNSAID_WEIGHT = 0.8
LEAD = 1.0  # seconds kept before and after the line of a hit found by what was said in it

_QUOTED = re.compile(r"[\"“”«»„]([^\"“”«»„]{2,})[\"“”«»„]")
_SAYING = re.compile(
    r"\b(?:say|says|said|saying|sing|sings|sang|singing|shout|shouts|shouted|shouting|yell|yells|yelled|"
    r"yelling|scream|screams|screamed|screaming|whisper|whispers|whispered|whispering|ask|asks|asked|"
    r"asking|tell|tells|told|telling|explain|explains|explained|explaining|mention|mentions|mentioned|"
    r"mentioning|announce|announces|announced|announcing|(?:talk|talks|talked|talking|speak|speaks|spoke|"
    r"speaking)\s+(?:about|of)|(?:call|calls|called|calling|read|reads|reading)\s+out)\b[\s,:]*(?:that\s+)?",
    re.IGNORECASE,
)


def said_part(text: str) -> str | None:
    """What a query says was said: a quoted phrase, else the words after a verb of speech
    ("when grandpa says happy birthday" -> "happy birthday", "she explains the recipe" -> "the
    recipe"); None when it names nothing said."""
    quoted = _QUOTED.search(text)
    if quoted:
        return quoted.group(1).strip()
    saying = _SAYING.search(text)
    if saying is None:
        return None
    rest = text[saying.end() :].strip(" \t,.;:!?\"'")
    return rest or None


@dataclass(frozen=True, eq=False)
class SpokenQuery:
    """What the text side of a search looks for: ``text`` (its words) and ``vector`` (its meaning,
    embedded by the model like any query). ``speech_only`` (``--said``) leaves on-screen text and file
    names out; ``about_speech`` is True when the query said it is about something said (its words
    are then not looked for on screen)."""

    text: str
    vector: np.ndarray
    speech_only: bool = False
    about_speech: bool = False

    @property
    def columns(self) -> tuple[str, ...]:
        """Where its words are looked for in a moment: what was said, and what is shown on screen
        unless the query is about something said ("someone says happy birthday" is not a sign)."""
        return ("speech",) if self.speech_only or self.about_speech else ("speech", "screen")


def spoken_text(whole: str) -> tuple[str, bool]:
    """The words the text side looks for in a query (its said part, else all of it) and whether the
    query is about something said."""
    part = said_part(whole)
    return (part, True) if part else (whole, False)


def candidate_ids(
    store: Store,
    query: SpokenQuery,
    video_ids: Sequence[int] | None,
    looks: Sequence[np.ndarray] = (),
) -> set[int]:
    """Moments the text side finds for ``query``: the best by words, the closest by what was said,
    and, unless ``speech_only``, the moments of the videos whose names hold its words that look most
    like ``looks`` (the query's visual vectors; its meaning when there are none)."""
    found = set(moment_word_scores(store, query.text, query.columns, video_ids))
    found |= set(store.text.speech_nearest(query.vector, MEANING_CANDIDATES, video_ids))
    if not query.speech_only:
        named = sorted(video_name_scores(store, query.text, video_ids))
        if named:
            for vector in list(looks) or [query.vector]:
                found |= {c.moment_id for c in store.nearest(vector, NAMED_MOMENTS, named)}
    return found


@dataclass(frozen=True, eq=False)
class TextEvidence:
    """The text side's evidence for N moments, for one ``SpokenQuery``.

    ``spoken``: calibrated z of what was said (-inf where nothing was); ``spoken_match``: its match
    on the model's absolute scale (0 where nothing was said, None without a scale); ``words``: the
    word score of the moment's own words; ``names``: the word score of its file's names.
    """

    spoken: np.ndarray
    spoken_match: np.ndarray | None
    words: np.ndarray
    names: np.ndarray
    about_speech: bool

    def scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(spoken z, words z): both on the visual score's scale; -inf where there is no evidence."""
        spoken = self.spoken * (1.0 if self.about_speech else UNSAID_WEIGHT)
        best = np.maximum(self.words, self.names)
        return spoken, np.where(best > 0, WORDS_Z * best**2, -np.inf)

    def matches(self) -> np.ndarray:
        """The best match of the text side per moment: what was said, or every word found (half of
        the words count as no match, so one word of a longer query never decides alone)."""
        words = np.clip((np.maximum(self.words, self.names) - 0.5) / 0.5, 0.0, 1.0)
        return words if self.spoken_match is None else np.maximum(words, self.spoken_match)


def text_evidence(
    store: Store, query: SpokenQuery, moments: Sequence[Candidate], scale: MatchScale | None
) -> TextEvidence:
    """Weigh the text side of ``query`` for each of ``moments`` (see ``TextEvidence``)."""
    from vidsearch.query.score import calibrate

    ids = [m.moment_id for m in moments]
    n = len(ids)
    spoken = np.full(n, -np.inf)
    spoken_match = np.zeros(n) if scale is not None else None
    said = store.text.speech_vectors(ids)
    if said:
        rows = [i for i, mid in enumerate(ids) if mid in said]
        cosine = np.stack([said[ids[i]] for i in rows]) @ query.vector
        sample = store.text.speech_sample(SPEECH_SAMPLE)
        spoken[rows] = calibrate(cosine, sample @ query.vector if len(sample) else cosine)
        if spoken_match is not None and scale is not None:
            spoken_match[rows] = scale.of(cosine)
    word_scores = moment_word_scores(store, query.text, query.columns, None, limit=0, also=ids)
    words = np.array([word_scores.get(mid, 0.0) for mid in ids])
    names = np.zeros(n)
    if not query.speech_only:
        videos = sorted({m.video_id for m in moments})
        named = video_name_scores(store, query.text, None, limit=0, also=videos)
        names = np.array([named.get(m.video_id, 0.0) for m in moments])
    return TextEvidence(spoken, spoken_match, words, names, query.about_speech)


def combine(parts: Sequence[np.ndarray]) -> np.ndarray:
    """One score per moment from several kinds of evidence (rows, each (N,), -inf where absent): the
    strongest, plus ``BOTH`` times what the others add above a typical moment (z 0)."""
    stacked = np.stack([np.asarray(p, dtype=np.float64) for p in parts])
    best = stacked.max(axis=0)
    above = np.where(np.isfinite(stacked), np.maximum(stacked, 0.0), 0.0)
    return best + BOTH * (above.sum(axis=0) - np.maximum(best, 0.0))


def explain_text(evidence: TextEvidence, i: int) -> dict[str, Any]:
    """One moment's text-side figures for ``--explain``."""
    spoken, words = evidence.scores()
    out: dict[str, Any] = {
        "spoken": round(float(spoken[i]), 3) if np.isfinite(spoken[i]) else None,
        "words": round(float(evidence.words[i]), 3),
        "names": round(float(evidence.names[i]), 3),
        "words_z": round(float(words[i]), 3) if np.isfinite(words[i]) else None,
    }
    if evidence.spoken_match is not None:
        out["spoken_match"] = round(float(evidence.spoken_match[i]), 3)
    return out


def with_speech_lines(store: Store, hits: Sequence[Hit], text: str | None, heard: dict[int, str]) -> list[Hit]:
    """Each hit with the line said during it (``details["speech"]``: text, start, end): the one that
    holds most of ``text``'s words, else the first. A hit that was found by what was said in it
    (``heard``: moment id -> ``"meaning"`` or ``"words"``, from the search) is narrowed to that line,
    with ``LEAD`` seconds around it, so it starts where the words are said. Hits where nothing was
    said are unchanged."""
    out = []
    for hit in hits:
        lines = store.text.lines(hit.video_id, hit.start, hit.end)
        if not lines:
            out.append(hit)
            continue
        best = max(lines, key=lambda line: line_score(text, line.text) if text else 0.0)  # the first on a tie
        speech = {"text": best.text, "start": round(best.start, 3), "end": round(best.end, 3)}
        start, end = hit.start, hit.end
        how = {heard[m] for m in hit.moment_ids if m in heard}
        if "meaning" in how or ("words" in how and text and line_score(text, best.text) > 0):
            start, end = max(hit.start, best.start - LEAD), min(hit.end, best.end + LEAD)
        out.append(Hit(hit.path, start, end, hit.score, hit.video_id, hit.moment_ids, hit.available,
                       {**hit.details, "speech": speech}))  # fmt: skip
    return out
