"""`vidsearch roots [list|add|remove] [PATHS]`: the folders the library is made of."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from vidsearch.cli.common import open_library, warn
from vidsearch.cli.options import DbOption, complete_root

ACTIONS = ("list", "add", "remove")


def _complete_action(incomplete: str) -> list[tuple[str, str]]:
    what = {"list": "the roots, with what the index holds under each", "add": "register folders",
            "remove": "forget roots and their moments"}
    return [(a, what[a]) for a in ACTIONS if a.startswith(incomplete)]


def roots(
    action: Annotated[
        str,
        typer.Argument(
            help="list (the default), add or remove.", autocompletion=_complete_action, metavar="[ACTION]"
        ),
    ] = "list",
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Folders (or files) to add, or roots to remove.",
            show_default=False,
            autocompletion=complete_root,
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="remove: do not ask before dropping the roots' moments.")
    ] = False,
    db: DbOption = None,
) -> None:
    """List, add or remove library roots (the folders `index` and `watch` look in).

    add registers folders without indexing them (`vidsearch index` then does). remove forgets roots
    and every moment found under them, after asking (or with --yes); the video files are not
    touched; videos that another root also holds (a root inside a root) stay under it. A root whose
    folder is gone (a mistyped path, a drive for good) can be removed too.
    """
    from vidsearch.errors import UsageError
    from vidsearch.output.present import display_path, plural

    if action not in ACTIONS:
        raise UsageError(f"roots: unknown action {action!r}; choose one of {', '.join(ACTIONS)}")
    given = list(paths or [])
    if action == "list" and given:
        raise UsageError("roots list takes no paths (roots add PATH, roots remove PATH)")
    if action != "list" and not given:
        raise UsageError(f"roots {action} needs at least one path, e.g. vidsearch roots {action} ~/Videos")
    with open_library(db, create=action == "add", model=None) as library:
        if action == "add":
            added = library.add_roots(given)
            for root in added:
                warn(f"added root {display_path(root.path)}")
            if added:
                warn("run `vidsearch index` to index it" if len(added) == 1 else "run `vidsearch index` to index them")
            else:
                warn("already roots; nothing added")
            return
        if action == "remove":
            chosen = library.removal(given)
            held = sum(r.moments for r in chosen)
            what = ", ".join(display_path(r.path) for r in chosen)
            if held and not yes:
                _confirm(what, held)
            for root in library.remove_roots(given):
                warn(f"removed root {display_path(root.path)} "
                     f"({plural(root.videos, 'video')}, {plural(root.moments, 'moment')})")
            return
        listed = library.roots()
    if not listed:
        warn("no roots yet: vidsearch index PATH (or vidsearch roots add PATH) adds one")
        return
    width = max(len(display_path(r.path)) for r in listed)
    for root in listed:
        state = "online " if root.online else "offline"
        sys.stdout.write(f"{display_path(root.path):<{width}}  {state}  {plural(root.videos, 'video')}, "
                         f"{plural(root.moments, 'moment')}\n")


def _confirm(what: str, moments: int) -> None:
    """Ask on the terminal before forgetting ``moments``; exit 1 on no. Without a terminal, --yes."""
    from vidsearch.errors import UsageError
    from vidsearch.output.present import plural

    held = plural(moments, "moment")
    if not sys.stdin.isatty():
        raise UsageError(f"removing {what} forgets the {held} found there; pass --yes to confirm "
                         "(there is no terminal to ask on)")
    if not typer.confirm(f"Forget {what} and the {held} found there? The video files stay.", default=False, err=True):
        warn("nothing removed")
        raise typer.Exit(1)
