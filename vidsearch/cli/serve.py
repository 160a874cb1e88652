"""`vidsearch serve`: keep the model loaded so `find` answers in well under a second."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    idle: Annotated[
        float, typer.Option("--idle", help="Exit after this many seconds without a query.", min=1.0)
    ] = 600.0,
    background: Annotated[
        bool, typer.Option("--background", help="Start detached and return at once.")
    ] = False,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running service.")] = False,
    check: Annotated[bool, typer.Option("--status", help="Say whether a service is running.")] = False,
) -> None:
    """Answer `vidsearch find` from a process that keeps the model in memory.

    Listens on a Unix socket only you can reach (a 0700 folder in your runtime or data dir, the
    socket 0600); no network port. `find` uses it whenever it runs and loads the model itself
    otherwise. Set VIDSEARCH_AUTOSERVE=1 to have `find` start one in the background when none runs.
    """
    from vidsearch.device import one_thread_for_small_maths

    one_thread_for_small_maths()  # a service answers queries only: small maths
    from vidsearch import service
    from vidsearch.cli.common import warn

    path = service.socket_path()
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
        service.start_background(idle)
        return
    if not service.serve(path, idle, ready=lambda: warn(f"vidsearch service listening on {path}")):
        warn(f"a service is already running ({path})")
