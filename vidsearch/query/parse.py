"""Turn what a person types into clauses: what must be in the moment, what must not, and in which order.

``parse_query("kids at the beach without the dog")`` gives a positive clause "kids at the beach" and a
negated clause "dog". The embedder embeds each clause text on its own and ``score`` combines the
similarities, because one vector for the whole sentence ranks "beach with a dog" near the top.

Readings chosen on purpose (the tests pin them):

* A negated predicate is kept together with what it describes: "a street that is not wet" gives the
  positive "a street" and the negated "wet street"; "man isn't wearing a hat" gives "man" and
  "man wearing a hat". A bare "wet" or "wearing a hat" embeds to something vague; the joined text
  names the exact picture to push down, and the positive clause still finds the street.
* A negated object is kept alone, without its article or preposition: "without the dog" -> "dog",
  "except on the sofa" -> "sofa", "no rain" -> "rain".
* "nobody" / "no one" mean "no person": "nobody on the beach" -> positive "beach", negated "person".
* "nothing but blue sky" means "only blue sky": one positive clause "blue sky"; "anything but cats"
  excludes cats.
* "B after A", "after A, B" and "A before B" are "A, then B" when what follows "after" or "before"
  reads as something happening ("after the cake is cut, people clap"); "kids playing after school",
  "a street after the rain" and "a knight kneels before the ruins" say when, in which state or where
  and stay one clause.
* A later step that names only an action takes the subject of the step before it: "the door opens,
  then closes" -> "the door opens", "the door closes" ("closes" alone names no picture).
* A negated predicate's subject is kept apart (``Clause.kept``): in "woman smiling" from "a woman who
  is not smiling" the negation is about smiling, so only that may be contrasted with other values.
* A query made only of negations ("not cats", "no people") is valid and has no positives; the caller
  ranks everything by pushing those down.
* Text in scripts other than Latin is passed through unchanged as one positive clause: the model may
  understand it, this parser does not.
* Negations apply to the whole query whatever step they were written in; a clause's ``step`` is where
  it was written, ``steps`` holds only positives.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from vidsearch.errors import QueryError

__all__ = ["Clause", "ParsedQuery", "QueryError", "explain", "parse_query"]


@dataclass(frozen=True)
class Clause:
    """One thing to look for (or to avoid, when ``negated``) at position ``step`` of a sequence."""

    text: str
    negated: bool
    step: int
    # In a negated clause, the words the negation does not touch: the subject joined to a negated
    # predicate ("man" in "man wearing a hat" from "man isn't wearing a hat").
    kept: str = ""


@dataclass(frozen=True)
class ParsedQuery:
    """A query split into clauses.

    ``whole`` is the query with the negated parts removed, for models that read one sentence.
    ``sequential`` is True when the positives come in more than one step ("A, then B").
    """

    original: str
    clauses: tuple[Clause, ...]
    sequential: bool
    whole: str

    @property
    def positives(self) -> list[Clause]:
        return [c for c in self.clauses if not c.negated]

    @property
    def negatives(self) -> list[Clause]:
        return [c for c in self.clauses if c.negated]

    @property
    def steps(self) -> list[list[Clause]]:
        """Positive clauses grouped by step, in order (one inner list per step, none empty)."""
        count = max((c.step for c in self.positives), default=-1) + 1
        return [[c for c in self.positives if c.step == s] for s in range(count)]


# --- word lists -------------------------------------------------------------------------------------

_FLAGS = re.IGNORECASE

# Filler that says "search for" rather than what to search for; stripped from the start of a clause.
_FILLER = re.compile(
    r"^(?:(?:but|please|can you|could you|i want to see|i want|i'm looking for|im looking for|i am looking for"
    r"|show me|show|find me|find|search for|search|look for|looking for|get me|give me"
    r"|only|all|any|some|the|a|an|videos?|clips?|footage|scenes?|moments?|part|bit|shots? of"
    r"|of|with|where|when|in which|that shows?|showing)\b[\s:]*)+",
    _FLAGS,
)
# Only strip the filler above when it reached a real filler word, not just articles ("a street").
_FILLER_WORDS = re.compile(
    r"\b(?:but|please|can you|could you|want|only|looking|show|showing|shows|find|search|look|get me|give me"
    r"|videos?|clips?|footage|scenes?|moments?|part|bit|shots|where|when|in which)\b",
    _FLAGS,
)
# A clause that only says "anything" carries no constraint ("everything except cats").
_EMPTY_CLAUSE = re.compile(r"^(?:everything|anything|something|all|stuff|whatever|any|all of it)$", _FLAGS)

# Step markers that can stand anywhere between two parts.
_STEP_SPLIT = re.compile(
    r"\b(?:and\s+then|then|and\s+after\s+that|after\s+that|afterwards|afterward|after\s+which"
    r"|followed\s+by|and\s+later|and\s+finally|subsequently)\b",
    _FLAGS,
)
# Step markers that only count at the start of a comma-separated part (", later a man leaves").
_STEP_START = re.compile(
    r"^(?:later(?:\s+on)?|next(?!\s+to\b)|finally|eventually|in\s+the\s+end|at\s+the\s+end)\b", _FLAGS
)
# "first" only counts as a step word before a subject ("first she ..."), not in "first day of school".
_FIRST = re.compile(
    r"^(?:at\s+first|first\s+of\s+all|firstly|to\s+begin\s+with|initially"
    r"|first(?=\s+(?:the|a|an|she|he|they|we|i|you|someone|somebody|people|everyone|it|my|our)\b|\s*$))\b[\s,]*",
    _FLAGS,
)

# Conjunctions that start a new clause; the word is dropped ("with" keeps meaning "has" in ``whole``).
_CONJ_SPLIT = re.compile(r"\s+(and|but|while|whereas|with)\s+", _FLAGS)
# Negators that start a new clause; they stay in the clause text so its polarity can be read.
_NEG_SPLIT = re.compile(
    r"\s+(?=(?:without|w/o|except|excluding|other\s+than|apart\s+from|aside\s+from|minus|not\s+including"
    r"|instead\s+of|rather\s+than)\b)",
    _FLAGS,
)
# Fixed phrases whose "and" must not split ("black and white footage").
_IDIOMS = re.compile(
    r"\b(?:black and white|rock and roll|salt and pepper|fish and chips|mac and cheese|back and forth"
    r"|up and down|in and out|on and off|bread and butter|arts and crafts|hide and seek|pros and cons"
    r"|trial and error|ladies and gentlemen|raining cats and dogs|before and after|after and before)\b",
    _FLAGS,
)

# "after A, B" and "before B, A" at the start of a query, "B after A" and "A before B" inside a part:
# A happens first. Only when the words after "before" or "after" read as something happening (a few
# words with a verb): "after dark", "after school", "a street after the rain" or "sunset after a rainy
# day" say when or in which state, not what happened before.
_LEADING_AFTER = re.compile(r"^after\s+(?P<first>[^,;]+?)\s*[,;]\s*(?P<rest>.+)$", _FLAGS)
_LEADING_BEFORE = re.compile(r"^before\s+(?P<later>[^,;]+?)\s*[,;]\s*(?P<first>[^,;]+)(?P<rest>.*)$", _FLAGS)
_MID_ORDER = re.compile(
    r"^(?P<left>.+?)(?:\s+(?:right|just|shortly|soon|immediately|straight|long))?\s+(?P<word>after|before)"
    r"\s+(?P<right>.+)$",
    _FLAGS,
)
_EVENT_WORDS = 3
# Something happening, roughly: a subject pronoun first ("she leaves the room") or an auxiliary ("the
# cake is cut"); after "after", also a noun and a verb in -s or -ed ("the doorbell rings"). A noun
# phrase ("before a marble arch with a floating sphere", "before the ancient ruins": in front of
# them) is not.
_EVENT = re.compile(
    r"^(?:she|he|they|it|we|i|you|someone|somebody|everyone|everybody|people)\b"
    r"|\b(?:is|are|was|were|gets|get|got|has|have|had|does|did)\b",
    _FLAGS,
)
_NOUN_VERB = re.compile(r"^(?:the|a|an|his|her|their|my|our|its)\s+[\w-]+\s+\w{2,}(?:s|ed)\b", _FLAGS)

# Actions a later step often names alone when it shares the earlier step's subject ("the door opens,
# then closes"): alone, the step names no picture, so the subject is carried over.
_ACTIONS = frozenset(
    "open close smile laugh leave jump run fall stop start walk sit stand turn wave eat drink cry sing "
    "dance come go enter exit get pick put drop throw catch kick hit hug kiss look clap cheer bow nod "
    "blow cut light rise set slow speed return disappear appear land take fly swim dive climb wake sleep "
    "lie roll spin shake pour melt break explode end begin move push pull lift wipe wash fill empty "
    "grab hold hand pass talk speak shout scream whisper point reach touch bite chew lick bark".split()
)
# What follows an action that has no subject of its own ("closes it", "jumps in", "blows out the
# candles"); "lights flicker" or "waves crash" start with a noun instead.
_AFTER_ACTION = frozenset(
    "it them him her me us in out up down back away again off on over around through along to into "
    "onto with at from the a an his their its my our your some slowly quickly together too".split()
)

_NOBODY = re.compile(r"^(?:nobody|no\s+one|no-one|noone|not\s+anyone|not\s+a\s+soul)\b\s*", _FLAGS)
_NOTHING_BUT = re.compile(r"\bnothing\s+(?:but|except|other\s+than)\b", _FLAGS)
# "anything but cats" excludes cats (where a plain "but" would join a second thing to look for).
_ANYTHING_BUT = re.compile(r"\b(anything|everything)\s+but\b", _FLAGS)
# A clause that starts with one of these is negated as a whole.
_LEADING_NEG = re.compile(
    r"^(?:(?:i\s+)?(?:do\s+not|don't|dont|never)\s+(?:want|show|include|need)(?:\s+(?:to\s+see|me|any|to))*"
    r"|without|w/o|except(?:\s+for)?|excluding|other\s+than|apart\s+from|aside\s+from|minus|not\s+including"
    r"|instead\s+of|rather\s+than|but\s+not|and\s+not|none\s+of|neither|nor|not\s+any|no|none|never|not"
    r"|isn't|aren't|wasn't|weren't|doesn't|don't|didn't|hasn't|haven't|isnt|arent|wasnt|doesnt|didnt"
    r"|is\s+not|are\s+not|was\s+not|were\s+not|does\s+not|do\s+not|did\s+not)\b\s*",
    _FLAGS,
)
_COPULA_NEG = (
    r"(?:(?:is|are|was|were|be|been|'s|'re)\s+(?:not|neither)|isn't|aren't|wasn't|weren't|ain't|isnt|arent|wasnt"
    r"|weren't|not)"
)
_OTHER_NEG = (
    r"(?:(?:does|do|did|has|have|had|can|could|will|would|should)\s+not|doesn't|don't|didn't|hasn't"
    r"|haven't|can't|cannot|won't|wouldn't|shouldn't|couldn't|doesnt|dont|didnt|never)"
)
# "SUBJECT (that|which|who)? NEG PREDICATE" inside a clause.
_PREDICATE_NEG = re.compile(
    rf"^(?P<subj>.+?)\s+(?:(?:that|which|who)\s+)?(?:(?P<cop>{_COPULA_NEG})|{_OTHER_NEG})\s+(?P<pred>.+)$",
    _FLAGS,
)
# "SUBJECT (has|with|there is)? no OBJECT" inside a clause.
_MID_NO = re.compile(
    r"^(?P<subj>.*?)\s*\b(?:(?:has|have|had|with|there\s+(?:is|are|was|were))\s+)?no\s+(?P<obj>.+)$",
    _FLAGS,
)
# Subjects that carry nothing to look for.
_EMPTY_SUBJECT = re.compile(
    r"^(?:it|there|this|that|these|those|it's|there's|there\s+(?:is|are|was|were)|it\s+(?:is|was))$",
    _FLAGS,
)
_DETERMINER = re.compile(r"^(?:(?:the|a|an|any|some|more|of)\s+)+", _FLAGS)
_PREPOSITION = re.compile(
    r"^(?:(?:on|in|at|inside|near|by|around|under|over|into|onto|from|for|of|with|having|wearing|being"
    r"|is|are|was|were)\s+)+",
    _FLAGS,
)
_ORSPLIT = re.compile(r"\s+(?:or|nor|and|,)\s+|\s*,\s*", _FLAGS)

# rclip-style explicit clauses: +word, -word, +"two words", -"two words".
_EXPLICIT = re.compile(r'(?<!\S)(?P<sign>[+-])(?:"(?P<quoted>[^"]*)"|(?P<word>[^\s"]+))')
_TRIM = " \t.,;:!?\"'`()[]{}"
# Sentinels: the input has its control characters removed first, so these cannot collide with it.
_SLOT = "\x00"
_GLUE = "\x01"


def _clean(text: str) -> str:
    """Remove control characters, unify apostrophes and collapse whitespace."""
    chars = []
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            chars.append(" " if ch in "\t\n\r\x0b\x0c" else "")
        else:
            chars.append(ch)
    return " ".join("".join(chars).replace("\u2019", "'").replace("\u2018", "'").split())


def _tidy(text: str) -> str:
    """Trim punctuation and spaces at the ends and restore glued idioms."""
    return " ".join(text.replace(_GLUE, " ").split()).strip(_TRIM).strip()


def _strip_filler(text: str) -> str:
    match = _FILLER.match(text)
    if match and _FILLER_WORDS.search(match.group(0)):
        text = text[match.end() :]
    return _tidy(text)


def _negated_text(text: str) -> str:
    """The thing being excluded, without article or preposition ("on the sofa" -> "sofa")."""
    text = _strip_filler(text)
    previous = None
    while previous != text:
        previous = text
        text = _tidy(_DETERMINER.sub("", _PREPOSITION.sub("", text)))
    return text


def _join_subject(subject: str, predicate: str, copula: bool) -> str:
    """Join a subject and its negated predicate: adjectives go first ("wet street")."""
    subject = _tidy(_DETERMINER.sub("", subject))
    predicate = _tidy(predicate)
    words = predicate.split()
    if copula and len(words) == 1 and not words[0].lower().endswith("ing"):
        return f"{predicate} {subject}"
    return f"{subject} {predicate}"


@dataclass
class _Part:
    text: str
    negated: bool
    step: int
    joiner: str  # the word that linked it to the previous positive part, for ``whole``
    kept: str = ""  # see ``Clause.kept``


def _read_chunk(chunk: str, step: int, joiner: str) -> list[_Part]:
    """Read the polarity of one clause-sized chunk; may give a positive and a negated part."""
    chunk = _strip_filler(chunk)
    if not chunk:
        return []

    nobody = _NOBODY.match(chunk)
    if nobody:
        rest = _tidy(chunk[nobody.end() :])
        rest = _tidy(re.sub(r"^(?:is|are|was|were)\s+", "", rest, flags=_FLAGS))
        if not rest:
            return [_Part("person", True, step, joiner)]
        place = _PREPOSITION.match(rest)
        if place and not re.match(r"^(?:is|are|was|were|wearing|having|being|with)\b", rest, _FLAGS):
            return [
                _Part(_negated_text(rest), False, step, joiner),
                _Part("person", True, step, joiner),
            ]
        return [_Part(f"person {rest}", True, step, joiner)]

    leading = _LEADING_NEG.match(chunk)
    if leading and leading.end() > 0:
        rest = chunk[leading.end() :]
        pieces = [_negated_text(p) for p in _ORSPLIT.split(rest)]
        return [_Part(p, True, step, joiner) for p in pieces if p]

    predicate = _PREDICATE_NEG.match(chunk)
    if predicate:
        subject = _tidy(predicate.group("subj"))
        pred = _tidy(predicate.group("pred"))
        parts: list[_Part] = []
        if _EMPTY_SUBJECT.match(subject):
            negated = _negated_text(pred) if predicate.group("cop") else pred
            if negated:
                parts.append(_Part(negated, True, step, joiner))
            return parts
        parts.append(_Part(subject, False, step, joiner))
        kept = _tidy(_DETERMINER.sub("", subject))
        copula = bool(predicate.group("cop"))
        # "not red or blue", "neither red nor blue": each value on its own ("red car", "blue car");
        # longer predicates stay whole ("wearing a hat or glasses")
        values = [_tidy(v) for v in _ORSPLIT.split(pred)]
        if not (copula and len(values) > 1 and all(len(v.split()) == 1 for v in values)):
            values = [pred]
        for value in values:
            if value:
                parts.append(_Part(_join_subject(subject, value, copula=copula), True, step, joiner, kept=kept))
        return parts

    mid_no = _MID_NO.match(chunk)
    if mid_no:
        subject = _tidy(mid_no.group("subj"))
        parts = []
        if subject and not _EMPTY_SUBJECT.match(subject):
            parts.append(_Part(subject, False, step, joiner))
        parts.extend(_Part(_negated_text(p), True, step, joiner) for p in _ORSPLIT.split(mid_no.group("obj")))
        return [p for p in parts if p.text]

    if _EMPTY_CLAUSE.match(chunk):
        return []
    return [_Part(chunk, False, step, joiner)]


def parse_query(text: str, extra_not: Sequence[str] = (), max_chars: int = 1000) -> ParsedQuery:
    """Split ``text`` into positive and negated clauses with their order in a sequence.

    ``extra_not`` are texts given with ``--not``; each becomes a negated clause as written.
    Raises ``QueryError`` when the query is empty (and there is no ``--not``), longer than
    ``max_chars`` characters, or has nothing left to search for once filler words are removed.
    A query with only negated clauses is returned as is (no positives).
    """
    if len(text) > max_chars:
        raise QueryError(
            f"the query is {len(text)} characters long; the limit is {max_chars}. "
            "Shorten it to the few things the moment must show."
        )
    cleaned = _clean(text)
    nots = [_tidy(_clean(t)) for t in extra_not]
    for given, got in zip(extra_not, nots, strict=True):
        if not got:
            raise QueryError(f"--not needs a text to exclude (got {given!r})")
        if len(given) > max_chars:
            raise QueryError(f"a --not text is {len(given)} characters long; the limit is {max_chars}.")
    if not cleaned and not nots:
        raise QueryError("the query is empty: say what the moment shows, e.g. 'a dog jumping into a lake'")

    # Explicit +term/-term become slots, so the natural text around them splits at their place.
    explicit: list[tuple[str, bool]] = []

    def take(match: re.Match[str]) -> str:
        word = match.group("quoted") if match.group("quoted") is not None else match.group("word")
        explicit.append((_tidy(word), match.group("sign") == "-"))
        return f", {_SLOT}{len(explicit) - 1}{_SLOT} ,"

    body = _EXPLICIT.sub(take, cleaned)
    body = _NOTHING_BUT.sub(" ", body)
    body = _ANYTHING_BUT.sub(r"\1 except", body)
    body = _IDIOMS.sub(lambda m: m.group(0).replace(" ", _GLUE), body)
    body = _in_order(body)

    parts: list[_Part] = []
    step = 0
    for comma_part in re.split(r"\s*[,;]+\s*", body):
        pieces = _STEP_SPLIT.split(comma_part)
        for index, piece in enumerate(pieces):
            piece = piece.strip()
            starts_step = index > 0
            marker = _STEP_START.match(piece)
            if marker:
                piece = piece[marker.end() :].strip(" ,")
                starts_step = True
            if starts_step and any(p.step == step and not p.negated for p in parts):
                step += 1
            if not piece:
                continue
            slot = re.fullmatch(rf"{_SLOT}(\d+){_SLOT}", piece)
            if slot:
                word, negated = explicit[int(slot.group(1))]
                if word:
                    parts.append(_Part(word, negated, step, ","))
                continue
            chunks = _CONJ_SPLIT.split(piece)
            # re.split with one group alternates: chunk, joiner, chunk, joiner, ...
            joiner = ","
            for position, chunk in enumerate(chunks):
                if position % 2 == 1:
                    joiner = chunk.lower()
                    continue
                for sub_index, sub in enumerate(_NEG_SPLIT.split(chunk)):
                    parts.extend(_read_chunk(sub, step, joiner if sub_index == 0 else ","))
                joiner = ","

    parts.extend(_Part(t, True, 0, ",") for t in nots)
    parts = [p for p in parts if p.text]
    if not parts:
        raise QueryError(f"nothing to search for in {text!r} once filler words are removed")

    if max((p.step for p in parts if not p.negated), default=0) > 0:
        # In a sequence, "first ..." only says which step comes first.
        for part in parts:
            if part.step == 0 and not part.negated:
                part.text = _tidy(_FIRST.sub("", part.text))
        parts = [p for p in parts if p.text]
        _carry_subjects(parts)

    clauses = _renumber(parts)
    return ParsedQuery(
        original=text,
        clauses=clauses,
        sequential=max((c.step for c in clauses if not c.negated), default=0) > 0,
        whole=_whole(parts),
    )


def _is_event(text: str, after: bool = True) -> bool:
    text = text.strip()
    if len(text.split()) < _EVENT_WORDS:
        return False
    return _EVENT.search(text) is not None or (after and _NOUN_VERB.search(text) is not None)


def _in_order(body: str) -> str:
    """Rewrite "before" and "after" between two events as "A, then B" (A happening first)."""
    leading = _LEADING_AFTER.match(body)
    if leading and _is_event(leading.group("first")):
        return f"{leading.group('first')}, then {_in_order(leading.group('rest'))}"
    leading = _LEADING_BEFORE.match(body)
    if leading and _is_event(leading.group("later"), after=False):
        return f"{leading.group('first')}, then {leading.group('later')}{leading.group('rest')}"
    out = []
    for part in re.split(r"(\s*[,;]+\s*)", body):
        mid = _MID_ORDER.match(part)
        if mid and not re.search(r"\b(?:that|which|then)$", mid.group("left"), _FLAGS):
            left, right = mid.group("left"), mid.group("right")
            if mid.group("word").lower() == "after" and _is_event(right):
                part = f"{right} then {left}"
            elif mid.group("word").lower() == "before" and _is_event(right, after=False):
                part = f"{left} then {right}"
        out.append(part)
    return "".join(out)


def _action(word: str) -> bool:
    """Whether ``word`` is one of ``_ACTIONS`` in any of its forms (opens, closes, closing, cries)."""
    w = word.lower()
    stems = {w, w[:-1], w[:-2], w[:-3], w[:-3] + "e", w[:-3] + "y" if w.endswith("ies") else ""}
    if w.endswith("ing") and len(w) > 5 and w[-4] == w[-5]:
        stems.add(w[:-4])  # running, cutting
    return bool(stems & _ACTIONS)


def _subject(text: str) -> str | None:
    """The words before the clause's action ("the door" in "the door opens"), when short. A word
    right after a determiner is the subject's noun even when it can be an action too ("the light
    turns on", "a hand waves")."""
    words = text.split()
    for i, word in enumerate(words[1:5], start=1):
        if _action(word) and not _DETERMINER.fullmatch(" ".join(words[:i]) + " "):
            return " ".join(words[:i])
    return None


