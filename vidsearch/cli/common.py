"""Helpers the commands share: opening the library, talking to stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vidsearch.library import Library


def warn(message: str) -> None:
    """One line on stderr (never stdout: stdout carries results only)."""
    print(message, file=sys.stderr, flush=True)


def open_library(
    db: Path | None,
    *,
    create: bool,
    model: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    set_aside_damaged: bool = False,
) -> Library:
    """The library at ``--db`` (or the default index), with the model options a command was given
    (``set_aside_damaged``: see ``vidsearch.Library.open``)."""
    from vidsearch.library import Library

    return Library.open(
        db, create=create, model=model, device=device, precision=precision, set_aside_damaged=set_aside_damaged
    )
