"""`vidsearch ui`: search and watch in a local web page."""

from __future__ import annotations

from typing import Annotated

import typer

from vidsearch.cli.options import DbOption, DeviceOption, ModelOption, PrecisionOption


def ui(
    port: Annotated[
        int, typer.Option("--port", help="Port on 127.0.0.1 to listen on (0: a free one).", min=0, max=65535)
    ] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address only; do not open a browser.")
    ] = False,
    db: DbOption = None,
    model: ModelOption = None,
    device: DeviceOption = "auto",
    precision: PrecisionOption = "auto",
) -> None:
    """Open a web page to search the library: thumbnails of the hits, each played at its time.

    The page listens on 127.0.0.1 only and prints its address with a random token; only a request
    that carries the token is answered, so other users and other web pages cannot reach the library.
    Queries read as for find (clauses, "not ...", "A then B"); each hit offers "more like this" and
    "like this but ...". A file the browser cannot play (its codec) opens in your player as with
    vidsearch play. Runs until interrupted (Ctrl-C).
    """
    from vidsearch.device import one_thread_for_small_maths

    one_thread_for_small_maths()  # the page asks for queries and pictures: small maths
    import webbrowser

    from vidsearch.cli.common import open_library, warn
    from vidsearch.ui import UiServer

    with open_library(db, create=False, model=model, device=device, precision=precision) as library:
        server = UiServer(library, port=port)
        try:
            print(server.url, flush=True)  # the command's result: where the page is
            warn("vidsearch ui: serving the page at the address above; Ctrl-C stops it")
            if not no_browser and not webbrowser.open(server.url):
                warn("no browser could be opened here; open the address above in one")
            server.serve_forever()
        finally:
            server.close()
