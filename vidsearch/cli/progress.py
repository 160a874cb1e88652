"""Progress for `vidsearch index` on stderr: a Rich bar on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any

from vidsearch import config
from vidsearch.cli.common import warn
from vidsearch.output.present import display_path, plural


class IndexBar:
    """Implements vidsearch.index.indexer.IndexProgress with a Rich progress bar (files, moments, speed, ETA)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.live = sys.stderr.isatty() and not quiet
        self.progress: Any = None
        self.task: Any = None
        self.moments = 0
        self.video_seconds = 0.0
        self.files_done = 0
        self.files_total = 0
        self.t0 = time.perf_counter()
        self.thumbs_progress: Any = None
        self.thumbs_task: Any = None

    def __enter__(self) -> IndexBar:
        return self

    def __exit__(self, *exc: object) -> None:
        for bar in (self.progress, self.thumbs_progress):
            if bar is not None:
                bar.stop()

    def planned(self, files: int, total_bytes: int) -> None:
        self.files_total = files
        self.t0 = time.perf_counter()
        if not self.live or files == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]indexing"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[files]}"),
            TextColumn("{task.fields[moments]} moments"),
            TextColumn("{task.fields[speed]}"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[current]}", style="dim"),
            console=Console(file=sys.stderr, color_system="auto" if config.color(sys.stderr) else None),
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            "index", total=max(1, total_bytes), files=f"0/{files} files", moments=0, speed="", current=""
        )

    def file_started(self, path: str) -> None:
        if self.progress is not None:
            name = display_path(path).rsplit("/", 1)[-1]
            self.progress.update(self.task, current=name[:40])

    def file_done(self, path: str, size: int, moments: int, video_seconds: float) -> None:
        self.files_done += 1
        self.moments += moments
        self.video_seconds += video_seconds
        elapsed = max(1e-6, time.perf_counter() - self.t0)
        speed = f"{self.video_seconds / elapsed:.1f}x realtime"
        if self.progress is not None:
            self.progress.update(
                self.task,
                advance=size,
                files=f"{self.files_done}/{self.files_total} files",
                moments=self.moments,
                speed=speed,
            )

    def skipped(self, path: str, reason: str) -> None:
        line = f"skipping {display_path(path)}: {reason}"
        if self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            warn(line)

    def speech_skipped(self, path: str, reason: str) -> None:
        self._print(f"skipping speech in {display_path(path)}: {reason}")

    def speech_refresh(self, done: int, total: int) -> None:
        if done == 0:
            if not self.quiet:
                self._print(f"reading what is said in {plural(total, 'indexed video')}; their pictures are kept")
            if not self.live:
                return
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            if self.progress is not None:
                self.progress.stop()
            self.progress = Progress(
                TextColumn("[bold]speech"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=Console(file=sys.stderr), transient=True,
            )  # fmt: skip
            self.progress.start()
            self.task = self.progress.add_task("speech", total=total)
        elif self.progress is not None:
            self.progress.update(self.task, completed=done)

    def _print(self, line: str) -> None:
        if self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False)
        else:
            warn(line)

    def note(self, message: str) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.console.print(message, markup=False, highlight=False)
        else:
            warn(message)

    def thumbnails(self, done: int, total: int) -> None:
        """A bar of its own for thumbnails made for moments indexed before (a second pass over files)."""
        if not self.live:
            if done == total and not self.quiet:
                warn(f"made thumbnails for {plural(total, 'moment')}")
            return
        if self.thumbs_progress is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

            self.thumbs_progress = Progress(
                TextColumn("[bold]thumbnails"),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.completed}/{task.total} moments"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=True,
            )
            self.thumbs_progress.start()
            self.thumbs_task = self.thumbs_progress.add_task("thumbnails", total=total)
        self.thumbs_progress.update(self.thumbs_task, completed=done)
