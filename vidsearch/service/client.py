"""The client side of the query service: ask a running service, or start one in the background."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidsearch import __version__, config, errors
from vidsearch.config import socket_path
from vidsearch.types import Hit, VideoFacts

if TYPE_CHECKING:
    from vidsearch.library import Found
    from vidsearch.query.options import SearchOptions

# The answer of a service started from another version of vidsearch: it stops, and the asker
# searches itself, so an upgrade never leaves old code answering.
STALE = "StaleService"
CONNECT_TIMEOUT = 0.5
# Seconds without a byte from the service before `find` answers by itself. A service at work sends a
# heartbeat line every HEARTBEAT_SECONDS (even while it loads a model), so only a stopped or stuck
# one stays this silent.
SILENCE_TIMEOUT = 3.0
HEARTBEAT_SECONDS = 1.0
MAX_LINE = 64 << 20  # an answer holds at most a few thousand hits; anything longer is not one


def request(message: dict[str, Any], path: Path | None = None, timeout: float | None = None) -> dict[str, Any] | None:
    """Send one request to the running service; its answer, or None when no service is running or it
    stays silent ``timeout`` seconds (default ``SILENCE_TIMEOUT``) between heartbeats.

    A socket that is not ours (another owner, or readable by others) is never used.
    """
    return exchange(message, path, timeout)[0]


def exchange(
    message: dict[str, Any], path: Path | None = None, timeout: float | None = None
) -> tuple[dict[str, Any] | None, str]:
    """(answer, "") from the running service, or (None, why): "" when none runs, else what went wrong
    with the one that does (it stayed silent, closed early, answered garbage)."""
    path = path or socket_path()
    try:
        info = path.stat()
    except OSError:
        return None, ""
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        return None, ""
    silence = SILENCE_TIMEOUT if timeout is None else timeout
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.connect(str(path))
        except OSError:
            return None, ""  # a stale socket: no service
        sock.settimeout(silence)
        sock.sendall(json.dumps({**message, "heartbeat": True}).encode() + b"\n")
        lines = LineReader(sock, MAX_LINE)
        while True:
            line = lines.next()
            if line is None:
                return None, "closed the connection without an answer"
            try:
                answer = json.loads(line)
            except ValueError:
                return None, "answered with something that is not JSON"
            if not isinstance(answer, dict):
                return None, "answered with something that is not a JSON object"
            if answer.get("wait") is True and "ok" not in answer:
                continue  # a heartbeat: still at work
            return answer, ""
    except TimeoutError:
        return None, f"did not answer within {silence:g} s (stopped or stuck?)"
    except (OSError, LineTooLong) as exc:
        return None, f"could not be talked to ({exc})"
    finally:
        sock.close()


class LineTooLong(ValueError):
    """A line longer than the reader's limit arrived (not a request or answer of this protocol)."""


class LineReader:
    """Newline-terminated lines from a socket, each at most ``limit`` bytes; ``next()`` returns one
    (without its newline), or None at the end of the stream. Raises LineTooLong, and the socket's
    TimeoutError/OSError."""

    def __init__(self, sock: socket.socket, limit: int) -> None:
        self.sock = sock
        self.limit = limit
        self.buffer = b""
        self.closed = False

    def next(self) -> bytes | None:
        while b"\n" not in self.buffer:
            if len(self.buffer) > self.limit:
                raise LineTooLong(f"a line longer than {self.limit} bytes")
            if self.closed:
                rest, self.buffer = self.buffer, b""
                return rest or None  # a last line without its newline
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                self.closed = True
                continue
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        if len(line) > self.limit:
            raise LineTooLong(f"a line longer than {self.limit} bytes")
        return line


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


def ask_find(message: dict[str, Any], on_trouble: Callable[[str], None] | None = None) -> Found | None:
    """Ask the running service to search; what it found, or None when none runs, the one running
    is of another version, or it does not answer (``on_trouble`` then hears why, and the caller
    searches by itself).

    Raises the service's typed error (UsageError...) when it refused the query.
    """
    answer, trouble = exchange(message)
    if answer is None:
        if trouble and on_trouble is not None:
            on_trouble(trouble)
        return None
    if answer.get("kind") == STALE:
        return None
    if not answer.get("ok"):
        kind = getattr(errors, str(answer.get("kind")), errors.VidsearchError)
        if not (isinstance(kind, type) and issubclass(kind, errors.VidsearchError)):
            kind = errors.VidsearchError
        raise kind(str(answer.get("error")))
    from vidsearch.library import Found

    hits = [hit_from_json(h) for h in answer["hits"]]
    return Found(hits, list(answer.get("explanation", [])), list(answer.get("notes", [])))


def options_from_json(record: Any) -> SearchOptions:
    """The SearchOptions a find request carries (fields this version does not know are ignored).

    Raises UsageError for a record that is not options (wrong types, values out of range).
    """
    from vidsearch.query.options import LikeRef, SearchOptions

    if not isinstance(record, dict):
        raise errors.UsageError("malformed request: options must be a JSON object")
    opts = dict(record)
    for name in ("within", "exclude"):
        value = opts.get(name) or ()
        if not isinstance(value, (list, tuple)):
            raise errors.UsageError(f"malformed request: options.{name} must be a list")
        opts[name] = tuple(value)
    like = opts.get("like")
    if like:
        if not isinstance(like, dict) or set(like) - {"path", "start", "end"}:
            raise errors.UsageError("malformed request: options.like must be {path, start, end}")
        opts["like"] = LikeRef(**like)
    else:
        opts["like"] = None
    known = {f.name for f in dataclasses.fields(SearchOptions)}
    try:
        return SearchOptions(**{k: v for k, v in opts.items() if k in known})
    except TypeError as exc:
        raise errors.UsageError(f"malformed request: {exc}") from None


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


