"""The query service itself: listen on the private socket, answer find requests from open libraries."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import __version__, errors
from vidsearch.config import ENV_SOCKET, SERVE_IDLE_SECONDS, socket_path
from vidsearch.embed.cache import lazy_model
from vidsearch.library import Library
from vidsearch.locks import exclusive
from vidsearch.service.client import STALE, hit_to_json, options_from_json, read_line

_MAX_REQUEST = 1 << 20


def _private_dir(folder: Path) -> None:
    """Create ``folder`` 0700, or check that an existing one is ours and private."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise errors.UsageError(f"{folder} belongs to another user; set {ENV_SOCKET} to a private path")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)


class Service:
    """Holds open libraries and one model at a time; answers requests one at a time."""

    def __init__(self) -> None:
        self.libraries: dict[str, Library] = {}
        self._model: Any = None
        self._model_key: tuple[str, str, str, str] | None = None

    def close(self) -> None:
        for library in self.libraries.values():
            library.close()
        self.libraries.clear()
        self.close_models()

    def _library(self, db: str) -> Library:
        library = self.libraries.get(db)
        if library is None or not Path(db).exists():
            if library is not None:
                library.close()
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
        library = self._library(str(message["db"]))
        library.requested_model = message.get("model")
        library.device = str(message.get("device", "auto"))
        library.precision = str(message.get("precision", "auto"))
        found = library.find(str(message.get("text", "")), options_from_json(message["options"]))
        return {"ok": True, "hits": [hit_to_json(h) for h in found.hits], "explanation": found.explanation,
                "notes": found.notes}

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        try:
            if op == "ping":
                models = [self._model_key[0]] if self._model_key else []
                return {"ok": True, "pid": os.getpid(), "models": models}
            if op == "find":
                return self.find(message)
            return {"ok": False, "error": f"unknown request {op!r}", "kind": "UsageError"}
        except errors.VidsearchError as exc:
            return {"ok": False, "error": str(exc), "kind": type(exc).__name__}


def _peer_uid(conn: socket.socket) -> int | None:
    if not hasattr(socket, "SO_PEERCRED"):
        return None  # not Linux: the 0700 folder and 0600 socket are the guard
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, _ = struct.unpack("3i", creds)
    return int(uid)


def serve(path: Path | None = None, idle: float = SERVE_IDLE_SECONDS, ready: Any = None) -> bool:
    """Listen on the socket until ``idle`` seconds pass without a request (or a stop request).

    Returns False at once when another service already holds the socket. ``ready`` (a callable)
    is called once listening.
    """
    path = path or socket_path()
    _private_dir(path.parent)
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
        listener.listen(8)
        service = Service()
        restore = _stop_on_sigterm()
        try:
            if ready is not None:
                ready()
            last = time.monotonic()
            while True:
                listener.settimeout(max(0.1, idle - (time.monotonic() - last)))
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    if time.monotonic() - last >= idle:
                        break
                    continue
                last = time.monotonic()
                if not _answer(service, conn):
                    break
                last = time.monotonic()
        except _Stopped:
            pass  # SIGTERM (systemd, kill): a clean stop, like a stop request
        finally:
            restore()
            service.close()
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return True


class _Stopped(Exception):
    """Raised in the serving loop by SIGTERM."""


def _stop_on_sigterm() -> Any:
    """Make SIGTERM end the serving loop through its clean-up (the socket removed, exit status 0);
    returns what puts the previous handler back. Only the main thread can set handlers: elsewhere
    (a service run in a thread) SIGTERM keeps its meaning."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def stop(signum: int, frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    return lambda: signal.signal(signal.SIGTERM, previous)


def _answer(service: Service, conn: socket.socket) -> bool:
    """Answer one connection; False when it asked the service to stop."""
    with conn:
        if _peer_uid(conn) not in (None, os.getuid()):
            return True  # another user: no answer at all
        conn.settimeout(30.0)
        try:
            data = read_line(conn)
            if len(data) > _MAX_REQUEST:
                return True
            message = json.loads(data or b"{}")
        except (OSError, ValueError):
            return True
        if message.get("op") == "stop":
            with contextlib.suppress(OSError):
                conn.sendall(b'{"ok": true}\n')
            return False
        if message.get("version", __version__) != __version__:
            with contextlib.suppress(OSError):
                conn.sendall(json.dumps({"ok": False, "kind": STALE, "error": "another version"}).encode() + b"\n")
            return False
        try:
            answer = service.handle(message)
        except Exception as exc:  # noqa: BLE001 - one bad request must not kill the service
            answer = {"ok": False, "error": f"the service failed: {exc}", "kind": "VidsearchError"}
        with contextlib.suppress(OSError):
            conn.sendall(json.dumps(answer, default=_plain).encode() + b"\n")
        return True


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"not JSON: {type(value).__name__}")
