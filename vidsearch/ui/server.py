"""The web page's server: loopback only, one random token, files named by moment id only.

Every request must carry the token the command printed (``?token=`` or the ``X-Vidsearch-Token``
header), else 403: other users of the machine and web pages open in the browser cannot reach the
library. The token is compared in constant time and never logged. A video or picture is asked for by
moment id; the file behind it comes from the index, never from the request, so no path can be
reached that the index does not hold (404 for anything else). Searching goes through
``vidsearch.Library.find``, so the page gets the hits ``vidsearch find`` prints.

Routes (all GET unless said):

- ``/``: the page; ``/static/app.js``, ``/static/app.css``: its script and style
- ``/api/info``: the library (roots, counts) and the search controls (:data:`CONTROLS`)
- ``/api/find?q=...``: hits as JSON (``find --json``'s records plus what the page needs)
- ``/api/still/ID``, ``/api/strip/ID``: a moment's thumbnails (JPEG)
- ``/api/video/ID``: the moment's video file, with byte ranges (206 Partial Content)
- ``POST /api/play/ID?start=S&end=E``: play that span in the user's player (``vidsearch play``'s)
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import os
import re
import secrets
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit

from vidsearch.errors import UsageError, VidsearchError
from vidsearch.library import Library
from vidsearch.output.present import display_path, first_moment, hit_record
from vidsearch.query.options import LikeRef, SearchOptions
from vidsearch.types import Hit

HOST = "127.0.0.1"
MAX_LIMIT = 200
CHUNK = 256 * 1024  # bytes per write while streaming a video
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_ID = re.compile(r"^/api/(still|strip|video|play)/([0-9]{1,18})$")
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
# what the page may load and do: only this server, pictures also inline (data:), nothing else
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Control:
    """One search filter the page shows as a control: a ``SearchOptions`` field set from request values.

    ``kind`` tells the page which input to draw: "path" (a folder, the library roots offered), "text",
    "date" or "number". ``many``: the control can be given several times (each value one entry).
    ``parse`` turns the request's values (one or more strings) into the field's value; it raises
    UsageError with a message for the page when a value is not usable.
    """

    field: str
    label: str
    kind: str
    help: str
    parse: Callable[[list[str]], Any]
    many: bool = False


def _paths(values: list[str]) -> tuple[str, ...]:
    return tuple(os.path.expanduser(v.strip()) for v in values if v.strip())


def _texts(values: list[str]) -> tuple[str, ...]:
    return tuple(v.strip() for v in values if v.strip())


# The filters offered beside the query box. A new SearchOptions filter (dates, places, cameras) is one
# row here with the parser its command-line option uses; rows whose field SearchOptions lacks are left out.
def _text(values: list[str]) -> str | None:
    return values[-1].strip() or None if values else None


def _kilometres(values: list[str]) -> float | None:
    raw = _text(values)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"radius must be a number of kilometres (got {raw!r})") from None


CONTROLS: tuple[Control, ...] = (
    Control("within", "in", "path", "Only files at or under this folder.", _paths, many=True),
    Control("exclude", "not", "text", "Leave out moments showing this.", _texts, many=True),
    Control("said", "said", "text", "Only moments where this was said (speech or subtitles).", _text),
    Control("since", "since", "text", "Filmed on or after: YYYY, YYYY-MM, YYYY-MM-DD or words ('last summer').",
            _text),
    Control("until", "until", "text", "Filmed on or before: YYYY, YYYY-MM, YYYY-MM-DD or words.", _text),
    Control("near", "near", "text", "Filmed near a place: a city, region or country, or LAT,LON.", _text),
    Control("radius_km", "km", "number", "Kilometres around 'near' (default: by the place's size).", _kilometres),
    Control("camera", "camera", "text", "Filmed with a camera whose make or model holds this text.", _text),
)


def active_controls() -> list[Control]:
    """The controls whose field this vidsearch's SearchOptions has."""
    known = {f.name for f in fields(SearchOptions)}
    return [c for c in CONTROLS if c.field in known]


