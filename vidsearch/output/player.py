"""Opening hits in the user's video player at the right times (``vidsearch play``, ``find --play``).

The player is ``$VIDSEARCH_PLAYER`` when set, else mpv, else VLC, else the desktop's opener
(``xdg-open`` / ``open``). mpv plays exactly the found moments in order (one hit: ``--start`` and
``--end``; several: an inline ``edl://`` timeline); VLC gets each file followed by its
``:start-time`` / ``:stop-time``; an opener can only open the best hit's file at its beginning.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vidsearch.config import ENV_PLAYER
from vidsearch.errors import PlayerNotFoundError, UsageError, VidsearchError
from vidsearch.output.present import mpv_edl, unique_paths
from vidsearch.types import Hit

KINDS = ("mpv", "vlc", "opener", "custom")


@dataclass(frozen=True)
class Player:
    """A player command (program and leading arguments) and how it takes start/stop times."""

    kind: str  # one of KINDS
    command: tuple[str, ...]


def kind_of(program: str) -> str:
    """``mpv``, ``vlc`` (also cvlc), ``opener`` (xdg-open, open) or ``custom``, from the program's name."""
    name = os.path.basename(program).lower().removesuffix(".exe")
    if name.startswith("mpv"):
        return "mpv"
    if name in ("vlc", "cvlc", "nvlc", "qvlc"):
        return "vlc"
    if name in ("xdg-open", "open", "gio"):
        return "opener"
    return "custom"


def find_player(env: Mapping[str, str] | None = None) -> Player:
    """The player to use: ``$VIDSEARCH_PLAYER`` (a command line, split as the shell would), else
    the first of mpv, vlc and the OS opener found on PATH.

    Raises PlayerNotFoundError when none is found or VIDSEARCH_PLAYER names a missing program.
    """
    env = os.environ if env is None else env
    wanted = env.get(ENV_PLAYER, "").strip()
    if wanted:
        try:
            command = shlex.split(wanted)
        except ValueError as exc:  # "No closing quotation", "No escaped character"
            raise UsageError(
                f"{ENV_PLAYER}={wanted!r} cannot be read as a command line ({exc}); fix its quoting, "
                f"e.g. {ENV_PLAYER}='mpv --fs'"
            ) from None
        if not command:
            raise UsageError(f"{ENV_PLAYER}={wanted!r} names no program; e.g. {ENV_PLAYER}='mpv --fs'")
        if shutil.which(command[0], path=env.get("PATH")) is None:
            raise PlayerNotFoundError(f"{ENV_PLAYER}={wanted!r}: {command[0]!r} is not an installed program")
        return Player(kind_of(command[0]), tuple(command))
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    for program in ("mpv", "vlc", opener):
        found = shutil.which(program, path=env.get("PATH"))
        if found:
            return Player(kind_of(program), (found,))
    raise PlayerNotFoundError(
        f"no video player found: install mpv or VLC, or set {ENV_PLAYER} to a player command "
        f"(e.g. {ENV_PLAYER}='mpv --fs'); exit status 2"
    )


def player_command(player: Player, hits: Sequence[Hit]) -> list[str]:
    """The argument list that plays ``hits`` (best first) with ``player``.

    A custom command may use ``{path}``, ``{start}`` and ``{end}`` (seconds), filled from the best
    hit; without them the files are appended. Raises ValueError for no hits.
    """
    if not hits:
        raise ValueError("nothing to play")
    cmd = list(player.command)
    if player.kind == "mpv":
        if len(hits) == 1:
            h = hits[0]
            return [*cmd, f"--start={h.start:.3f}", f"--end={h.end:.3f}", "--", h.path]
        return [*cmd, "--", "edl://" + mpv_edl(hits, header=False)]
    if player.kind == "vlc":
        for h in hits:
            cmd += [h.path, f":start-time={h.start:.3f}", f":stop-time={h.end:.3f}"]
        return cmd
    if player.kind == "opener":
        return [*cmd, hits[0].path]
    best = hits[0]
    fields = {"path": best.path, "start": f"{best.start:.3f}", "end": f"{best.end:.3f}"}
    if any("{" in arg for arg in cmd[1:]):
        return [cmd[0], *(_fill(arg, fields) for arg in cmd[1:])]
    return [*cmd, *unique_paths(hits)]


def _fill(arg: str, fields: Mapping[str, str]) -> str:
    for key, value in fields.items():
        arg = arg.replace("{" + key + "}", value)
    return arg


def play(hits: Sequence[Hit], player: Player | None = None, *, extra_args: Sequence[str] = ()) -> int:
    """Play ``hits`` with ``player`` (found with ``find_player`` when None) and wait for it to close.

    ``extra_args`` go right after the player's own arguments (tests pass mpv's headless options).
    Returns the player's exit status, 0. Raises PlayerNotFoundError, or VidsearchError when the
    player fails.
    """
    player = player or find_player()
    if player.kind == "opener" and (len(hits) > 1 or hits[0].start > 0):
        print(
            f"vidsearch: {os.path.basename(player.command[0])} cannot seek; opening the best file at its "
            f"start (the moment is at {hits[0].start:.1f} s). Install mpv or VLC to play the moments.",
            file=sys.stderr,
        )
    head = [*player.command, *extra_args]
    command = player_command(Player(player.kind, tuple(head)), hits)
    try:
        status = subprocess.run(command).returncode
    except OSError as e:
        raise PlayerNotFoundError(f"cannot run {command[0]}: {e.strerror or e}") from e
    if status != 0:
        raise VidsearchError(f"the player {os.path.basename(command[0])} exited with status {status}")
    return status
