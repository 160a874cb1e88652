"""Turning hits into output: a table for people (with thumbnails on terminals that show pictures); JSON
Lines, TSV, paths and playlists (M3U for VLC, mpv's EDL) for programs and players; an HTML contact sheet
for a browser; time formatting.

Everything here writes results only; progress and warnings go to stderr elsewhere.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from vidsearch.types import Hit, VideoFacts

FORMATS = ("table", "jsonl", "tsv", "paths", "m3u", "edl", "html")
FORMAT_DESCRIPTIONS = {
    "table": "a table for people (the default on a terminal)",
    "jsonl": "one JSON object per hit (path, start, end, score, ...)",
    "tsv": "path, start, end, score separated by tabs (the default when piped)",
    "paths": "each matching file once, best first",
    "m3u": "extended M3U playlist; VLC plays each moment from its start to its end",
    "edl": "mpv EDL: mpv plays exactly the found moments, in order",
    "html": "a contact sheet for a browser: each moment's thumbnail, times and score, in one file",
}
THUMB_CELLS = 16  # terminal columns a thumbnail takes in the table (find --thumbs)


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


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """``1 moment``, ``2 moments`` (``nouns`` for an irregular plural)."""
    return f"{n} {noun if n == 1 else (nouns or noun + 's')}"


def format_recorded(facts: VideoFacts) -> str | None:
    """When recording began as ISO 8601 wall-clock time where it was filmed: with its UTC offset
    when the file gave one (``2023-07-04T12:34:56+01:00``), else without (``2023-07-04T12:34:56``)."""
    if facts.recorded is not None and facts.tz_offset is not None:
        zone = timezone(timedelta(minutes=facts.tz_offset))
        return datetime.fromtimestamp(facts.recorded, zone).isoformat(timespec="seconds")
    if facts.recorded_local is not None:
        return datetime.fromtimestamp(facts.recorded_local, timezone.utc).replace(tzinfo=None).isoformat("T", "seconds")
    return None


def wall_clock(seconds: float, *, time_of_day: bool = True) -> str:
    """Wall-clock seconds (a local time counted as if UTC, as ``VideoFacts.recorded_local``) for
    people: ``2023-07-04 12:34``, or ``2023-07-04`` without the time of day."""
    wall = datetime.fromtimestamp(seconds, timezone.utc)
    return wall.strftime("%Y-%m-%d %H:%M" if time_of_day else "%Y-%m-%d")


def format_day(facts: VideoFacts) -> str:
    """For a table: ``2023-07-04 12:34``, or the day alone when the time of day is not known."""
    from vidsearch.media.metadata import FROM_FILE_NAME_DAY

    if facts.recorded_local is None:
        return ""
    return wall_clock(facts.recorded_local, time_of_day=facts.recorded_source != FROM_FILE_NAME_DAY)


def facts_record(facts: VideoFacts) -> dict[str, Any]:
    """The JSON fields of when and where a video was filmed (null where unknown)."""
    return {
        "recorded": format_recorded(facts),
        "recorded_source": facts.recorded_source or None,
        "place": facts.place,
        "camera": facts.camera,
        "lat": facts.lat,
        "lon": facts.lon,
    }


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
    if hit.facts is not None:
        record.update(facts_record(hit.facts))
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


def edl_path(path: str) -> str:
    """A path as an mpv EDL field, always in mpv's ``%LEN%path`` form (LEN in bytes), which takes the
    name's bytes as they are. Every other spelling has characters mpv reads as syntax: ',' and ';'
    end a field or an entry, '=' makes ``name=value`` a parameter, '%' starts this form, a newline
    ends a line, '#' and '!' at the start are a comment and a header."""
    return f"%{len(os.fsencode(path))}%{_raw_text(path)}"


def mpv_edl(hits: Sequence[Hit], *, header: bool = True) -> str:
    """mpv's EDL (``# mpv EDL v0``) playing each hit from its start for its length, in rank order.
    With ``header=False`` the entries are joined by ``;`` for an ``edl://`` URL instead."""
    entries = [f"{edl_path(h.path)},{h.start:.3f},{max(0.0, h.end - h.start):.3f}" for h in hits]
    if not header:
        return ";".join(entries)
    return "".join(line + "\n" for line in ["# mpv EDL v0", *entries])


