"""Helpers the commands share: opening the index, loading its model, talking to stderr."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vidsearch.errors import IndexMismatchError

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.store import Store


def warn(message: str) -> None:
    """One line on stderr (never stdout: stdout carries results only)."""
    print(message, file=sys.stderr, flush=True)


def open_store(db: Path | None, *, create: bool) -> Store:
    from vidsearch.store import Store

    return Store.open(db, create=create)


def model_for(store: Store, requested: str | None, device: str) -> tuple[str, str | None]:
    """The model an index command uses: the index's own, else the requested one, else auto's choice.

    Returns (model name, a note for stderr or None). Raises IndexMismatchError when the request
    disagrees with the index's model.
    """
    from vidsearch.device import pick_device
    from vidsearch.models import canonical_name, choose_auto

    bound = store.model
    if requested and requested.lower() != "auto":
        name = canonical_name(requested)
        if bound and bound != name:
            raise IndexMismatchError(
                f"the index {store.path} was built with model {bound!r}, not {name!r}. Leave --model out "
                f"to use {bound!r}, pass --rebuild to re-index everything with {name!r}, or use another "
                f"index with --db"
            )
        return name, None
    if bound:
        return bound, None
    name, why = choose_auto(pick_device(device))
    return name, why


def load_model(name: str, device: str, precision: str) -> Embedder:
    from vidsearch.models import load_embedder

    return load_embedder(name, device=device, precision=precision)
