"""`vidsearch find QUERY`: the best moments for a query, as a table, JSON Lines or TSV."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vidsearch.cli.common import open_library, warn
from vidsearch.cli.options import (
    CameraOption,
    DbOption,
    DeviceOption,
    ExcludeOption,
    ModelOption,
    NearOption,
    PrecisionOption,
    RadiusOption,
    SinceOption,
    SortOption,
    UntilOption,
    WithinOption,
    complete_format,
)

if TYPE_CHECKING:
    from vidsearch.library import Found
    from vidsearch.query.options import SearchOptions
    from vidsearch.types import Hit

FORMAT_HELP = (
    "Output: table (default on a terminal), jsonl, tsv (default when piped: path, start, end, score), "
    "paths (each file once, best first), m3u (playlist; VLC plays each moment), edl (mpv plays exactly "
    "the moments: vidsearch find Q -f edl > hits.edl && mpv hits.edl), html (a contact sheet with "
    "thumbnails, one self-contained file: vidsearch find Q -f html > hits.html)."
)


def find(
    query: Annotated[
        list[str] | None,
        typer.Argument(
            help='What to look for, in plain words: clauses ("a, b"), negation ("not raining", "without the '
            'dog", or -term inside the quoted query: "dog -cat"), order ("A then B"), when and where ("in 2021", '
            '"last summer", "in lisbon"), what is said ("someone says happy birthday", a "quoted phrase").',
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
    since: SinceOption = None,
    until: UntilOption = None,
    near: NearOption = None,
    radius: RadiusOption = None,
    camera: CameraOption = None,
    sort: SortOption = "score",
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            help="A reference clip: PATH, PATH@TIME or PATH@START-END (times as seconds, M:SS or 1m20s). "
            "With a QUERY, finds moments like it but changed as the query says; alone, more like it.",
            show_default=False,
        ),
    ] = None,
    thumbs: Annotated[
        bool,
        typer.Option(
            "--thumbs",
            help="Show each hit's thumbnail beside it in the table, on terminals that show pictures (kitty's "
            "graphics or sixel: kitty, iTerm2, WezTerm, foot, xterm -ti vt340, Konsole).",
        ),
    ] = False,
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
    include_offline: Annotated[
        bool,
        typer.Option(
            "--include-offline",
            help="Also print moments on offline roots (a drive not connected now) when piped; the table "
            "always shows them, marked.",
        ),
    ] = False,
    min_match: Annotated[
        float | None,
        typer.Option(
            "--min-match",
            help="Hide hits whose absolute match is below this (0 = unrelated, 1 = as close as the query's "
            "words on screen). Default: the model's cut-off (a match and, for the lite model, a fit: how much "
            "of what the model can see of the query a moment shows), so a query for something the library "
            "does not hold finds nothing; a value replaces all of it; --min-match 0 always shows the closest "
            "moments.",
            show_default=False,
        ),
    ] = None,
    no_serve: Annotated[
        bool,
        typer.Option(
            "--no-serve",
            help="Do not start the background query service (by default a find that loads the model starts "
            "one, which keeps it loaded for the next queries and exits after $VIDSEARCH_SERVE_IDLE seconds "
            "without one, default 300; VIDSEARCH_AUTOSERVE=0 turns this off for good).",
        ),
    ] = False,
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
) -> None:
    """Find the moments that best match QUERY. Exit status 0 when something matched, 1 when nothing did.

    Time and place words in QUERY ("beach in 2021", "kids in the snow last christmas", "in lisbon")
    filter as --since/--until/--near do; a QUERY that only filters ("videos from lisbon in 2023")
    lists the videos that pass, in the order they were filmed.
    """
    from vidsearch.device import one_thread_for_small_maths

    one_thread_for_small_maths()  # before numpy loads
    from vidsearch.errors import UsageError
    from vidsearch.query.dates import date_range
    from vidsearch.query.options import SORTS, SearchOptions, parse_like

    text = " ".join(query or []).strip()
    filtering = since is not None or until is not None or near is not None or camera is not None
    if not text and not like and not exclude and not filtering and not (said or "").strip():
        raise UsageError('the query is empty; say what to look for, e.g. vidsearch find "a dog on a beach"')
    if sort not in SORTS:
        raise UsageError(f"unknown --sort {sort!r}; choose one of {', '.join(SORTS)}")
    if radius is not None and near is None:
        raise UsageError("--radius goes with --near (a place or LAT,LON to measure from)")
    today = date.today()
    date_range(since, until, today)  # a bad date fails here, before any model or index is opened
    if limit < 1:
        raise UsageError("--limit must be at least 1")
    fmt = _output_format(fmt, json_lines, print0)
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
        # a program reading the output would open the files: those on an offline drive are not there
        include_offline=include_offline or (fmt == "table" and not play),
        since=since,
        until=until,
        near=near,
        radius_km=radius,
        camera=camera,
        sort=sort,
        today=today.isoformat(),
        said=said.strip() if said and said.strip() else None,
    )
    found = _search(db, model, device, precision, text, options, serve=not no_serve)
    hits = found.hits
    _show(found, fmt, db=db, print0=print0, explain=explain, thumbs=thumbs, title=text)
    if not hits:
        what = repr(text) if text else f"--said {said!r}" if said else "the reference clip"
        hint = "" if min_match == 0 else "; --min-match 0 shows the closest moments anyway"
        warn(f"no moment matches {what}{hint}")
        raise typer.Exit(1)
    offline = sum(1 for h in hits if not h.available)
    if offline:
        are = "is" if offline == 1 else "are"
        warn(f"{offline} of these results {are} on an offline root (a drive or share not connected now)")
    if play:
        from vidsearch.output.player import play as play_hits

        play_hits(hits, player)


def _output_format(fmt: str | None, json_lines: bool, print0: bool) -> str:
    """The output format asked for (--format, --json, --print0), else table on a terminal and TSV
    when piped; UsageError for an unknown one or options that contradict each other."""
    from vidsearch.errors import UsageError
    from vidsearch.output.present import FORMATS

    if json_lines:
        if fmt not in (None, "jsonl"):
            raise UsageError(f"--json is short for --format jsonl; it does not go with --format {fmt}")
        fmt = "jsonl"
    if print0:
        if fmt not in (None, "paths"):
            raise UsageError(f"--print0 prints paths; it does not go with --format {fmt}")
        fmt = "paths"
    fmt = fmt or ("table" if sys.stdout.isatty() else "tsv")
    if fmt not in FORMATS:
        raise UsageError(f"unknown --format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return fmt


def _search(
    db: Path | None, model: str | None, device: str, precision: str, text: str, options: SearchOptions, serve: bool
) -> Found:
    """The running query service's answer, else a search here; a search here that had to load the
    model starts the service for the next query (unless ``serve`` is False or the setting says no)."""
    from vidsearch import config

    found = _ask_service(db, model, device, precision, text, options)
    if found is not None:
        return found
    serve_next = serve and config.autoserve()
    idle = config.serve_idle() if serve_next else 0.0  # a bad setting is refused before any work
    loaded: list[str] = []
    with open_library(db, create=False, model=model, device=device, precision=precision) as library:
        library.on_model_load = lambda name: _loading(name, loaded, serve_next, idle)
        found = library.find(text, options)
    if loaded and serve_next:  # only a search that had to load the model gains from a warm one
        from vidsearch import service

        service.start_background(idle)
    return found


def _show(found: Found, fmt: str, *, db: Path | None, print0: bool, explain: bool, thumbs: bool, title: str) -> None:
    """The hits on stdout in ``fmt``; how the query was read, the breakdowns the format has no room
    for and the library's notes on stderr."""
    from vidsearch import config
    from vidsearch.output.present import write_hits

    hits = found.hits
    for line in found.explanation:  # how the query was read
        warn(line)
    if fmt != "table":  # file names go out as their exact bytes
        sys.stdout.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    stills = _stills(db, hits) if hits and (fmt == "html" or (thumbs and _show_thumbs(fmt))) else None
    if hits or fmt != "table":  # an empty table would be only its header
        write_hits(hits, fmt, sys.stdout, color=config.color(sys.stdout), print0=print0, explain=explain,
                   stills=stills, title=title)
    sys.stdout.flush()
    if explain and fmt not in ("table", "jsonl"):
        _explain_on_stderr(hits)
    for note in found.notes:
        warn(note)


