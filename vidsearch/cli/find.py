"""`vidsearch find QUERY`: the best moments for a query, as a table, JSON Lines or TSV."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidsearch.cli.common import open_library, warn
from vidsearch.cli.options import (
    DbOption,
    DeviceOption,
    ExcludeOption,
    ModelOption,
    PrecisionOption,
    WithinOption,
    complete_format,
)

if TYPE_CHECKING:
    from vidsearch.types import Hit

FORMAT_HELP = (
    "Output: table (default on a terminal), jsonl, tsv (default when piped: path, start, end, score), "
    "paths (each file once, best first), m3u (playlist; VLC plays each moment), edl (mpv plays exactly "
    "the moments: vidsearch find Q -f edl > hits.edl && mpv hits.edl)."
)


def find(
    query: Annotated[
        list[str] | None,
        typer.Argument(
            help='What to look for, in plain words: clauses ("a, b"), negation ("not raining", "without the '
            'dog", -term), order ("A then B"), what is said ("someone says happy birthday", a "quoted phrase").',
            show_default=False,
            metavar="QUERY",
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many moments to show.")] = 10,
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", help=FORMAT_HELP, show_default=False, autocompletion=complete_format),
    ] = None,
    json_lines: Annotated[bool, typer.Option("--json", help="Short for --format jsonl.")] = False,
    print0: Annotated[
        bool,
        typer.Option("--print0", "-0", help="Each file once, NUL-terminated, for xargs -0 (format paths)."),
    ] = False,
    play: Annotated[
        bool,
        typer.Option("--play", help="Also play the moments ($VIDSEARCH_PLAYER, mpv, VLC or the OS opener)."),
    ] = False,
    within: WithinOption = None,
    exclude: ExcludeOption = None,
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            help="A reference clip: PATH, PATH@TIME or PATH@START-END (times as seconds or M:SS). "
            "With a QUERY, finds moments like it but changed as the query says; alone, more like it.",
            show_default=False,
        ),
    ] = None,
    said: Annotated[
        str | None,
        typer.Option(
            "--said",
            help="Moments where TEXT was said (its words or its meaning), in speech or subtitles only: never "
            "on-screen text, file names or pictures. With a QUERY, moments matching both.",
            show_default=False,
            metavar="TEXT",
        ),
    ] = None,
    explain: Annotated[
        bool, typer.Option("--explain", help="Show how the query was read and why each hit scored as it did.")
    ] = False,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Hide hits below this calibrated score (0 = typical moment).",
                     show_default=False),
    ] = None,
    min_match: Annotated[
        float | None,
        typer.Option(
            "--min-match",
            help="Hide hits whose absolute match is below this (0 = unrelated, 1 = as close as the query's "
            "words on screen). Default: the model's cut-off, so a query for something the library does not "
            "hold finds nothing; --min-match 0 always shows the closest moments.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
) -> None:
    """Find the moments that best match QUERY. Exit status 0 when something matched, 1 when nothing did."""
    from vidsearch.device import one_thread_for_small_maths

    one_thread_for_small_maths()  # before numpy loads
    from vidsearch import config
    from vidsearch.errors import UsageError
    from vidsearch.output.present import FORMATS, write_hits
    from vidsearch.query.options import SearchOptions, parse_like

    text = " ".join(query or []).strip()
    if not text and not like and not exclude and not (said or "").strip():
        raise UsageError('the query is empty; say what to look for, e.g. vidsearch find "a dog on a beach"')
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    if json_lines:
        fmt = "jsonl"
    if print0:
        if fmt not in (None, "paths"):
            raise UsageError(f"--print0 prints paths; it does not go with --format {fmt}")
        fmt = "paths"
    fmt = fmt or ("table" if sys.stdout.isatty() else "tsv")
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if play:
        from vidsearch.output.player import find_player

        player = find_player()  # before the model loads: no player, no waiting
    options = SearchOptions(
        limit=limit,
        within=tuple(str(p) for p in within or ()),
        exclude=tuple(exclude or ()),
        like=parse_like(like) if like else None,
        explain=explain,
        min_score=min_score,
        min_match=min_match,
        said=said.strip() if said and said.strip() else None,
    )
    answered = _ask_service(db, model, device, precision, text, options)
    if answered is not None:  # a running `vidsearch serve` holds the model: no load here
        hits, lines = answered
    else:
        with open_library(db, create=False, model=model, device=device, precision=precision) as library:
            found = library.find(text, options)
        hits, lines = found.hits, found.explanation
        if config.autoserve():
            from vidsearch import service

            service.start_background()
    if explain:
        _print_explanation(lines, hits, fmt)
    if fmt != "table":  # file names go out as their exact bytes
        sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    color = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if hits or fmt != "table":  # an empty table would be only its header
        write_hits(hits, fmt, sys.stdout, color=color, print0=print0)
    sys.stdout.flush()
    if not hits:
        what = repr(text) if text else f"--said {said!r}" if said else "the reference clip"
        hint = "" if min_match == 0 else "; --min-match 0 shows the closest moments anyway"
        warn(f"no moment matches {what}{hint}")
        raise typer.Exit(1)
    offline = sum(1 for h in hits if not h.available)
    if offline:
        warn(f"{offline} of these results are on an offline root (a drive or share not connected now)")
    if play:
        from vidsearch.output.player import play as play_hits

        play_hits(hits, player)


def _ask_service(
    db: Path | None, model: str | None, device: str, precision: str, text: str, options: object
) -> tuple[list[Hit], list[str]] | None:
    """The running service's answer (hits, explanation lines), or None when no service runs."""
    from vidsearch import config, service

    if config.service_disabled():
        return None
    target = config.db_path(db)
    if not target.exists():
        return None  # let the direct path say there is no index
    return service.ask_find(service.find_request(target, model, device, precision, text, options))


def _print_explanation(lines: list[str], hits: list[Hit], fmt: str) -> None:
    """The query's reading (and, for the table, each hit's clause scores) on stderr."""
    import json

    for line in lines:
        warn(line)
    if fmt != "table":
        return  # jsonl carries the breakdown in each record's "explain"
    for rank, hit in enumerate(hits, 1):
        detail = hit.details.get("explain")
        if detail:
            warn(f"#{rank}: {json.dumps(detail, ensure_ascii=False)}")
