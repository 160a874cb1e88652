"""What a negated clause could have been instead: its alternatives within the same attribute.

"a beach without a sunny day" excludes sunny beaches, not beaches whose weather is talked about:
a clip reading "BEACH / RAIN STORM" is close to "sunny day" in a sentence space because both are
about the weather, yet it shows the opposite. So a moment counts as showing the excluded thing only
when the negated clause fits it better than each alternative made by swapping the clause's
attribute word for another value of the same attribute ("rainy day", "snowy day", "stormy day").

The attributes are closed sets of words people use for how a scene looks (weather, time of day,
light, season, colour, inside or out, who is in it); a clause without such a word has no
alternatives and is judged as before.
"""

from __future__ import annotations

import re

# Each tuple: values of one attribute that exclude each other. A word may sit in one family only.
FAMILIES: tuple[tuple[str, ...], ...] = (
    ("sunny", "rainy", "snowy", "stormy", "foggy", "cloudy", "overcast", "misty", "windy"),
    ("sunshine", "rain", "snow", "storm", "fog", "clouds", "mist", "wind"),
    ("day", "night", "evening", "morning", "dusk", "dawn"),
    ("daytime", "nighttime"),
    ("daylight", "darkness", "moonlight", "twilight"),
    ("sunset", "sunrise", "noon", "midnight"),
    ("bright", "dark", "dim"),
    ("summer", "winter", "autumn"),
    ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey", "gray",
     "gold", "golden", "silver"),
    ("indoors", "outdoors"),
    ("inside", "outside"),
    ("man", "woman", "boy", "girl", "child", "baby"),
    ("men", "women", "boys", "girls", "children"),
)
_FAMILY_OF = {word: family for family in FAMILIES for word in family}
_WORD = re.compile(r"[A-Za-z]+")
MAX_ALTERNATIVES = 16


def alternatives(clause: str, limit: int = MAX_ALTERNATIVES, keep: str = "") -> list[str]:
    """The clause with one attribute word swapped for each other value of its attribute.

    ``"a sunny day"`` -> ``["a rainy day", "a snowy day", ..., "a sunny night", ...]``; ``[]`` when the
    clause names no attribute value. At most ``limit``, taken round-robin over the clause's attribute
    words so each gets its share. Words inside ``keep`` (the subject of a negated predicate: "woman"
    in "woman smiling") are what the negation leaves alone, so they are never swapped.
    """
    at = clause.lower().find(keep.lower()) if keep else -1
    kept = range(at, at + len(keep)) if at >= 0 else range(0)
    per_word: list[list[str]] = []
    for match in _WORD.finditer(clause):
        word = match.group(0)
        family = _FAMILY_OF.get(word.lower())
        if family is None or match.start() in kept:
            continue
        swaps = []
        for other in family:
            if other == word.lower():
                continue
            value = other.capitalize() if word[0].isupper() else other
            swaps.append(clause[: match.start()] + value + clause[match.end() :])
        per_word.append(swaps)
    out: list[str] = []
    for round_ in range(max((len(s) for s in per_word), default=0)):
        for swaps in per_word:
            if round_ < len(swaps) and swaps[round_] not in out:
                out.append(swaps[round_])
    return out[:limit]
