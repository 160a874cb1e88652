"""The query service itself: listen on the private socket, answer find requests from open libraries.

Each client is served in its own thread, so a client that connects and says nothing, or sends a
request slowly, holds nobody else; it is dropped after ``REQUEST_TIMEOUT`` seconds. Searches run one
at a time (one model in memory); while one runs, waiting clients get a heartbeat line every second,
so they can tell a busy service from a stopped one. Anything that is not a well-formed request gets
an error answer; nothing a client sends stops the service except ``{"op": "stop"}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import __version__, errors
from vidsearch.config import ENV_SOCKET, SERVE_IDLE_SECONDS, private_dir, socket_path
from vidsearch.embed.cache import lazy_model
from vidsearch.library import Library
from vidsearch.locks import exclusive
from vidsearch.service.client import (
    HEARTBEAT_SECONDS,
    STALE,
    LineReader,
    LineTooLong,
    hit_to_json,
    options_from_json,
)

MAX_REQUEST = 1 << 20  # bytes: a request is a query and a few options
REQUEST_TIMEOUT = 2.0  # seconds a client has to send its request line
MAX_CLIENTS = 32  # connections served at once; more are told the service is busy


def _private_folder(folder: Path) -> None:
    """Create ``folder`` 0700 (with any missing parents), or check that the existing one is ours and
    private. A folder that is not is never changed (``vidsearch.config.socket_path`` picks a private
    subfolder of a shared one)."""
    private_dir(folder)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise errors.UsageError(f"{folder} belongs to another user; set {ENV_SOCKET} to a private path")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise errors.UsageError(
            f"{folder} can be entered by other users; set {ENV_SOCKET} to a path in a private folder"
        )


class Service:
    """Holds open libraries and one model at a time; answers requests one at a time."""

    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self._model: Any = None
        self._model_key: tuple[str, str, str, str] | None = None
        self._lock = threading.Lock()  # libraries and the model serve one request at a time

    def close(self) -> None:
        with self._lock:
            for library in self.libraries.values():
                library.close()
            self.libraries.clear()
            self.close_models()

    def _library(self, db: str) -> Library:
        library = self.libraries.get(db)
        if library is not None and library.store.replaced():
            # deleted and rebuilt, restored from a backup, replaced by another file: answers from the
            # file opened before would be silently wrong
            library.close()
            del self.libraries[db]
            library = None
        if library is None:
            library = Library.open(db, loader=self._load)
            self.libraries[db] = library
        return library

    def _load(self, name: str, device: str, precision: str, model_id: str) -> Any:
        key = (name, device, precision, model_id)
        if key != self._model_key:
            self.close_models()  # one model in memory at a time
            # the query-vector cache is the one on disk that direct finds share
            self._model, self._model_key = lazy_model(name, device, precision, model_id), key
        return self._model

    def close_models(self) -> None:
        if self._model is not None:
            with contextlib.suppress(Exception):
                self._model.close()
        self._model, self._model_key = None, None

    def find(self, message: dict[str, Any]) -> dict[str, Any]:
        db, text = message.get("db"), message.get("text", "")
        if not isinstance(db, str) or not db or not isinstance(text, str):
            raise errors.UsageError("malformed request: find needs db (a path) and text")
        model = message.get("model")
        device, precision = message.get("device", "auto"), message.get("precision", "auto")
        if not (model is None or isinstance(model, str)) or not isinstance(device, str) or not isinstance(
            precision, str
        ):
            raise errors.UsageError("malformed request: model, device and precision are texts")
        options = options_from_json(message.get("options", {}))
        library = self._library(db)
        library.requested_model = model
        library.device, library.precision = device, precision
        found = library.find(text, options)
        return {"ok": True, "hits": [hit_to_json(h) for h in found.hits], "explanation": found.explanation,
                "notes": found.notes}

    def handle(self, message: Any) -> dict[str, Any]:
        """The answer to one request (a parsed JSON value); never raises."""
        if not isinstance(message, dict):
            return _refusal("malformed request: a request is a JSON object")
        op = message.get("op")
        try:
            if op == "ping":
                models = [self._model_key[0]] if self._model_key else []
                return {"ok": True, "pid": os.getpid(), "models": models}
            if op == "find":
                with self._lock:
                    return self.find(message)
            return _refusal(f"unknown request {op!r}")
        except errors.VidsearchError as exc:
            return {"ok": False, "error": str(exc), "kind": type(exc).__name__}
        except Exception as exc:  # noqa: BLE001 - one bad request must not kill the service
            return {"ok": False, "error": f"the service failed: {type(exc).__name__}: {exc}", "kind": "VidsearchError"}


def _refusal(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message, "kind": "UsageError"}


def _peer_uid(conn: socket.socket) -> int | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # not Linux: the 0700 folder and 0600 socket are the guard
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)


class _Clients:
    """The connections being served, when the last request ended, and whether to stop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.last = time.monotonic()
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def idle_for(self) -> float:
        with self.lock:
            return 0.0 if self.active else time.monotonic() - self.last


