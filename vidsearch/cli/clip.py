"""`vidsearch clip RESULT -o OUT`: cut a found moment into a new video file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer


def parse_result(text: str) -> tuple[str, float, float]:
    """A moment as ``find`` or ``--like`` write it -> (path, start, end) in seconds.

    Accepts ``PATH@START-END`` (times as seconds, M:SS, H:MM:SS or 1m20s), a TSV line of ``find``
    (``path<TAB>start<TAB>end[<TAB>score]``, escapes undone) or a JSON line of ``find --json``.
    Raises UsageError when no span can be read.
    """
    from vidsearch.errors import UsageError
    from vidsearch.query.options import parse_like

    line = text.rstrip("\r\n")
    if line.lstrip().startswith("{"):
        try:
            record = json.loads(line)
            return str(record["path"]), float(record["start"]), float(record["end"])
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"not a find --json line: {line[:80]!r} ({e})") from None
    if "\t" in line:
        fields = line.split("\t")
        try:
            return _tsv_unescape(fields[0]), float(fields[1]), float(fields[2])
        except (IndexError, ValueError):
            raise UsageError(f"not a find output line (path, start, end): {line[:80]!r}") from None
    ref = parse_like(line, option="")
    if ref.start is None or ref.end is None:
        raise UsageError(f"{line!r}: say which moment, as PATH@START-END (e.g. clip.mp4@1:20-1:35)")
    return ref.path, ref.start, ref.end


def _tsv_unescape(field: str) -> str:
    out, i = [], 0
    table = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}
    while i < len(field):
        if field[i] == "\\" and i + 1 < len(field) and field[i + 1] in table:
            out.append(table[field[i + 1]])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def clip(
    result: Annotated[
        str | None,
        typer.Argument(
            help="The moment: PATH@START-END (as --like takes it), a line of find's output (TSV or JSON), "
            "or - to read the first line from stdin (also read from there when RESULT is left out and "
            "stdin is a pipe: vidsearch find ... | vidsearch clip).",
            show_default=False,
            metavar="[RESULT]",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The new file; its extension picks the container [default: NAME_START-END.EXT here].",
            show_default=False,
            dir_okay=False,
        ),
    ] = None,
    reencode: Annotated[
        bool,
        typer.Option("--reencode", help="Re-encode (H.264/AAC) for a frame-accurate start; slower."),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Cut a moment out of its video into a new file and print the new file's path.

    By default the video is copied without re-encoding: fast and lossless, but keyframe-accurate,
    so the clip starts at the last keyframe at or before START (up to a few seconds early) and ends
    within a frame or two after END. --reencode starts and ends on the exact frames.
    """
    from vidsearch.cli.common import warn
    from vidsearch.errors import UsageError
    from vidsearch.media.cut import cut_clip
    from vidsearch.output.present import format_time

    if result is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("clip: say which moment: PATH@START-END, a line of vidsearch find's output, "
                             "or pipe find into it (vidsearch find ... | vidsearch clip)")
        result = "-"
    if result == "-":
        result = sys.stdin.readline()
        if not result.strip():
            raise UsageError("clip: nothing on stdin (pipe a line of vidsearch find into it)")
    path, start, end = parse_result(result)
    if out is None:
        src = Path(path)
        out = Path(f"{src.stem}_{start:.1f}-{end:.1f}{src.suffix or '.mkv'}")
    if out.exists() and not force:
        raise UsageError(f"{out} exists; pass --force to overwrite it or choose another -o")
    written = cut_clip(path, start, end, out, reencode=reencode)
    early = start - written.start
    if early > 0.05:  # copied from the keyframe before START: say how much more the clip holds
        warn(f"the clip starts at {format_time(written.start)}, {early:.1f} s before {format_time(start)}: "
             "without re-encoding it begins on the keyframe at or before the start (--reencode cuts exactly)")
    sys.stdout.write(f"{written.path}\n")