def first_moment(hit: Hit) -> int | None:
    """The moment a hit is shown by: its first (the picture at its start), None for a hit without one."""
    return hit.moment_ids[0] if hit.moment_ids else None


def contact_sheet(hits: Sequence[Hit], stills: Mapping[int, bytes], title: str = "") -> str:
    """A self-contained HTML page of ``hits``: each one's thumbnail (from ``stills``, moment id ->
    JPEG, inlined as a data URI), file, times and score. Each thumbnail links to the file at the
    moment (``file://...#t=start,end``), which a browser plays from there when it knows the codec."""
    import base64
    from html import escape

    heading = escape(title) if title else plural(len(hits), "moment")
    cards = []
    for rank, hit in enumerate(hits, 1):
        moment = first_moment(hit)
        still = stills.get(moment) if moment is not None else None
        picture = (
            f'<img src="data:image/jpeg;base64,{base64.b64encode(still).decode()}" alt="">'
            if still else '<span class="none">no thumbnail yet</span>'
        )
        uri = Path(os.path.abspath(hit.path)).as_uri() + f"#t={hit.start:.3f},{hit.end:.3f}"
        name = display_path(hit.path)
        match = f" · match {hit.details['match']}" if "match" in hit.details else ""
        offline = " · offline" if not hit.available else ""
        cards.append(
            f'<li><a href="{escape(uri)}">{picture}</a>'
            f'<b>{rank}. {escape(os.path.basename(name))}</b>'
            f"<span>{format_time(hit.start)}–{format_time(hit.end)} · score {hit.score:.3f}{match}{offline}</span>"
            f'<small>{escape(name)}</small></li>'
        )
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>vidsearch: {heading}</title><style>{_SHEET_CSS}</style></head>\n"
        f"<body><h1>{heading}</h1>\n<ol>\n" + "\n".join(cards) + "\n</ol></body></html>\n"
    )


_SHEET_CSS = (
    "body{font:14px system-ui,sans-serif;margin:1.5em;background:#fafafa;color:#222}"
    "h1{font-size:1.2em;font-weight:600}"
    "ol{list-style:none;padding:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:14px}"
    "li{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;display:flex;flex-direction:column;gap:3px}"
    "img{width:100%;aspect-ratio:16/9;object-fit:contain;background:#111;border-radius:4px}"
    ".none{display:flex;align-items:center;justify-content:center;aspect-ratio:16/9;background:#eee;color:#888}"
    "small{color:#777;overflow-wrap:anywhere}"
)


def explain_line(hit: Hit) -> str:
    """How ``hit`` scored (``find --explain``), in one line with 2 decimals: each clause's
    calibrated score (and, for several, their soft minimum), each negated clause's score and the
    penalty it cost, the whole sentence's score and share, the absolute match and fit, the final
    score.
    "" when the hit carries no breakdown."""
    detail = hit.details.get("explain")
    if not isinstance(detail, Mapping) or not detail:
        return ""
    parts = []
    for step in detail.get("steps", ()):  # "A then B"
        parts.append(" + ".join(repr(c) for c in step["clauses"]) + f" {step['z']:.2f}")
    if parts:
        parts = [" then ".join(parts)]
    positives = detail.get("positives") or {}
    if positives:
        clauses = ", ".join(f"{name!r} {z:.2f}" for name, z in positives.items())
        if len(positives) > 1 and "clauses" in detail:
            clauses += f" (together {detail['clauses']:.2f})"
        parts.append(clauses)
    for name, neg in (detail.get("negatives") or {}).items():
        parts.append(f"not {name!r} {neg['z']:.2f}: penalty {neg['penalty']:.2f}")
    if "whole_weight" in detail:
        parts.append(f"whole sentence {detail['whole']:.2f} at {detail['whole_weight']:.2f} of the score")
    match = detail.get("match", hit.details.get("match"))
    if match is not None:
        parts.append(f"match {match:.2f}")
    if detail.get("fit") is not None:
        parts.append(f"fit {detail['fit']:.2f}")
    parts.append(f"score {hit.score:.2f}")
    return "; ".join(parts)


