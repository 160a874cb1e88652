"""vidsearch: search a personal video library by meaning, locally.

``vidsearch.Library`` is the library as a Python object (see ``vidsearch.library``).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The OCR and voice-activity models run on onnxruntime, whose Linux and macOS wheels otherwise keep a
# device id in the user's cache and queue usage events (the program's path among them) for upload to
# Microsoft. vidsearch runs locally; the variable must be set before onnxruntime starts, so it is set
# here, when anything of vidsearch is imported. A user who sets it to 0 keeps that choice.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from vidsearch.library import Found, Library

__all__ = ["Found", "Library", "__version__"]


def __getattr__(name: str) -> Any:
    # imported on first use, so `vidsearch --help` and shell completion stay instant
    if name in ("Library", "Found"):
        from vidsearch import library

        return getattr(library, name)
    raise AttributeError(f"module 'vidsearch' has no attribute {name!r}")