def _number(params: dict[str, list[str]], name: str) -> float | None:
    raw = (params.get(name) or [""])[0].strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"{name} must be a number (got {raw!r})") from None


class UiApp:
    """What the server answers with: a library behind a lock (the page asks from several threads)."""

    def __init__(self, library: Library, token: str, player: Callable[[Sequence[Hit]], str] | None = None) -> None:
        self.library = library
        self.token = token
        self.lock = threading.Lock()
        self._play = player or _play_in_background

    # ---- searching ---------------------------------------------------------------------------
    def search_request(self, params: dict[str, list[str]]) -> tuple[str, SearchOptions]:
        """The query text and options a request asks for. Raises UsageError."""
        text = (params.get("q") or [""])[0].strip()
        limit = _number(params, "limit")
        settings: dict[str, Any] = {
            "limit": max(1, min(MAX_LIMIT, int(limit))) if limit is not None else 24,
            "explain": (params.get("explain") or ["0"])[0] in ("1", "true", "on"),
            "min_match": _number(params, "min_match"),
        }
        for control in active_controls():
            values = params.get(control.field) or []
            if values:
                settings[control.field] = control.parse(values)
        like = (params.get("like") or [""])[0].strip()
        if like:
            moment = self.library.moment(int(like)) if like.isdigit() and len(like) <= 18 else None
            if moment is None:
                raise UsageError("the reference moment is not in the index any more; search again")
            start, end = _number(params, "like_start"), _number(params, "like_end")
            settings["like"] = LikeRef(moment.path, moment.start if start is None else start,
                                       moment.end if end is None else end)
        filtering = any(settings.get(name) for name in ("said", "since", "until", "near", "camera"))
        if not text and "like" not in settings and not settings.get("exclude") and not filtering:
            raise UsageError('say what to look for, e.g. "a dog on a beach"')
        return text, SearchOptions(**settings)

    def find(self, params: dict[str, list[str]]) -> dict[str, Any]:
        """The answer to ``/api/find``: {"hits": [...], "explanation": [...]}."""
        with self.lock:
            text, options = self.search_request(params)
            found = self.library.find(text, options)
            hits = [self._hit_json(hit) for hit in found.hits]
        return {"query": text, "hits": hits, "explanation": found.explanation}

    def _hit_json(self, hit: Hit) -> dict[str, Any]:
        record = hit_record(hit)  # what find --json prints for it
        moment_id = first_moment(hit)
        moment = self.library.moment(moment_id) if moment_id is not None else None
        strip = self.library.strip(moment_id) if moment_id is not None else None
        record.update(
            id=moment_id,
            moments=list(hit.moment_ids),
            name=os.path.basename(display_path(hit.path)),
            codec=moment.codec if moment else None,
            thumbnail=strip is not None,
            strip_frames=strip[1] if strip else 0,
        )
        return record

    def info(self) -> dict[str, Any]:
        with self.lock:
            status = self.library.status()
        return {
            "index": str(status.path),
            "model": status.model,
            "videos": status.videos,
            "moments": status.moments,
            "thumbnails": status.thumbnails,
            "roots": [{"path": p, "online": online} for p, online in status.roots],
            "controls": [
                {"field": c.field, "label": c.label, "kind": c.kind, "help": c.help, "many": c.many}
                for c in active_controls()
            ],
        }

    # ---- by moment id ------------------------------------------------------------------------
    def picture(self, kind: str, moment_id: int) -> bytes | None:
        with self.lock:
            if kind == "still":
                return self.library.still(moment_id)
            strip = self.library.strip(moment_id)
            return strip[0] if strip else None

    def video_path(self, moment_id: int) -> str | None:
        """The file of ``moment_id`` when it is indexed and reachable now, else None."""
        with self.lock:
            moment = self.library.moment(moment_id)
        if moment is None or not os.path.isfile(moment.path):
            return None
        return moment.path

    def play(self, moment_id: int, params: dict[str, list[str]]) -> dict[str, Any] | None:
        """Open the moment (or the span asked for, within its file) in the user's player."""
        with self.lock:
            moment = self.library.moment(moment_id)
        if moment is None:
            return None
        start, end = _number(params, "start"), _number(params, "end")
        start = moment.start if start is None else max(0.0, start)
        end = moment.end if end is None or end <= start else end
        player = self._play([Hit(moment.path, start, end, 0.0, moment.video_id, (moment_id,))])
        return {"player": player, "path": moment.path, "start": start, "end": end}


