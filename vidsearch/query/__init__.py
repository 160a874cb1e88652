"""Query understanding: parse what a person typed into clauses, and score moments against them.

``parse`` is pure Python; ``score`` needs numpy and is imported on first use of its names.
"""

from __future__ import annotations

from typing import Any

from vidsearch.errors import QueryError
from vidsearch.query.parse import Clause, ParsedQuery, explain, parse_query

# What vidsearch.query.score offers (its ``__all__`` is this list), served from here on first use.
_SCORE_NAMES = [
    "Combined",
    "ScoreParams",
    "calibrate",
    "combine",
    "combine_detailed",
    "compose",
    "is_near_duplicate",
    "near_duplicates",
    "sequence_matches",
    "soft_min",
]

__all__ = ["Clause", "ParsedQuery", "QueryError", "explain", "parse_query", *_SCORE_NAMES]


def __getattr__(name: str) -> Any:
    # numpy loads only when scoring is used, not when the CLI parses its arguments.
    if name in _SCORE_NAMES:
        from vidsearch.query import score

        return getattr(score, name)
    raise AttributeError(f"module 'vidsearch.query' has no attribute {name!r}")
