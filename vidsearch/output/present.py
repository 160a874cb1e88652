"""Turning hits into output: a table for people; JSON Lines, TSV, paths and playlists (M3U for VLC,
mpv's EDL) for programs and players; time formatting.

Everything here writes results only; progress and warnings go to stderr elsewhere.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from vidsearch.types import Hit

FORMATS = ("table", "jsonl", "tsv", "paths", "m3u", "edl")
FORMAT_DESCRIPTIONS = {
    "table": "a table for people (the default on a terminal)",
    "jsonl": "one JSON object per hit (path, start, end, score, ...)",
    "tsv": "path, start, end, score separated by tabs (the default when piped)",
    "paths": "each matching file once, best first",
    "m3u": "extended M3U playlist; VLC plays each moment from its start to its end",
    "edl": "mpv EDL: mpv plays exactly the found moments, in order",
}


def format_time(seconds: float) -> str:
    """Human time: ``1:05``, ``1:02:03``; tenths are shown under a minute (``0:07.5``)."""
    seconds = max(0.0, float(seconds))
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    tenths = int(round((seconds - whole) * 10))
    if tenths == 10:
        return format_time(whole + 1)
    if minutes == 0 and tenths:
        return f"0:{secs:02d}.{tenths}"
    return f"{minutes}:{secs:02d}"


def display_path(path: str) -> str:
    """A path as text for a terminal: undecodable bytes shown as \\xNN, control characters escaped."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", errors="backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def hit_record(hit: Hit) -> dict[str, Any]:
    """The JSON object for one hit (times in seconds)."""
    record: dict[str, Any] = {
        "path": hit.path,
        "start": round(hit.start, 3),
        "end": round(hit.end, 3),
        "score": round(hit.score, 4),
        "start_time": format_time(hit.start),
        "end_time": format_time(hit.end),
    }
    if not hit.available:
        record["available"] = False
    record.update(hit.details)
    return record


def to_json_line(record: dict[str, Any]) -> str:
    """One JSON line. Paths that are not valid UTF-8 keep their bytes as \\udcXX escapes
    (Python's ``os.fsencode(json.loads(line)["path"])`` gives the original name back)."""
    try:
        line = json.dumps(record, ensure_ascii=False)
        line.encode("utf-8")
        return line
    except UnicodeEncodeError:
        return json.dumps(record, ensure_ascii=True)


def _tsv_field(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def unique_paths(hits: Sequence[Hit]) -> list[str]:
    """The files of ``hits``, each once, in rank order."""
    return list(dict.fromkeys(hit.path for hit in hits))


def _raw_text(path: str) -> str:
    """``path`` as text whose surrogateescape encoding is the file name's exact bytes."""
    return os.fsencode(path).decode("utf-8", errors="surrogateescape")


def m3u_playlist(hits: Sequence[Hit]) -> str:
    """An extended M3U playlist of ``hits``: VLC starts and stops each entry at the hit's times
    (``#EXTVLCOPT:start-time`` / ``stop-time``). Names that are not plain UTF-8 text (newlines,
    undecodable bytes) are written as ``file://`` URIs, which VLC and mpv both open."""
    lines = ["#EXTM3U"]
    for hit in hits:
        title = f"{os.path.basename(display_path(hit.path))} {format_time(hit.start)}-{format_time(hit.end)}"
        lines.append(f"#EXTINF:{max(0, round(hit.end - hit.start))},{title}")
        lines.append(f"#EXTVLCOPT:start-time={hit.start:.3f}")
        lines.append(f"#EXTVLCOPT:stop-time={hit.end:.3f}")
        plain = display_path(hit.path) == hit.path and os.path.isabs(hit.path)
        lines.append(hit.path if plain else Path(os.path.abspath(hit.path)).as_uri())
    return "\n".join(lines) + "\n"


_EDL_SAFE = re.compile(r"[^,;%\n\r\s][^,;%\n\r]*")


def edl_path(path: str) -> str:
    """A path as an mpv EDL field: as is when plain, else ``%LEN%path`` with LEN in bytes (mpv's
    escape for names holding commas, semicolons, newlines or other odd characters)."""
    plain = _EDL_SAFE.fullmatch(path) and path == path.strip() and display_path(path) == path
    if plain and path[0] not in "#!":  # '#' starts a comment line, '!' a header
        return path
    return f"%{len(os.fsencode(path))}%{_raw_text(path)}"


def mpv_edl(hits: Sequence[Hit], *, header: bool = True) -> str:
    """mpv's EDL (``# mpv EDL v0``) playing each hit from its start for its length, in rank order.
    With ``header=False`` the entries are joined by ``;`` for an ``edl://`` URL instead."""
    entries = [f"{edl_path(h.path)},{h.start:.3f},{max(0.0, h.end - h.start):.3f}" for h in hits]
    if not header:
        return ";".join(entries)
    return "".join(line + "\n" for line in ["# mpv EDL v0", *entries])


def write_hits(
    hits: Sequence[Hit], fmt: str, out: IO[str], *, color: bool = False, print0: bool = False
) -> None:
    """Write ``hits`` to ``out`` in ``fmt`` (one of FORMATS).

    ``print0`` ends each path of the ``paths`` format with NUL instead of a newline (for
    ``xargs -0``; the only safe choice for names that contain newlines). Paths are written so that
    a stream opened with ``errors="surrogateescape"`` gets the file names' exact bytes.
    """
    if print0 and fmt != "paths":
        raise ValueError("print0 goes with the paths format only")
    if fmt == "jsonl":
        for hit in hits:
            out.write(to_json_line(hit_record(hit)) + "\n")
    elif fmt == "tsv":
        # path<TAB>start<TAB>end<TAB>score; tabs, newlines and backslashes in paths are escaped
        for hit in hits:
            path = os.fsencode(hit.path).decode("utf-8", errors="surrogateescape")
            out.write(f"{_tsv_field(path)}\t{hit.start:.3f}\t{hit.end:.3f}\t{hit.score:.4f}\n")
    elif fmt == "paths":
        end = "\0" if print0 else "\n"
        for path in unique_paths(hits):
            out.write(_raw_text(path) + end)
    elif fmt == "m3u":
        out.write(m3u_playlist(hits))
    elif fmt == "edl":
        out.write(mpv_edl(hits))
    elif fmt == "table":
        _write_table(hits, out, color=color)
    else:
        raise ValueError(f"unknown format {fmt!r}")


SAID_WIDTH = 48  # characters of the line said shown in the table (the whole line is in --json)


def said_line(hit: Hit) -> str:
    """The line said during a hit, quoted, as the table shows it ("" when nothing was said)."""
    speech = hit.details.get("speech")
    if not isinstance(speech, dict) or not speech.get("text"):
        return ""
    return f'"{speech["text"]}"'


def _write_table(hits: Sequence[Hit], out: IO[str], *, color: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("time", no_wrap=True)
    table.add_column("file", overflow="fold")
    said = [said_line(hit) for hit in hits]
    if any(said):
        table.add_column("said", overflow="ellipsis", max_width=SAID_WIDTH, no_wrap=True)
    for rank, hit in enumerate(hits, 1):
        span = f"{format_time(hit.start)}-{format_time(hit.end)}"
        name = display_path(hit.path) + ("" if hit.available else "  (offline)")
        row = [str(rank), f"{hit.score:.3f}", span, name]
        table.add_row(*row, *([said[rank - 1]] if any(said) else []))
    console = Console(file=out, no_color=not color, highlight=False, soft_wrap=False)
    console.print(table)