def write_hits(
    hits: Sequence[Hit],
    fmt: str,
    out: IO[str],
    *,
    color: bool = False,
    print0: bool = False,
    stills: Mapping[int, bytes] | None = None,
    title: str = "",
    explain: bool = False,
) -> None:
    """Write ``hits`` to ``out`` in ``fmt`` (one of FORMATS).

    ``color`` styles the table (without it, no escape codes at all); ``explain`` puts each hit's
    ``explain_line`` under it in the table (JSON Lines carry it in each record's "explain"; the
    other formats have no room for it). ``print0`` ends each path of the ``paths`` format with NUL
    instead of a newline (for ``xargs -0``; the only safe choice for names that contain newlines).
    Paths are written so that a stream opened with ``errors="surrogateescape"`` gets the file
    names' exact bytes. ``stills`` (moment id -> JPEG) are the thumbnails the ``html`` format
    inlines, and that the table shows beside each hit when given (on a terminal that shows
    pictures); ``title`` heads the html page.
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
    elif fmt == "html":
        out.write(contact_sheet(hits, stills or {}, title))
    elif fmt == "table":
        _write_table(hits, out, color=color, stills=stills, explain=explain)
    else:
        raise ValueError(f"unknown format {fmt!r}")


SAID_WIDTH = 48  # characters of the line said shown in the table (the whole line is in --json)


def said_line(hit: Hit) -> str:
    """The line said during a hit, quoted, as the table shows it ("" when nothing was said)."""
    speech = hit.details.get("speech")
    if not isinstance(speech, dict) or not speech.get("text"):
        return ""
    return f'"{speech["text"]}"'


def _write_table(
    hits: Sequence[Hit],
    out: IO[str],
    *,
    color: bool,
    stills: Mapping[int, bytes] | None = None,
    explain: bool = False,
) -> None:
    from rich.console import Console
    from rich.table import Table

    # the date and place columns only when some hit has one
    dates = [format_day(h.facts) if h.facts is not None else "" for h in hits]
    places = [(h.facts.place or "") if h.facts is not None else "" for h in hits]
    table = Table(box=None, pad_edge=False, show_edge=False)
    picture = terminal_picture() if stills is not None else None
    if picture is not None:
        table.add_column("", no_wrap=True)
    table.add_column("#", justify="right", style="dim")
    table.add_column("score", justify="right")
    table.add_column("time", no_wrap=True)
    if any(dates):
        table.add_column("date", no_wrap=True)
    if any(places):
        table.add_column("place", overflow="fold")
    table.add_column("file", overflow="fold")
    said = [said_line(hit) for hit in hits]
    if any(said):
        table.add_column("said", overflow="ellipsis", max_width=SAID_WIDTH, no_wrap=True)
    for rank, (hit, day, place) in enumerate(zip(hits, dates, places, strict=True), 1):
        span = f"{format_time(hit.start)}-{format_time(hit.end)}"
        name = display_path(hit.path) + ("" if hit.available else "  (offline)")
        row: list[Any] = [str(rank), f"{hit.score:.3f}", span] + [day] * any(dates) + [place] * any(places) + [name]
        row += [said[rank - 1]] * any(said)
        if picture is not None:
            moment = first_moment(hit)
            still = (stills or {}).get(moment) if moment is not None else None
            row.insert(0, picture(io.BytesIO(still), width=THUMB_CELLS, height="auto") if still else "")
        table.add_row(*row)
        if explain and explain_line(hit):
            explained = [""] * len(row)
            explained[-1 - any(said)] = explain_line(hit)
            table.add_row(*explained, style="dim")
    # no colour system: Rich writes no escape codes at all (not even bold or dim)
    console = Console(file=out, color_system="auto" if color else None, highlight=False, soft_wrap=False)
    console.print(table)


def terminal_picture() -> Any:
    """The Rich renderable class that draws a picture on this terminal (kitty's graphics protocol or
    sixel: kitty, iTerm2, WezTerm, foot, xterm, Konsole, VS Code...), or None where stdout is not such
    a terminal. The package asks the terminal what it supports, so it is imported only when asked."""
    import sys

    if not sys.stdout.isatty():
        return None
    try:
        from textual_image import renderable
    except ImportError:
        return None
    chosen = renderable.Image
    return chosen if chosen in (renderable.SixelImage, renderable.TGPImage) else None
