"""A small local query service: one process that keeps the model (and open indexes) in memory.

Loading a model costs seconds (importing torch alone takes several); a running service answers
``vidsearch find`` in well under a second. It is reached only through a Unix socket in a folder
only its user can enter (0700), the socket itself 0600, and it checks the peer's uid on every
connection; there is no TCP port. It exits after ``idle`` seconds without a request.

Where: ``$VIDSEARCH_SOCKET`` when set; else ``$XDG_RUNTIME_DIR/vidsearch-<hash>/service.sock`` (the
hash is of the user data folder, so separate data folders get separate services); else
``<user data folder>/run/service.sock``.

Protocol: one JSON line each way per connection. ``{"op": "find", ...}`` -> ``{"ok": true, "hits":
[...], "explanation": [...]}`` or ``{"ok": false, "error": "...", "kind": "UsageError"}``;
``{"op": "ping"}`` and ``{"op": "stop"}``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import socket
import stat
import struct
import sys
import tempfile
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch import errors
from vidsearch.types import Hit

ENV_SOCKET = "VIDSEARCH_SOCKET"
IDLE_SECONDS = 600.0
QUERY_CACHE_SIZE = 2048  # query texts whose vectors a service keeps (per model)
CONNECT_TIMEOUT = 0.5
_MAX_REQUEST = 1 << 20


def socket_path() -> Path:
    """Where this user's service listens (see the module docstring)."""
    env = os.environ.get(ENV_SOCKET)
    if env:
        return Path(env)
    from platformdirs import user_data_path

    data = user_data_path("vidsearch", appauthor=False)
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        tag = hashlib.sha256(os.fsencode(data)).hexdigest()[:10]
        return Path(runtime) / f"vidsearch-{tag}" / "service.sock"
    return data / "run" / "service.sock"


