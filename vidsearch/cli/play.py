"""`vidsearch play QUERY...`: find the moments and open them in a video player at their times."""

from __future__ import annotations

from typing import Annotated

import typer

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
)


def play(
    query: Annotated[
        list[str] | None,
        typer.Argument(help="What to look for, in plain words (as for find).", metavar="QUERY"),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many moments to play, best first.")] = 10,
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
        typer.Option("--like", help="A reference clip: PATH, PATH@TIME or PATH@START-END.", metavar="CLIP"),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option("--min-score", help="Hide hits below this calibrated score.", show_default=False),
    ] = None,
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
) -> None:
    """Find the moments that best match QUERY and play them, best first, each from its start to its end.

    The player is $VIDSEARCH_PLAYER when set (mpv and vlc are recognised by name; any other command
    gets {path}, {start} and {end} filled in, or the files appended), else mpv (an EDL of exactly
    the moments), else VLC (each file with :start-time/:stop-time), else xdg-open or open (the best
    file, from its beginning). The hits are also printed as find prints them. Exit status 1 when
    nothing matched, 2 when no player is found.
    """
    from vidsearch.cli.find import find

    find(
        query=query,
        limit=limit,
        within=within,
        exclude=exclude,
        since=since,
        until=until,
        near=near,
        radius=radius,
        camera=camera,
        sort=sort,
        like=like,
        min_score=min_score,
        db=db,
        model=model,
        device=device,
        precision=precision,
        play=True,
    )
