"""`vidsearch serve`: keep the model loaded so `find` answers in well under a second."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    idle: Annotated[
        float | None,
        typer.Option("--idle", help="Exit after this many seconds without a query [default: $VIDSEARCH_SERVE_IDLE "
                     "or 300].", min=1.0, show_default=False),
    ] = None,
    background: Annotated[
        bool, typer.Option("--background", help="Start detached and return at once.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running service.")] = False,
    check: Annotated[bool, typer.Option("--status", help="Say whether a service is running.")] = False,
) -> None:
    """Answer `vidsearch find` from a process that keeps the model in memory.

    Listens on a Unix socket only you can reach (a 0700 folder in your runtime or data dir, the
    socket 0600); no network port. `find` uses it whenever it runs; when none runs, a find that
    has to load the model starts one in the background (find --no-serve, VIDSEARCH_AUTOSERVE=0 or
    VIDSEARCH_NO_SERVICE=1 turn that off).
    """
    from vidsearch.device import one_thread_for_small_maths

    one_thread_for_small_maths()  # a service answers queries only: small maths
    from vidsearch import config, service
    from vidsearch.cli.common import warn

    path = service.socket_path()
    seconds = config.serve_idle() if idle is None else idle
    if stop or check:
        answer = service.request({"op": "stop" if stop else "ping"}, path, timeout=5.0)
        if answer is None:
            warn(f"no service is running ({path})")
            raise typer.Exit(1)
        if check:
            print(f"service running: pid {answer.get('pid')}, socket {path}, models loaded: "
                  f"{', '.join(answer.get('models', [])) or 'none yet'}")
        return
    if background:
        service.start_background(seconds)
        return
    if not service.serve(path, seconds, ready=lambda: warn(f"vidsearch service listening on {path}")):
        warn(f"a service is already running ({path})")
