"""`vidsearch index PATH...`: register folders as library roots and bring the index up to date."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidsearch.cli.common import model_for, open_store, warn
from vidsearch.cli.options import DbOption, DeviceOption, ModelOption, PrecisionOption, complete_root

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.index.indexer import IndexStats


def index(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Folders (or single files) to index; they become library roots.",
            show_default=False,
            autocompletion=complete_root,
        ),
    ] = [],  # noqa: B006 (typer needs a literal default)
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Forget all vectors and re-index with the chosen model.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and the summary.")] = False,
    exit_layer: Annotated[
        int | None,
        typer.Option(
            "--exit-layer",
            help="Multimodal models only: read embeddings at this decoder layer and stop there (faster; "
            "check agreement first with `vidsearch models --check-exit K`). Fixed for the index.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Index every video under PATHS (recursively). Running it again does only what changed.

    With no PATHS, re-checks every library root already registered.
    """
    from vidsearch.errors import UsageError
    from vidsearch.index.indexer import update_index
    from vidsearch.store import writer_lock

    for p in paths:
        if not p.exists():
            raise UsageError(f"no such file or folder: {p}")
    if not paths:
        from vidsearch.store import default_db_path

        if not (db or default_db_path()).exists():  # nothing registered yet: don't leave an empty index
            raise UsageError("nothing to index: give a folder, e.g. vidsearch index ~/Videos")
    with open_store(db, create=True) as store:
        with writer_lock(store.path):
            if rebuild:
                store.reset_vectors()
            roots = [str(p) for p in paths] or [r for _, r, _ in store.roots()]
            if not roots:
                raise UsageError("nothing to index: give a folder, e.g. vidsearch index ~/Videos")
            requested = model
            if exit_layer is not None:
                if not model or model in ("auto", "lite"):
                    raise UsageError("--exit-layer needs a multimodal model, e.g. --model qwen3-vl-2b --exit-layer 14")
                from vidsearch.models import canonical_name

                requested = f"{canonical_name(model)}:exit{exit_layer}"
            name, why = model_for(store, requested, device)
            if why:
                warn(why)
            from vidsearch.cli.common import load_model
            from vidsearch.cli.progress import IndexBar

            loaded: list[Embedder] = []

            def get_embedder() -> Embedder:
                loaded.append(load_model(name, device, precision))
                return loaded[-1]

            try:
                with IndexBar(quiet=quiet) as bar:
                    stats = update_index(store, roots, get_embedder, bar, model_name=name)
            finally:
                for embedder in loaded:  # the model is released as soon as indexing ends
                    embedder.close()
            if stats.indexed or stats.removed or stats.moved:
                store.refresh_search_index()  # so the first find after a big import does not pay for it
            _summary(stats, store.model or name)


def _summary(stats: IndexStats, model: str) -> None:
    """The one-screen report of a run, on stderr."""
    from vidsearch.output.present import display_path

    speed = f", {stats.video_seconds / stats.elapsed:.1f}x realtime" if stats.video_seconds and stats.elapsed else ""
    warn(
        f"indexed {stats.indexed} new or changed file(s) ({stats.moments} moments, "
        f"{stats.video_seconds / 60:.1f} min of video{speed}) in {stats.elapsed:.1f} s with {model}"
    )
    parts = [f"{stats.unchanged} unchanged"]
    if stats.moved:
        parts.append(f"{stats.moved} moved (vectors kept)")
    if stats.removed:
        parts.append(f"{stats.removed} removed")
    if stats.remembered_failures:
        parts.append(f"{stats.remembered_failures} known bad (not retried until they change)")
    warn("; ".join(parts))
    if stats.skipped:
        warn(f"skipped {len(stats.skipped)}:")
        for path, reason in stats.skipped[:20]:
            warn(f"  {display_path(path)}: {reason}")
        if len(stats.skipped) > 20:
            warn(f"  ... and {len(stats.skipped) - 20} more")
    for root in stats.offline_roots:
        warn(f"offline root (moments kept): {display_path(root)}")
