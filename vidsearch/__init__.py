"""vidsearch: search a personal video library by meaning, locally.

``vidsearch.Library`` is the library as a Python object (see ``vidsearch.library``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from vidsearch.library import Found, Library

__all__ = ["Found", "Library", "__version__"]


def __getattr__(name: str) -> Any:
    # imported on first use, so `vidsearch --help` and shell completion stay instant
    if name in ("Library", "Found"):
        from vidsearch import library

        return getattr(library, name)
    raise AttributeError(f"module 'vidsearch' has no attribute {name!r}")