def _show_thumbs(fmt: str) -> bool:
    """Whether --thumbs can show pictures here; says why not on stderr when it cannot."""
    from vidsearch.output.present import terminal_picture

    if fmt != "table":
        warn(f"--thumbs shows pictures in the table; with --format {fmt} it does nothing (--format html has them)")
        return False
    if terminal_picture() is None:
        warn("--thumbs: this terminal does not show pictures (kitty graphics or sixel); "
             "vidsearch find ... --format html > hits.html makes a page with them")
        return False
    return True


def _stills(db: Path | None, hits: list[Hit]) -> dict[int, bytes]:
    """The thumbnails of ``hits`` (read from the index, without loading the model)."""
    with open_library(db, create=False) as library:
        return library.stills(hits)


def _ask_service(
    db: Path | None, model: str | None, device: str, precision: str, text: str, options: object
) -> Found | None:
    """The running service's answer, or None when no service runs."""
    from vidsearch import config, service

    if config.service_disabled():
        return None
    target = config.db_path(db)
    if not target.exists():
        return None  # let the direct path say there is no index
    return service.ask_find(
        service.find_request(target, model, device, precision, text, options),
        on_trouble=lambda why: warn(f"vidsearch: the query service {why}; searching without it"),
    )


def _loading(name: str, loaded: list[str], serve_next: bool, idle: float) -> None:
    """Say on stderr why this query waits (the model loads), except for the quick bundled model."""
    from vidsearch.models import LITE

    loaded.append(name)
    if name == LITE:
        return
    later = (f"; a background service keeps it loaded for the next queries ({idle:g} s idle, --no-serve to skip)"
             if serve_next else "")
    warn(f"loading the model {name}{later}")


def _explain_on_stderr(hits: list[Hit]) -> None:
    """Each hit's breakdown for the formats that have no room for it (TSV, paths, playlists)."""
    from vidsearch.output.present import display_path, explain_line, format_time

    for rank, hit in enumerate(hits, 1):
        warn(f"#{rank} {format_time(hit.start)}-{format_time(hit.end)} {display_path(hit.path)}")
        warn(f"   {explain_line(hit)}")