def _play_in_background(hits: Sequence[Hit]) -> str:
    """Start the user's player on ``hits`` as ``vidsearch play`` would, without waiting for it to close;
    the player's name. Raises PlayerNotFoundError at once when there is none."""
    from vidsearch.output.player import find_player, play

    player = find_player()

    def run() -> None:
        try:
            play(hits, player)
        except VidsearchError as exc:
            print(f"vidsearch ui: {exc}", file=sys.stderr)

    threading.Thread(target=run, name="player", daemon=True).start()
    return os.path.basename(player.command[0])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: a video element makes many range requests
    server_version = "vidsearch"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines hold the token; errors are reported where they happen

    def do_GET(self) -> None:
        self._dispatch(head=False)

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        self._dispatch(head=False, post=True)

    # ---- routing -----------------------------------------------------------------------------
    def _dispatch(self, *, head: bool, post: bool = False) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        params = parse_qs(url.query, keep_blank_values=True)
        length = self.headers.get("Content-Length", "").strip()
        if length.isdigit():  # nothing is read from bodies; the bytes are drained for keep-alive
            self.rfile.read(min(int(length), 1 << 16))
        if not self._allowed(app, params):
            self._text(HTTPStatus.FORBIDDEN, "forbidden: open the address that `vidsearch ui` printed\n", head)
            return
        try:
            self._route(app, url.path, params, head=head, post=post)
        except UsageError as exc:
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST, head)
        except VidsearchError as exc:
            self._json({"error": str(exc)}, HTTPStatus.CONFLICT, head)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser stopped reading (a seek, a closed tab)
        except Exception as exc:  # one failed request must not stop the page; say what it was
            print(f"vidsearch ui: {url.path}: {type(exc).__name__}: {exc}", file=sys.stderr)
            self._json({"error": f"{type(exc).__name__}: {exc}"}, HTTPStatus.INTERNAL_SERVER_ERROR, head)

    def _allowed(self, app: UiApp, params: dict[str, list[str]]) -> bool:
        given = (params.get("token") or [""])[0] or self.headers.get("X-Vidsearch-Token", "")
        if not hmac.compare_digest(given.encode(), app.token.encode()):
            return False
        # a page elsewhere reaching this port under its own host name (DNS rebinding) is refused too
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]")
        return host in ("127.0.0.1", "localhost", "")

    def _route(self, app: UiApp, path: str, params: dict[str, list[str]], *, head: bool, post: bool) -> None:
        matched = _ID.match(path)
        if post:
            if matched and matched[1] == "play":
                answer = app.play(int(matched[2]), params)
                if answer is None:
                    self._text(HTTPStatus.NOT_FOUND, "no such moment\n", head)
                else:
                    self._json(answer, HTTPStatus.OK, head)
            else:
                self._text(HTTPStatus.NOT_FOUND, "not found\n", head)
            return
        if path == "/":
            self._page(app, head)
        elif path.startswith("/static/") and path[len("/static/"):] in STATIC:
            name = path[len("/static/"):]
            body = resources.files("vidsearch.ui").joinpath("static").joinpath(name).read_bytes()
            self._send(HTTPStatus.OK, STATIC[name], body, head)
        elif path == "/api/info":
            self._json(app.info(), HTTPStatus.OK, head)
        elif path == "/api/find":
            self._json(app.find(params), HTTPStatus.OK, head)
        elif matched and matched[1] in ("still", "strip"):
            picture = app.picture(matched[1], int(matched[2]))
            if picture is None:
                self._text(HTTPStatus.NOT_FOUND, "no such thumbnail\n", head)
            else:
                self._send(HTTPStatus.OK, "image/jpeg", picture, head, cache=True)
        elif matched and matched[1] == "video":
            file = app.video_path(int(matched[2]))
            if file is None:
                self._text(HTTPStatus.NOT_FOUND, "no such moment, or its file is not reachable now\n", head)
            else:
                self._video(file, head)
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found\n", head)

    # ---- answers -----------------------------------------------------------------------------
    def _page(self, app: UiApp, head: bool) -> None:
        from html import escape

        page = resources.files("vidsearch.ui").joinpath("static").joinpath("index.html").read_text(encoding="utf-8")
        body = page.replace("{{token}}", escape(app.token, quote=True)).encode("utf-8")
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body, head)

    def _json(self, value: Any, status: HTTPStatus, head: bool) -> None:
        body = json.dumps(value, ensure_ascii=True).encode("ascii")  # odd file names stay valid JSON
        self._send(status, "application/json", body, head)

    def _text(self, status: HTTPStatus, text: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", text.encode("utf-8"), head)

    def _headers(self, status: HTTPStatus, content_type: str, length: int, *, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Cache-Control", "private, max-age=3600" if cache else "no-store")
        self.send_header("Content-Security-Policy", _CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")

    def _send(self, status: HTTPStatus, content_type: str, body: bytes, head: bool, *, cache: bool = False) -> None:
        self._headers(status, content_type, len(body), cache=cache)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _video(self, path: str, head: bool) -> None:
        """The file, whole (200) or the one byte range asked for (206; 416 when outside the file)."""
        size = os.path.getsize(path)
        content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        first, last = 0, size - 1
        status = HTTPStatus.OK
        wanted = self.headers.get("Range")
        match = _RANGE.match(wanted.strip()) if wanted else None  # several ranges: the whole file
        if match and (match[1] or match[2]):
            if match[1]:
                first = int(match[1])
                last = min(int(match[2]), size - 1) if match[2] else size - 1
            else:  # the last N bytes
                first = max(0, size - int(match[2]))
            if first >= size or last < first:
                self._headers(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, "text/plain", 0)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        self._headers(status, content_type, last - first + 1)
        self.send_header("Accept-Ranges", "bytes")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.end_headers()
        if head:
            return
        with open(path, "rb") as file:
            file.seek(first)
            left = last - first + 1
            while left > 0:
                chunk = file.read(min(CHUNK, left))
                if not chunk:
                    break  # the file shrank while being sent
                self.wfile.write(chunk)
                left -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a free port of our own, never one another server holds

    def __init__(self, port: int, app: UiApp) -> None:
        self.app = app
        super().__init__((HOST, port), _Handler)


class UiServer:
    """The page's server for ``library`` on 127.0.0.1 (``port`` 0: a free one), with a new random token.

    ``player`` starts a player on hits and returns its name (default: the user's player, as
    ``vidsearch play`` finds it, started in the background). Use :meth:`serve_forever` (or run it in
    a thread) and :meth:`close`.
    """

    def __init__(
        self,
        library: Library,
        *,
        port: int = 0,
        token: str | None = None,
        player: Callable[[Sequence[Hit]], str] | None = None,
    ) -> None:
        self.token = token or secrets.token_urlsafe(24)
        try:
            self.httpd = _Server(port, UiApp(library, self.token, player))
        except OSError as exc:
            raise UsageError(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from exc

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.httpd.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The page's address, token included: what the user opens."""
        host, port = self.address
        return f"http://{host}:{port}/?token={self.token}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.25)

    def shutdown(self) -> None:
        """Stop ``serve_forever`` (from another thread)."""
        self.httpd.shutdown()

    def close(self) -> None:
        self.httpd.server_close()
