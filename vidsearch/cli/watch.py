"""`vidsearch watch [PATH...]`: keep the index current as videos arrive, change, move and go."""

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
)

if TYPE_CHECKING:
    from vidsearch.index.watch import WatchEvent

QUIET_KINDS = frozenset({"skipped", "speech-skipped", "root-offline", "root-online", "polling", "stopped"})


def watch(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Folders to watch; they become library roots. Default: every library root.",
            show_default=False,
        ),
    ] = [],  # noqa: B006 (typer needs a literal default)
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
    settle: Annotated[
        float,
        typer.Option(
            "--settle", help="Seconds a file must stay unchanged (size and mtime) before it is indexed."
        ),
    ] = 2.0,
    poll: Annotated[
        bool,
        typer.Option("--poll", help="Scan for changes every few seconds instead of relying on change events "
                     "(automatic on network and FUSE filesystems)."),
    ] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Only problems (skipped files, offline roots) and stopping.")
    ] = False,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One JSON object per event on stderr, for logs.")
    ] = False,
    no_speech: NoSpeechOption = False,
    speech_model: SpeechModelOption = None,
) -> None:
    """Watch folders and keep the index current until stopped (Ctrl-C or SIGTERM).

    First catches up with what changed while nothing was watching, then indexes new and changed files
    once they have settled, keeps the vectors of moved and renamed files and folders, drops deleted
    ones, and keeps the moments of a root that goes away (unplugged drive) until it comes back. A
    subtitle file that appears or changes beside a video gets that video's words read again.
    """
    import signal
    import threading

    from vidsearch.errors import UsageError

    if settle < 0:
        raise UsageError("--settle must be 0 or more seconds")
    def show(event: WatchEvent) -> None:
        if json_lines:
            import json

            warn(json.dumps(event.record(), ensure_ascii=False))
        elif event.kind != "indexing" and (not quiet or event.kind in QUIET_KINDS):
            warn(event_line(event))  # text: one line per file done (JSON logs also get "indexing")

    stop = threading.Event()
    with open_library(db, create=True, model=model, device=device, precision=precision) as library:
        _, why = library.model_name()
        watcher = library.watcher(
            paths, on_event=show, settle=settle, poll=poll, stop=stop, speech=not no_speech, speech_model=speech_model
        )
    if why:
        warn(why)

    def on_signal(signum: int, frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now (the open transaction rolls back)
        watcher.request_stop()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        watcher.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def event_line(event: WatchEvent) -> str:
    """One line of text for a watcher event (paths shown safely for a terminal)."""
    from vidsearch.output.present import display_path, plural

    path, dest = display_path(event.path), display_path(event.dest)
    detail = f" ({event.message})" if event.message else ""
    if event.kind == "indexing":
        return f"indexing {path} ..."
    if event.kind == "indexed":
        return f"indexed {path} ({plural(event.moments, 'moment')}, {event.video_seconds:.1f} s of video)"
    if event.kind == "moved":
        return f"moved {path} -> {dest}{detail}"
    if event.kind == "removed":
        return f"removed {path}{detail}"
    if event.kind == "skipped":
        return f"skipping {path}: {event.message}"
    if event.kind == "speech-skipped":
        return f"skipping speech in {path}: {event.message}"
    if event.kind == "root-offline":
        return f"root offline, keeping its moments: {path}"
    if event.kind == "root-online":
        return f"root back online: {path}"
    if event.kind == "polling":
        return f"polling {path} {event.message}"
    if event.kind == "caught-up":
        return f"caught up: {event.message}"
    if event.kind == "watching":
        return f"watching {event.message}; Ctrl-C to stop"
    if event.kind == "stopped":
        return "stopped" + (f"; {path}: {event.message}" if path else "")
    return event.message or f"{event.kind} {path}"
