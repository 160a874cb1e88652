"""A small local query service: one process that keeps the model (and open indexes) in memory.

Loading a model costs seconds (importing torch alone takes several); a running service answers
``vidsearch find`` in well under a second. It is reached only through a Unix socket in a folder
only its user can enter (0700), the socket itself 0600, and it checks the peer's uid on every
connection; there is no TCP port. It exits after ``idle`` seconds without a request.

Where: see ``vidsearch.config.socket_path``.

Protocol: one JSON line each way per connection. ``{"op": "find", ...}`` -> ``{"ok": true, "hits":
[...], "explanation": [...]}`` or ``{"ok": false, "error": "...", "kind": "UsageError"}`` (the kind
is the name of a class in ``vidsearch.errors``, rebuilt on the client's side); ``{"op": "ping"}``
and ``{"op": "stop"}``.

``client`` asks, ``server`` answers; both share the query-vector cache (``vidsearch.embed.cache``).
"""

from typing import Any

from vidsearch.config import ENV_SOCKET, socket_path
from vidsearch.service.client import ask_find, find_request, request, start_background

__all__ = ["ENV_SOCKET", "ask_find", "find_request", "request", "serve", "socket_path", "start_background"]


def __getattr__(name: str) -> Any:
    # the server side (numpy, the store, the library) loads only in the process that serves
    if name == "serve":
        from vidsearch.service.server import serve

        return serve
    raise AttributeError(f"module 'vidsearch.service' has no attribute {name!r}")
