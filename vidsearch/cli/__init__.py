"""The command line: thin commands over the library. Heavy imports happen inside the commands."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from vidsearch import __version__
from vidsearch.cli.clip import clip
from vidsearch.cli.commands import Command, Group, QueryCommand
from vidsearch.cli.find import find
from vidsearch.cli.index import index
from vidsearch.cli.info import models, status
from vidsearch.cli.play import play
from vidsearch.cli.roots import roots
from vidsearch.cli.serve import serve
from vidsearch.cli.ui import ui
from vidsearch.cli.watch import watch

# (name, command, the Click class that reads its words), in the order `vidsearch --help` lists them
COMMANDS: list[tuple[str, Callable[..., None], type[Command]]] = [
    ("index", index, Command),
    ("find", find, QueryCommand),
    ("status", status, Command),
    ("roots", roots, Command),
    ("models", models, Command),
    ("play", play, QueryCommand),
    ("clip", clip, Command),
    ("watch", watch, Command),
    ("serve", serve, Command),
    ("ui", ui, Command),
]


def build_app(only: str | None = None) -> typer.Typer:
    """The root command with every command, or with only the command named ``only``.

    Typer turns each registered function into a Click command (reading its signature and type hints)
    before it parses a word, which costs more for all the commands than the search a user waits for;
    a run that names its command needs that one alone.
    """
    root = typer.Typer(
        name="vidsearch",
        cls=Group,
        help="Search your videos by meaning. Index a folder once, then ask for moments in plain words.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    root.callback()(_root)
    for name, command, cls in COMMANDS:
        if only is None or name == only:
            root.command(cls=cls)(command)
    return root


def _version(value: bool) -> None:
    if value:
        print(f"vidsearch {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", "-V", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Search your videos by meaning. Index a folder once, then ask for moments in plain words."""


app = build_app()  # every command: what --help, the documentation and the tests see


def _app_for(args: list[str]) -> typer.Typer:
    """The app for a run with these words: only the command they name, when they name one first
    (shell completion, and options before a command such as --help, see every command)."""
    first = args[0] if args else ""
    if first in {name for name, _, _ in COMMANDS} and "_VIDSEARCH_COMPLETE" not in os.environ:
        return build_app(first)
    return app


def main() -> None:
    """Entry point: run the app, turning known errors into one message and an exit code.

    Set VIDSEARCH_DEBUG=1 to see tracebacks.
    """
    from vidsearch import config
    from vidsearch.errors import VidsearchError

    try:
        _app_for(sys.argv[1:])()
    except VidsearchError as exc:
        if config.debug():
            raise
        print(f"vidsearch: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:  # before a command ran (the commands that write say what was kept)
        print("vidsearch: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # the reader went away (`vidsearch find ... | head -1`): not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except Exception as exc:  # noqa: BLE001 - never a traceback with exit 1, which scripts read as "no match"
        if config.debug():
            raise
        sys.exit(_unexpected(exc))


def _unexpected(exc: Exception) -> int:
    """One line for an error no command turned into a message; returns the exit code."""
    from vidsearch.errors import IndexStorageError, InternalError

    if isinstance(exc, OSError):  # the disk or the system refused (full, read-only, gone)
        where = f" ({os.fsdecode(exc.filename)})" if exc.filename else ""
        print(f"vidsearch: {exc.strerror or exc}{where}", file=sys.stderr)
        return IndexStorageError.exit_code
    print(
        f"vidsearch: unexpected error ({type(exc).__name__}: {exc}); this is a bug: please report it with "
        f"what `VIDSEARCH_DEBUG=1 vidsearch ...` prints",
        file=sys.stderr,
    )
    return InternalError.exit_code
