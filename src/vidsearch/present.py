"""Turning hits into output: a table for people, JSON Lines and TSV for programs; time formatting.

Everything here writes results only; progress and warnings go to stderr elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import IO, Any

from vidsearch.types import Hit

FORMATS = ("table", "jsonl", "tsv")


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


def write_hits(hits: Sequence[Hit], fmt: str, out: IO[str], *, color: bool = False) -> None:
    """Write ``hits`` to ``out`` in ``fmt`` (one of FORMATS)."""
    if fmt == "jsonl":
        for hit in hits:
            out.write(to_json_line(hit_record(hit)) + "\n")
    elif fmt == "tsv":
        # path<TAB>start<TAB>end<TAB>score; tabs, newlines and backslashes in paths are escaped
        for hit in hits:
            path = os.fsencode(hit.path).decode("utf-8", errors="surrogateescape")
            out.write(f"{_tsv_field(path)}\t{hit.start:.3f}\t{hit.end:.3f}\t{hit.score:.4f}\n")
    elif fmt == "table":
        _write_table(hits, out, color=color)
    else:
        raise ValueError(f"unknown format {fmt!r}")


def _write_table(hits: Sequence[Hit], out: IO[str], *, color: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("time", no_wrap=True)
    table.add_column("file", overflow="fold")
    for rank, hit in enumerate(hits, 1):
        span = f"{format_time(hit.start)}-{format_time(hit.end)}"
        name = display_path(hit.path) + ("" if hit.available else "  (offline)")
        table.add_row(str(rank), f"{hit.score:.3f}", span, name)
    console = Console(file=out, no_color=not color, highlight=False, soft_wrap=False)
    console.print(table)