def _carry_subjects(parts: list[_Part]) -> None:
    """A step that starts with an action and names no subject takes the one of the step before it
    ("the door opens, then closes" -> "the door closes")."""
    previous: _Part | None = None
    for part in parts:
        if part.negated:
            continue
        words = part.text.split()
        alone = words and _action(words[0]) and (len(words) == 1 or words[1].lower() in _AFTER_ACTION)
        if previous is not None and part.step > previous.step and alone:
            subject = _subject(previous.text)
            if subject is not None:
                part.text = f"{subject} {part.text}"
        previous = part


def _renumber(parts: list[_Part]) -> tuple[Clause, ...]:
    """Number positive steps 0..k-1 without gaps (in place on ``parts``); drop repeated clauses."""
    positive_steps = sorted({p.step for p in parts if not p.negated})
    new_step = {old: new for new, old in enumerate(positive_steps)}
    seen: set[tuple[str, bool, int]] = set()
    clauses = []
    for part in parts:
        key = (part.text.lower(), part.negated, part.step)
        if key in seen:
            part.text = ""  # a repeat: also left out of ``whole``
            continue
        seen.add(key)
        # A negation written in a step with no positive belongs to the last step before it.
        earlier = [new for old, new in new_step.items() if old <= part.step]
        part.step = new_step.get(part.step, max(earlier, default=0))
        clauses.append(Clause(part.text, part.negated, part.step, part.kept))
    return tuple(clauses)


def _whole(parts: list[_Part]) -> str:
    """The positive clauses as one sentence, joined by the words the user used between them."""
    out: list[str] = []
    last_step = None
    for part in parts:
        if part.negated or not part.text:
            continue
        if out and last_step is not None and part.step != last_step:
            out.append(", then ")
        elif out:
            out.append(", " if part.joiner == "," else f" {part.joiner} ")
        out.append(part.text)
        last_step = part.step
    return "".join(out)


def explain(pq: ParsedQuery) -> list[str]:
    """Lines that say how the query was understood, one per clause, for ``find --explain``."""
    lines = [f"query: {pq.original!r}"]
    if not pq.positives:
        lines.append("no positive clause: every moment is a candidate; the negated ones are pushed down")
    for clause in pq.clauses:
        polarity = "must NOT show" if clause.negated else "must show"
        where = f"step {clause.step + 1}: " if pq.sequential and not clause.negated else ""
        lines.append(f"  {where}{polarity}: {clause.text!r}")
    if pq.sequential:
        lines.append(f"order: {len(pq.steps)} steps, each after the one before it in the same video")
    return lines  # search adds the whole sentence's share when it uses it
