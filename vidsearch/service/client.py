"""The client side of the query service: ask a running service, or start one in the background."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidsearch import __version__, config, errors
from vidsearch.config import socket_path
from vidsearch.types import Hit, VideoFacts

if TYPE_CHECKING:
    from vidsearch.library import Found
    from vidsearch.query.options import SearchOptions

CONNECT_TIMEOUT = 0.5
# The answer of a service started from another version of vidsearch: it stops, and the asker
# searches itself, so an upgrade never leaves old code answering.
STALE = "StaleService"


def request(message: dict[str, Any], path: Path | None = None, timeout: float | None = None) -> dict[str, Any] | None:
    """Send one request to the running service; its answer, or None when no service is running.

    A socket that is not ours (another owner, or readable by others) is never used.
    """
    path = path or socket_path()
    try:
        info = path.stat()
    except OSError:
        return None
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(str(path))
        except OSError:
            return None  # a stale socket: no service
        sock.settimeout(timeout)
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = read_line(sock)
    except OSError:
        return None
    finally:
        sock.close()
    if not data:
        return None
    return dict(json.loads(data))


def read_line(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            break
    return b"".join(chunks)


def find_request(
    db: Path, model: str | None, device: str, precision: str, text: str, options: Any
) -> dict[str, Any]:
    """The request ``find`` sends: absolute paths, since the service runs elsewhere (cwd, env)."""
    opts = dataclasses.asdict(options)
    opts["within"] = [os.path.abspath(p) for p in opts["within"]]
    if opts.get("like"):
        opts["like"]["path"] = os.path.abspath(opts["like"]["path"])
    return {
        "op": "find",
        "version": __version__,
        "db": os.path.abspath(db),
        "model": model,
        "device": device,
        "precision": precision,
        "text": text,
        "options": opts,
    }


def ask_find(message: dict[str, Any]) -> Found | None:
    """Ask the running service to search; what it found, or None when none runs.

    Raises the service's typed error (UsageError...) when it refused the query.
    """
    answer = request(message)
    if answer is None or answer.get("kind") == STALE:
        return None
    if not answer.get("ok"):
        kind = getattr(errors, str(answer.get("kind")), errors.VidsearchError)
        if not (isinstance(kind, type) and issubclass(kind, errors.VidsearchError)):
            kind = errors.VidsearchError
        raise kind(str(answer.get("error")))
    from vidsearch.library import Found

    hits = [hit_from_json(h) for h in answer["hits"]]
    return Found(hits, list(answer.get("explanation", [])), list(answer.get("notes", [])))


def options_from_json(record: dict[str, Any]) -> SearchOptions:
    """The SearchOptions a find request carries (fields this version does not know are ignored)."""
    from vidsearch.query.options import LikeRef, SearchOptions

    opts = dict(record)
    opts["within"] = tuple(opts.get("within") or ())
    opts["exclude"] = tuple(opts.get("exclude") or ())
    opts["like"] = LikeRef(**opts["like"]) if opts.get("like") else None
    known = {f.name for f in dataclasses.fields(SearchOptions)}
    return SearchOptions(**{k: v for k, v in opts.items() if k in known})


def hit_to_json(hit: Hit) -> dict[str, Any]:
    record = dataclasses.asdict(hit)
    record["moment_ids"] = list(hit.moment_ids)
    return record


def hit_from_json(record: dict[str, Any]) -> Hit:
    fields = dict(record)
    fields["moment_ids"] = tuple(fields["moment_ids"])
    facts = fields.get("facts")
    if facts is not None:
        fields["facts"] = VideoFacts(**{**facts, "place_names": tuple(facts.get("place_names") or ())})
    return Hit(**fields)


def start_background(idle: float | None = None) -> None:
    """Start ``vidsearch serve`` detached; it exits by itself after ``idle`` seconds without a query
    (default: ``config.serve_idle()``), and at once when another service already runs."""
    import subprocess

    seconds = config.serve_idle() if idle is None else idle
    subprocess.Popen(
        [sys.executable, "-m", "vidsearch", "serve", "--idle", str(seconds)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


