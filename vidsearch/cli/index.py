"""`vidsearch index PATH...`: register folders as library roots and bring the index up to date."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidsearch.cli.common import open_library, warn
from vidsearch.cli.options import (
    DbOption,
    DeviceOption,
    ModelOption,
    NoSpeechOption,
    PrecisionOption,
    SpeechModelOption,
    complete_root,
)

if TYPE_CHECKING:
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
        bool,
        typer.Option(
            "--rebuild",
            help="Forget all vectors and re-index with the chosen model. A damaged index file is kept "
            "aside (renamed) and a new one started.",
        ),
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
    budget: Annotated[
        str,
        typer.Option(
            "--budget",
            help="Multimodal models only: faithful (every frame at the size the model was trained on; "
            "still moments get fewer frames and share vectors) or fast (also frames below that size: "
            "cheaper, measure it first with `vidsearch models --check-budget fast`). Kept per moment.",
        ),
    ] = "faithful",
    no_speech: NoSpeechOption = False,
    speech_model: SpeechModelOption = None,
) -> None:
    """Index every video under PATHS (recursively). Running it again does only what changed.

    What is said is indexed too: subtitle files beside a video (same name, .srt/.vtt/.ass) and subtitle
    streams inside it, else its speech, transcribed offline. With no PATHS, re-checks every library root
    already registered.
    """
    from vidsearch import config
    from vidsearch.cli.progress import IndexBar
    from vidsearch.embed.budget import setting_named
    from vidsearch.errors import UsageError
    from vidsearch.library import check_root_paths
    from vidsearch.output.present import plural

    budget = setting_named(budget).name  # a clear error before anything is opened
    check_root_paths(paths)
    if not paths and not config.db_path(db).exists():  # nothing registered yet: don't leave an empty index
        raise UsageError("nothing to index: give a folder, e.g. vidsearch index ~/Videos")
    with open_library(
        db, create=True, model=model, device=device, precision=precision, set_aside_damaged=rebuild
    ) as library:
        if library.set_aside_to is not None:
            warn(f"the index {library.path} was damaged: kept as {library.set_aside_to}; starting a new one")
            if not paths and not library.store.roots():
                raise UsageError(
                    "the damaged index's folders could not be read back; name them: "
                    "vidsearch index --rebuild FOLDER..."
                )
        try:
            with IndexBar(quiet=quiet) as bar:
                stats = library.index(
                    paths, rebuild=rebuild, exit_layer=exit_layer, budget=budget, progress=bar, on_auto=warn,
                    speech=not no_speech, speech_model=speech_model,
                )  # fmt: skip
        except KeyboardInterrupt:
            # each video is written in one transaction: what was done is kept, the file in progress is not
            done = f" after {plural(bar.files_done, 'file')}" if bar.files_done else ""
            warn(f"interrupted{done}; the index is consistent, and running the same command again "
                 "continues where this one stopped")
            raise typer.Exit(130) from None
        _summary(stats, library.store.model or library.model_name()[0])
    if stats.nothing_usable:
        from vidsearch.errors import NothingIndexedError

        bad = len(stats.skipped) + stats.remembered_failures
        why = "the reasons are above" if stats.skipped else "they failed before and have not changed since"
        which = "the one video file found" if bad == 1 else f"none of the {bad} video files found"
        raise NothingIndexedError(f"{which} could {'not ' if bad == 1 else ''}be indexed ({why})")


def _summary(stats: IndexStats, model: str) -> None:
    """The one-screen report of a run, on stderr."""
    from vidsearch.output.present import display_path, plural

    speed = f", {stats.video_seconds / stats.elapsed:.1f}x realtime" if stats.video_seconds and stats.elapsed else ""
    warn(
        f"indexed {plural(stats.indexed, 'new or changed file')} ({plural(stats.moments, 'moment')}, "
        f"{stats.video_seconds / 60:.1f} min of video{speed}) in {stats.elapsed:.1f} s with {model}"
    )
    warn("; ".join(stats.counts()))
    if stats.speech_read:
        listened = f", {stats.audio_seconds / 3600:.2f} h of audio transcribed" if stats.audio_seconds else ""
        kept = f" ({stats.speech_refreshed} with their pictures kept)" if stats.speech_refreshed else ""
        read = plural(stats.speech_read, "file")
        warn(f"read what is said in {read}{kept} in {stats.speech_seconds:.1f} s{listened}")
    if stats.speech_skipped:  # each was said as it happened ("skipping speech in PATH: reason")
        warn(f"no speech read from {plural(len(stats.speech_skipped), 'file')}; their pictures are indexed")
    if stats.skipped:
        warn(f"skipped {len(stats.skipped)} new:")
        for path, reason in stats.skipped[:20]:
            warn(f"  {display_path(path)}: {reason}")
        if len(stats.skipped) > 20:
            warn(f"  ... and {len(stats.skipped) - 20} more")
    for root in stats.offline_roots:
        warn(f"offline root (moments kept): {display_path(root)}")