def serve(path: Path | None = None, idle: float = SERVE_IDLE_SECONDS, ready: Any = None) -> bool:
    """Listen on the socket until ``idle`` seconds pass without a request (or a stop request).

    Returns False at once when another service already holds the socket. ``ready`` (a callable)
    is called once listening.
    """
    path = path or socket_path()
    _private_folder(path.parent)
    with exclusive(path.with_suffix(".lock")) as held:
        if held is None:
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()  # a socket left by a service that died
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # the socket is created 0600, never briefly open to others
        try:
            listener.bind(str(path))
        finally:
            os.umask(old_umask)
        os.chmod(path, 0o600)
        listener.listen(16)
        listener.settimeout(0.2)  # how soon a stop request or the idle time is noticed
        service = Service()
        clients = _Clients()
        restore = _stop_on_sigterm(clients.stop)
        try:
            if ready is not None:
                ready()
            while not clients.stop.is_set() and clients.idle_for() < idle:
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                clients.threads = [t for t in clients.threads if t.is_alive()]
                if len(clients.threads) >= MAX_CLIENTS:
                    _send(conn, _refusal("the service is busy; try again"))
                    conn.close()
                    continue
                with clients.lock:
                    clients.active += 1
                thread = threading.Thread(target=_client, args=(service, conn, clients), daemon=True)
                clients.threads.append(thread)
                thread.start()
        finally:
            restore()
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            for thread in clients.threads:
                thread.join(timeout=REQUEST_TIMEOUT + 1)
            service.close()
        return True


def _stop_on_sigterm(stop: threading.Event) -> Any:
    """Make SIGTERM (systemd, kill) end the serving loop through its clean-up (the socket removed,
    exit status 0), as a stop request does; returns what puts the previous handler back. Only the
    main thread can set handlers: elsewhere (a service run in a thread) SIGTERM keeps its meaning."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    return lambda: signal.signal(signal.SIGTERM, previous)


def _client(service: Service, conn: socket.socket, clients: _Clients) -> None:
    """Serve one connection: one request line in (within REQUEST_TIMEOUT), one answer line out."""
    try:
        with conn:
            if _peer_uid(conn) not in (None, os.getuid()):
                return  # another user: no answer at all
            conn.settimeout(REQUEST_TIMEOUT)
            try:
                line = LineReader(conn, MAX_REQUEST).next()
            except LineTooLong:
                _send(conn, _refusal(f"malformed request: longer than {MAX_REQUEST} bytes"))
                return
            except OSError:
                return  # silent (timed out) or gone
            if not line:
                return
            try:
                message = json.loads(line)
            except ValueError:
                _send(conn, _refusal("malformed request: not JSON"))
                return
            if isinstance(message, dict) and message.get("op") == "stop":
                _send(conn, {"ok": True})
                clients.stop.set()
                return
            if isinstance(message, dict) and message.get("version", __version__) != __version__:
                _send(conn, {"ok": False, "kind": STALE, "error": "a service of another version"})
                clients.stop.set()
                return
            _send(conn, _answer_with_heartbeats(service, conn, message))
    finally:
        with clients.lock:
            clients.active -= 1
            clients.last = time.monotonic()


def _answer_with_heartbeats(service: Service, conn: socket.socket, message: Any) -> dict[str, Any]:
    """The service's answer to ``message``; a client that asked for them gets a heartbeat line every
    HEARTBEAT_SECONDS meanwhile (waiting for another search, or loading a model)."""
    done = threading.Event()
    answer: dict[str, Any] = {}

    def work() -> None:
        try:
            answer.update(service.handle(message))
        finally:
            done.set()

    threading.Thread(target=work, daemon=True).start()
    beat = isinstance(message, dict) and message.get("heartbeat") is True
    while not done.wait(HEARTBEAT_SECONDS):
        if beat and not _send(conn, {"wait": True}):
            break  # the client went away; the search still ends (the model is not left half-used)
    done.wait()
    return answer


def _send(conn: socket.socket, record: dict[str, Any]) -> bool:
    """Write one JSON line; False when the client is gone or does not read."""
    try:
        conn.settimeout(REQUEST_TIMEOUT)
        conn.sendall(json.dumps(record, default=_plain).encode() + b"\n")
        return True
    except (OSError, TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
