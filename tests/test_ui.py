"""`vidsearch ui`'s server: loopback only, the token on every request, files by moment id only, thumbnails
as pictures, videos in byte ranges, and the hits `vidsearch find` prints."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from colour import ColourEmbedder
from videogen import Scene, solid, write_video

from vidsearch import Library
from vidsearch.index.indexer import update_index
from vidsearch.store import Store
from vidsearch.types import Hit
from vidsearch.ui import UiServer

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):  # type: ignore[no-untyped-def]
        return json.loads(self.body)


@pytest.fixture()
def indexed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """An index of red.mp4 (red, 4 s) and two.mp4 (green 4 s, then blue 4 s), in the colour space."""
    monkeypatch.setattr("vidsearch.models.load_embedder", lambda *a, **k: ColourEmbedder())
    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "red.mp4", [Scene(solid(RED), 4)], fps=10, size=(320, 180))
    write_video(lib / "two.mp4", [Scene(solid(GREEN), 4), Scene(solid(BLUE), 4)], fps=10, size=(320, 180))
    db = tmp_path / "index.db"
    with Store.open(db) as store:
        update_index(store, [str(lib)], ColourEmbedder, None, model_name="lite")
    return db, lib


class Client:
    def __init__(self, server: UiServer) -> None:
        self.host, self.port = server.address
        self.token = server.token

    def get(self, path: str, params: dict[str, object] | None = None, *, token: bool = True,
            headers: dict[str, str] | None = None, method: str = "GET") -> Answer:
        query = dict(params or {})
        if token:
            query["token"] = self.token
        target = path + ("?" + urlencode(query, doseq=True) if query else "")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            conn.request(method, target, headers=headers or {})
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()


@pytest.fixture()
def served(indexed: tuple[Path, Path]) -> Iterator[tuple[UiServer, Client, list[Sequence[Hit]]]]:
    db, _ = indexed
    played: list[Sequence[Hit]] = []

    def player(hits: Sequence[Hit]) -> str:
        played.append(hits)
        return "fakeplayer"

    with Library.open(db) as library:
        server = UiServer(library, player=player)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server, Client(server), played
        finally:
            server.shutdown()
            thread.join(10)
            server.close()


def _moment_ids(db: Path) -> dict[int, tuple[str, float, float]]:
    with Store.open(db) as store:
        rows = store.db.execute(
            'SELECT m.id, v.path, m.start, m."end" FROM moments m JOIN videos v ON v.id = m.video_id'
        )
        return {int(i): (os.fsdecode(bytes(p)) if isinstance(p, bytes) else p, s, e) for i, p, s, e in rows}


@pytest.mark.slow
def test_it_listens_on_loopback_only(served) -> None:  # type: ignore[no-untyped-def]
    server, client, _ = served
    assert server.address[0] == "127.0.0.1"
    assert server.url.startswith(f"http://127.0.0.1:{server.address[1]}/?token=")
    assert len(server.token) >= 24
    others = [ip for ip in _own_addresses() if not ip.startswith("127.")]
    for ip in others:  # the same port on this machine's other addresses answers nothing
        with pytest.raises(OSError):
            socket.create_connection((ip, server.address[1]), timeout=2).close()


def _own_addresses() -> list[str]:
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)})
    except OSError:
        return []


def test_two_servers_have_their_own_ports_and_tokens(indexed: tuple[Path, Path]) -> None:
    db, _ = indexed
    with Library.open(db) as library:
        one, two = UiServer(library), UiServer(library)
        try:
            assert one.address[1] != two.address[1] and one.address[1] > 0
            assert one.token != two.token
        finally:
            one.close()
            two.close()


def _one_character_off(token: str) -> str:
    """``token`` with its last character changed, to a different one whatever that character was."""
    return token[:-1] + ("y" if token.endswith("x") else "x")


@pytest.mark.slow
def test_requests_without_the_token_are_refused(served, indexed) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = served
    moment = min(_moment_ids(indexed[0]))
    for path in ("/", "/api/info", "/api/find", f"/api/still/{moment}", f"/api/video/{moment}", "/static/app.js"):
        answer = client.get(path, {"q": "red"}, token=False)
        assert answer.status == 403, path
        assert b"RIFF" not in answer.body and b"ftyp" not in answer.body and b"\xff\xd8" not in answer.body
        wrong = client.get(path, {"q": "red", "token": _one_character_off(client.token)}, token=False)
        assert wrong.status == 403, path
    assert client.get(f"/api/play/{moment}", token=False, method="POST").status == 403
    # the token in a header works as well as in the address
    assert client.get("/api/info", token=False, headers={"X-Vidsearch-Token": client.token}).status == 200
    # a web page that reaches the port under its own host name (DNS rebinding) is refused
    assert client.get("/api/info", headers={"Host": f"evil.example:{client.port}"}).status == 403


@pytest.mark.slow
def test_the_page_carries_the_token_and_loads_nothing_from_elsewhere(served) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = served
    page = client.get("/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    text = page.body.decode()
    assert client.token in text and "{{token}}" not in text
    assert "http://" not in text and "https://" not in text  # no CDN: it works offline
    assert "default-src 'none'" in page.headers["content-security-policy"]
    for name in ("app.js", "app.css"):
        asset = client.get(f"/static/{name}")
        assert asset.status == 200 and asset.body
        assert b"https://" not in asset.body


@pytest.mark.slow
def test_files_are_served_by_moment_id_only(served, indexed, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = served
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    moments = _moment_ids(indexed[0])
    unknown = max(moments) + 1000
    for path in (
        f"/api/video/{unknown}", f"/api/still/{unknown}", f"/api/strip/{unknown}",
        "/api/video/../../../../etc/passwd", "/api/video/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"/api/video/{secret}", "/static/../server.py", "/static/..%2fserver.py", "/static/index.html/..",
        "/../../etc/passwd", "/api/video/1abc", "/api/video/-1", "/api/video/99999999999999999999999",
    ):
        answer = client.get(path)
        assert answer.status == 404, path
        assert b"not for the page" not in answer.body and b"root:" not in answer.body
    # a path given as a parameter is ignored: the moment's own file comes back
    moment = min(moments)
    answer = client.get(f"/api/video/{moment}", {"path": str(secret), "file": str(secret)})
    assert answer.status == 200 and answer.body == Path(moments[moment][0]).read_bytes()
    # the play action needs a known moment too
    assert client.get(f"/api/play/{unknown}", method="POST").status == 404


@pytest.mark.slow
def test_a_moments_thumbnail_is_a_picture_of_it(served, indexed) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    _, client, _ = served
    for moment, (path, _start, _end) in _moment_ids(indexed[0]).items():
        still = client.get(f"/api/still/{moment}")
        assert still.status == 200 and still.headers["content-type"] == "image/jpeg"
        picture = Image.open(io.BytesIO(still.body))
        assert picture.format == "JPEG"
        if path.endswith("red.mp4"):
            r, g, b = np.asarray(picture.convert("RGB"), np.float32).reshape(-1, 3).mean(axis=0)
            assert r > 150 and g < 80 and b < 80
        strip = client.get(f"/api/strip/{moment}")
        assert strip.status == 200 and Image.open(io.BytesIO(strip.body)).size[0] > picture.size[0]


@pytest.mark.slow
def test_a_video_is_served_in_byte_ranges(served, indexed) -> None:  # type: ignore[no-untyped-def]
    _, client, _ = served
    moment, (path, _, _) = min(_moment_ids(indexed[0]).items())
    data = Path(path).read_bytes()
    size = len(data)
    part = client.get(f"/api/video/{moment}", headers={"Range": "bytes=100-1123"})
    assert part.status == 206
    assert part.headers["content-range"] == f"bytes 100-1123/{size}"
    assert part.headers["content-type"] == "video/mp4" and part.headers["accept-ranges"] == "bytes"
    assert part.body == data[100:1124]
    rest = client.get(f"/api/video/{moment}", headers={"Range": "bytes=1000-"})
    assert rest.status == 206 and rest.body == data[1000:]
    tail = client.get(f"/api/video/{moment}", headers={"Range": "bytes=-50"})
    assert tail.status == 206 and tail.body == data[-50:]
    whole = client.get(f"/api/video/{moment}")
    assert whole.status == 200 and whole.body == data
    outside = client.get(f"/api/video/{moment}", headers={"Range": f"bytes={size + 10}-"})
    assert outside.status == 416 and outside.headers["content-range"] == f"bytes */{size}"


@pytest.mark.slow
def test_a_query_answers_with_the_hits_find_prints(served, indexed) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from vidsearch.cli import app

    _, client, _ = served
    db, lib = indexed
    for query in ("blue", "red", "green, not blue"):
        answer = client.get("/api/find", {"q": query, "limit": 5, "min_match": 0})
        assert answer.status == 200, answer.body
        hits = answer.json()["hits"]
        printed = CliRunner().invoke(app, ["find", query, "--db", str(db), "--json", "-n", "5", "--min-match", "0"])
        assert printed.exit_code == 0, printed.output
        expected = [json.loads(line) for line in printed.stdout.splitlines()]
        spans = [(e["path"], e["start"], e["end"]) for e in expected]
        assert [(h["path"], h["start"], h["end"]) for h in hits] == spans
        assert [h["score"] for h in hits] == pytest.approx([e["score"] for e in expected], abs=1e-6)
    # --explain on demand: how the query was read, and each hit's breakdown
    explained = client.get("/api/find", {"q": "green, not blue", "min_match": 0, "explain": 1}).json()
    assert explained["explanation"] and all(isinstance(h.get("explain"), dict) for h in explained["hits"])
    assert "explain" not in client.get("/api/find", {"q": "green", "min_match": 0}).json()["hits"][0]
    best = client.get("/api/find", {"q": "blue", "min_match": 0}).json()["hits"][0]
    assert best["path"] == str(lib / "two.mp4") and best["start"] >= 3.5
    assert best["thumbnail"] is True and best["codec"] == "h264" and best["id"] in best["moments"]


@pytest.mark.slow
def test_query_controls_more_like_this_and_errors(served, indexed) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from vidsearch.cli import app

    _, client, _ = served
    db, lib = indexed
    info = client.get("/api/info").json()
    assert {c["field"] for c in info["controls"]} >= {"within"}
    assert info["moments"] == len(_moment_ids(db)) == info["thumbnails"]
    # --in as a control: only that file's folder
    other = lib / "more"
    other.mkdir()
    inside = client.get("/api/find", {"q": "red", "within": str(other), "min_match": 0}).json()["hits"]
    assert inside == []
    # date, place and camera controls: the command line's filters (the clips were made today)
    assert {c["field"] for c in info["controls"]} >= {"since", "until", "near", "radius_km", "camera", "said"}
    now = client.get("/api/find", {"q": "red", "since": "last week", "min_match": 0}).json()["hits"]
    later = client.get("/api/find", {"q": "red", "since": "2999", "min_match": 0}).json()["hits"]
    assert now and later == []
    far = client.get("/api/find", {"q": "red", "near": "lisbon", "radius_km": "x"})
    assert far.status == 400 and "radius" in far.json()["error"]
    # "more like this" on a hit: find --like on that moment's file and span, without the moment itself
    red, (path, start, end) = next((m, v) for m, v in _moment_ids(db).items() if v[0].endswith("red.mp4"))
    like = client.get("/api/find", {"like": red, "min_match": 0}).json()["hits"]
    printed = CliRunner().invoke(app, ["find", "--like", f"{path}@{start}-{end}", "--db", str(db), "--json",
                                       "--min-match", "0", "-n", "24"])
    assert printed.exit_code == 0, printed.output
    expected = [json.loads(line) for line in printed.stdout.splitlines()]
    assert like and [(h["path"], h["start"]) for h in like] == [(e["path"], e["start"]) for e in expected]
    assert red not in {m for h in like for m in h["moments"]}
    # "like this but ...": the text moves the answer (red, but blue: the blue moment first)
    but = client.get("/api/find", {"like": red, "q": "blue", "min_match": 0}).json()["hits"]
    assert but[0]["path"] == str(lib / "two.mp4") and but[0]["start"] >= 3.5
    # a reference that is not in the index, an empty query: a message for the page, not a crash
    gone = client.get("/api/find", {"like": red + 1000})
    assert gone.status == 400 and "not in the index" in gone.json()["error"]
    empty = client.get("/api/find", {"q": "  "})
    assert empty.status == 400 and "what to look for" in empty.json()["error"]
    bad = client.get("/api/find", {"q": "red", "limit": "many"})
    assert bad.status == 400 and "limit" in bad.json()["error"]


@pytest.mark.slow
def test_open_in_player_plays_that_moment(served, indexed) -> None:  # type: ignore[no-untyped-def]
    _, client, played = served
    moment, (path, start, end) = max(_moment_ids(indexed[0]).items())
    answer = client.get(f"/api/play/{moment}", {"start": start + 0.5, "end": end}, method="POST")
    assert answer.status == 200 and answer.json()["player"] == "fakeplayer"
    assert len(played) == 1
    (hit,) = played[0]
    assert hit.path == path and hit.start == pytest.approx(start + 0.5) and hit.end == pytest.approx(end)
    # the GET of the same address plays nothing (a link or a prefetch must not start a player)
    assert client.get(f"/api/play/{moment}").status == 404 and len(played) == 1


def test_the_ui_command_prints_the_address_and_opens_the_browser(
    indexed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    db, _ = indexed
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda address: opened.append(address) or True)
    monkeypatch.setattr(UiServer, "serve_forever", lambda self: None)  # return at once instead of serving
    result = CliRunner().invoke(app, ["ui", "--db", str(db)])
    assert result.exit_code == 0, result.output
    address = result.stdout.strip()
    assert address.startswith("http://127.0.0.1:") and "token=" in address
    assert opened == [address]
    quiet = CliRunner().invoke(app, ["ui", "--db", str(db), "--no-browser"])
    assert quiet.exit_code == 0 and len(opened) == 1
    assert quiet.stdout.strip() != address  # a new token each time


# ---- in the terminal: the contact sheet and --thumbs ---------------------------------------------
def test_find_writes_a_self_contained_contact_sheet(indexed: tuple[Path, Path]) -> None:
    import base64
    import re

    from PIL import Image
    from typer.testing import CliRunner

    from vidsearch.cli import app

    db, lib = indexed
    result = CliRunner().invoke(app, ["find", "blue", "--db", str(db), "-f", "html", "-n", "3", "--min-match", "0"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert page.startswith("<!doctype html>") and "<title>vidsearch: blue</title>" in page
    pictures = re.findall(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', page)
    links = re.findall(r'<a href="(file://[^"]+)">', page)
    assert len(pictures) == len(links) == 3  # every hit with its own picture, inline
    first = np.asarray(Image.open(io.BytesIO(base64.b64decode(pictures[0]))).convert("RGB"), np.float32)
    assert first.reshape(-1, 3).mean(axis=0)[2] > 150  # the best hit for "blue" shows blue
    assert links[0].startswith((lib / "two.mp4").as_uri() + "#t=")
    start = float(links[0].split("#t=")[1].split(",")[0])
    assert start >= 3.5  # the link opens the file at the moment
    assert "src=\"http" not in page and "href=\"http" not in page  # nothing fetched from elsewhere


@pytest.mark.slow
def test_thumbs_draws_pictures_on_a_terminal_that_shows_them(
    indexed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from textual_image.renderable import TGPImage
    from typer.testing import CliRunner

    from vidsearch.cli import app
    from vidsearch.output import present

    db, _ = indexed
    monkeypatch.setenv("COLUMNS", "250")  # room for the file names beside the date and the pictures
    args = ["find", "red", "--db", str(db), "--thumbs", "-n", "2", "--min-match", "0", "-f", "table"]
    plain = CliRunner().invoke(app, args)  # not a terminal that shows pictures: the table, and why not
    assert plain.exit_code == 0, plain.output
    assert "red.mp4" in plain.stdout and "\U0010eeee" not in plain.stdout
    assert "does not show pictures" in plain.stderr and "--format html" in plain.stderr
    monkeypatch.setattr(present, "terminal_picture", lambda: TGPImage)  # kitty's graphics protocol
    drawn = CliRunner().invoke(app, args)
    assert drawn.exit_code == 0, drawn.output
    # kitty's protocol places a sent picture by placeholder characters, one per cell: a picture per hit,
    # on the hit's own lines
    rows = [line for line in drawn.stdout.splitlines() if "\U0010eeee" in line]
    assert sum(line.count("\U0010eeee") for line in rows) >= 2 * present.THUMB_CELLS
    assert "red" in drawn.stdout and any(re.search(r"\b1 +[0-9.-]+ +0:0", line) for line in rows)
    assert "does not show pictures" not in drawn.stderr