def _private_dir(folder: Path) -> None:
    """Create ``folder`` 0700, or check that an existing one is ours and private."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = folder.stat()
    if info.st_uid != os.getuid():
        raise errors.UsageError(f"{folder} belongs to another user; set {ENV_SOCKET} to a private path")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)


# ---- the client side -------------------------------------------------------------------------
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
        data = _read_line(sock)
    except OSError:
        return None
    finally:
        sock.close()
    if not data:
        return None
    return dict(json.loads(data))


def _read_line(sock: socket.socket) -> bytes:
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
        "db": os.path.abspath(db),
        "model": model,
        "device": device,
        "precision": precision,
        "text": text,
        "options": opts,
    }


def ask_find(message: dict[str, Any]) -> tuple[list[Hit], list[str]] | None:
    """Ask the running service to search; (hits, explanation lines), or None when none runs.

    Raises the service's typed error (UsageError...) when it refused the query.
    """
    answer = request(message)
    if answer is None:
        return None
    if not answer.get("ok"):
        kind = getattr(errors, str(answer.get("kind")), errors.VidsearchError)
        if not (isinstance(kind, type) and issubclass(kind, errors.VidsearchError)):
            kind = errors.VidsearchError
        raise kind(str(answer.get("error")))
    return [hit_from_json(h) for h in answer["hits"]], list(answer.get("explanation", []))


def hit_to_json(hit: Hit) -> dict[str, Any]:
    record = dataclasses.asdict(hit)
    record["moment_ids"] = list(hit.moment_ids)
    return record


def hit_from_json(record: dict[str, Any]) -> Hit:
    fields = dict(record)
    fields["moment_ids"] = tuple(fields["moment_ids"])
    return Hit(**fields)


def lazy_model(name: str, device: str, precision: str, model_id: str) -> LazyEmbedder:
    """The model ``name`` behind a query-vector cache: loaded only when a query is new."""
    from vidsearch.cli import common

    return LazyEmbedder(lambda: common.load_model(name, device, precision), QueryCache(model_id))


def start_background(idle: float = IDLE_SECONDS) -> None:
    """Start ``vidsearch serve`` detached (it exits by itself after ``idle`` idle seconds)."""
    import subprocess

    subprocess.Popen(
        [sys.executable, "-m", "vidsearch", "serve", "--idle", str(idle)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


# ---- query vectors remembered on disk ---------------------------------------------------------
class QueryCache:
    """Vectors of query texts already embedded, one small file each, per model id.

    A repeated query then needs no model at all (no torch import, no weights): the answer comes
    from the index alone. Files are written atomically; a torn or foreign file is a miss.
    """

    def __init__(self, model_id: str, folder: Path | None = None) -> None:
        if folder is None:
            from platformdirs import user_cache_path

            folder = user_cache_path("vidsearch", appauthor=False) / "queries"
        self.folder = folder / hashlib.sha256(model_id.encode()).hexdigest()[:16]

    def _file(self, text: str) -> Path:
        return self.folder / (hashlib.sha256(text.encode()).hexdigest()[:32] + ".npy")

    def get(self, text: str) -> np.ndarray | None:
        try:
            vector = np.load(self._file(text), allow_pickle=False)
        except (OSError, ValueError):
            return None
        return vector.astype(np.float32) if vector.ndim == 1 else None

    def put(self, text: str, vector: np.ndarray) -> None:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                np.save(f, np.asarray(vector, np.float32))
            os.replace(tmp, self._file(text))
        except OSError:
            pass  # the cache only saves time


class LazyEmbedder:
    """Stands in for a model: query vectors come from the cache when known, and the model is loaded
    only when something else is needed (a new text, a reference clip, a model attribute)."""

    def __init__(self, load: Any, cache: QueryCache) -> None:
        self._load = load
        self._cache = cache
        self._model: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def _real(self) -> Any:
        if self._model is None:
            self._model = self._load()
        return self._model

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._real(), name)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        cached = {t: self._cache.get(t) for t in dict.fromkeys(texts)}
        found = {t: v for t, v in cached.items() if v is not None}
        missing = [t for t, v in cached.items() if v is None]
        if missing:
            for t, v in zip(missing, self._real().embed_queries(missing), strict=True):
                found[t] = np.asarray(v, np.float32)
                self._cache.put(t, found[t])
        if not texts:
            return np.asarray(self._real().embed_queries([]), np.float32)
        return np.stack([found[t] for t in texts])


# ---- the service side ------------------------------------------------------------------------
class _CachedQueries:
    """An embedder whose ``embed_queries`` remembers vectors of texts it has seen (LRU)."""

    def __init__(self, embedder: Any, size: int = QUERY_CACHE_SIZE) -> None:
        self._embedder = embedder
        self._size = size
        self._seen: OrderedDict[str, np.ndarray] = OrderedDict()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._seen]
        if missing:
            for t, v in zip(missing, self._embedder.embed_queries(missing), strict=True):
                self._seen[t] = np.asarray(v, np.float32)
        for t in texts:
            self._seen.move_to_end(t)
        while len(self._seen) > self._size:
            self._seen.popitem(last=False)
        if not texts:
            return np.zeros((0, self._embedder.dim), np.float32)
        return np.stack([self._seen[t] for t in texts])


class Service:
    """Holds models and open indexes; answers requests one at a time."""

    def __init__(self) -> None:
        self.embedders: dict[tuple[str, str, str], Any] = {}
        self.stores: dict[str, Any] = {}

    def close(self) -> None:
        for store in self.stores.values():
            store.close()
        self.stores.clear()
        for embedder in self.embedders.values():
            with contextlib.suppress(Exception):
                getattr(embedder, "close", lambda: None)()
        self.embedders.clear()

    def _store(self, db: str) -> Any:
        from vidsearch.store import Store

        store = self.stores.get(db)
        if store is None or not Path(db).exists():
            if store is not None:
                store.close()
            store = Store.open(db, create=False)
            self.stores[db] = store
        return store

    def _embedder(self, name: str, device: str, precision: str, model_id: str) -> Any:
        key = (name, device, precision)
        if key not in self.embedders:
            self.close_models()  # one model in memory at a time
            self.embedders[key] = _CachedQueries(lazy_model(name, device, precision, model_id))
        return self.embedders[key]

    def close_models(self) -> None:
        for embedder in self.embedders.values():
            with contextlib.suppress(Exception):
                getattr(embedder, "close", lambda: None)()
        self.embedders.clear()

    def find(self, message: dict[str, Any]) -> dict[str, Any]:
        from vidsearch.cli.common import model_for
        from vidsearch.query.search import Explanation, LikeRef, SearchOptions
        from vidsearch.query.search import find as run_find

        store = self._store(str(message["db"]))
        if not store.model:
            raise errors.UsageError(f"the index {store.path} is empty; run vidsearch index PATH first")
        device, precision = str(message.get("device", "auto")), str(message.get("precision", "auto"))
        name, _ = model_for(store, message.get("model"), device)
        embedder = self._embedder(name, device, precision, store.get_meta("model_id") or name)
        opts = dict(message["options"])
        opts["within"] = tuple(opts.get("within") or ())
        opts["exclude"] = tuple(opts.get("exclude") or ())
        opts["like"] = LikeRef(**opts["like"]) if opts.get("like") else None
        known = {f.name for f in dataclasses.fields(SearchOptions)}
        options = SearchOptions(**{k: v for k, v in opts.items() if k in known})
        explanation = Explanation() if options.explain else None
        hits = run_find(store, embedder, str(message.get("text", "")), options, explanation)
        return {
            "ok": True,
            "hits": [hit_to_json(h) for h in hits],
            "explanation": explanation.lines if explanation else [],
        }

    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        try:
            if op == "ping":
                return {"ok": True, "pid": os.getpid(), "models": [k[0] for k in self.embedders]}
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


def serve(path: Path | None = None, idle: float = IDLE_SECONDS, ready: Any = None) -> bool:
    """Listen on the socket until ``idle`` seconds pass without a request (or a stop request).

    Returns False at once when another service already holds the socket. ``ready`` (a callable)
    is called once listening.
    """
    path = path or socket_path()
    _private_dir(path.parent)
    lock_fd = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
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
        finally:
            service.close()
            listener.close()
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        return True
    finally:
        os.close(lock_fd)


def _answer(service: Service, conn: socket.socket) -> bool:
    """Answer one connection; False when it asked the service to stop."""
    with conn:
        if _peer_uid(conn) not in (None, os.getuid()):
            return True  # another user: no answer at all
        conn.settimeout(30.0)
        try:
            data = _read_line(conn)
            if len(data) > _MAX_REQUEST:
                return True
            message = json.loads(data or b"{}")
        except (OSError, ValueError):
            return True
        if message.get("op") == "stop":
            with contextlib.suppress(OSError):
                conn.sendall(b'{"ok": true}\n')
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
