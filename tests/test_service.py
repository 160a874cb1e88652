"""The local query service: same answers as a direct find, private socket, fallback when absent."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vidsearch import service
from vidsearch.query.options import SearchOptions
from vidsearch.query.search import find as direct_find
from vidsearch.store import Store

DIM = 16


class FakeEmbedder:
    """Query text -> a fixed unit vector (hash-seeded); counts calls to show the model is reused."""

    model_id = "fake-1"
    dim = DIM
    loads = 0

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).standard_normal(DIM)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, np.float32).reshape(len(texts), DIM)

    def close(self) -> None:
        pass


def _fake_load(name: str, device: str, precision: str) -> FakeEmbedder:
    FakeEmbedder.loads += 1
    return FakeEmbedder()


@pytest.fixture
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("vidsearch.models.load_embedder", _fake_load)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # a fresh query-vector cache
    FakeEmbedder.loads = 0
    db = tmp_path / "index.db"
    rng = np.random.default_rng(0)
    with Store.open(db) as store:
        store.bind_model("lite", "fake-1", DIM)
        for v in range(20):
            vecs = rng.standard_normal((10, DIM)).astype(np.float32)
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            store.save_video(path=f"/lib/{v % 2}/v{v}.mp4", root_id=None, size=1, mtime_ns=1,
                             fingerprint=str(v), info=None, moments=[(i * 2.0, i * 2.0 + 2) for i in range(10)],
                             vectors=vecs)
    return db




def test_service_answers_as_a_direct_find(library: Path, running: Path) -> None:
    options = SearchOptions(limit=5, within=("/lib/1",))
    with Store.open(library) as store:
        direct = direct_find(store, _fake_load("lite", "cpu", "auto"), "a dog, on a beach", options)
    for _ in range(2):
        answer = service.ask_find(service.find_request(library, None, "auto", "auto", "a dog, on a beach", options))
        assert answer is not None
        hits = answer.hits
        assert [(h.path, h.start, h.end, round(h.score, 5)) for h in hits] == [
            (h.path, h.start, h.end, round(h.score, 5)) for h in direct
        ]
    assert FakeEmbedder.loads == 2  # one for the direct find, one kept by the service for both asks


def test_service_passes_on_typed_errors(library: Path, running: Path) -> None:
    from vidsearch.errors import UsageError

    with pytest.raises(UsageError, match="--in"):
        service.ask_find(service.find_request(library, None, "auto", "auto", "x", SearchOptions(within=("/nope",))))


def test_socket_and_folder_are_private(running: Path) -> None:
    assert stat.S_IMODE(running.stat().st_mode) == 0o600
    assert stat.S_IMODE(running.parent.stat().st_mode) == 0o700
    assert running.stat().st_uid == os.getuid()
    assert service.request({"op": "ping"})["ok"]


def test_client_refuses_a_socket_others_can_use(running: Path) -> None:
    os.chmod(running, 0o666)
    try:
        assert service.request({"op": "ping"}) is None  # treated as no service: never talk to it
    finally:
        os.chmod(running, 0o600)
    assert service.request({"op": "ping"}) is not None


def test_find_without_service_loads_the_model_itself(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    monkeypatch.setenv(service.ENV_SOCKET, "/tmp/vidsearch-no-such-dir/service.sock")
    result = CliRunner().invoke(app, ["find", "a dog", "--db", str(library), "-n", "3", "-f", "tsv"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 3
    assert FakeEmbedder.loads == 1


def test_find_uses_the_running_service(library: Path, running: Path) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    service.request({"op": "ping"})
    result = CliRunner().invoke(app, ["find", "a dog", "--db", str(library), "-n", "3", "-f", "tsv"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 3
    assert FakeEmbedder.loads == 1  # loaded once, by the service (the CLI itself loaded nothing)
    assert service.request({"op": "ping"})["models"] == ["lite"]  # ...and the service holds it


def test_repeated_query_needs_no_model(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    monkeypatch.setenv(service.ENV_SOCKET, "/tmp/vidsearch-no-such-dir/service.sock")
    args = ["find", "a red kite", "--db", str(library), "-n", "3", "-f", "tsv"]
    first = CliRunner().invoke(app, args)
    second = CliRunner().invoke(app, args)
    assert first.exit_code == second.exit_code == 0
    assert first.stdout == second.stdout
    assert FakeEmbedder.loads == 1  # the second run read the query's vector from the cache


@pytest.mark.slow
def test_service_and_direct_find_share_one_query_cache(library: Path, running: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    args = ["find", "a red kite, over the sea", "--db", str(library), "-n", "3", "-f", "tsv"]
    through_service = CliRunner().invoke(app, args)
    assert FakeEmbedder.loads == 1  # the service embedded the query
    monkeypatch.setenv(service.ENV_SOCKET, "/tmp/vidsearch-no-such-dir/service.sock")
    direct = CliRunner().invoke(app, args)
    assert direct.exit_code == through_service.exit_code == 0
    assert direct.stdout == through_service.stdout
    assert FakeEmbedder.loads == 1  # the direct find read every clause's vector from the same cache


@pytest.fixture
def autoserve(library: Path, monkeypatch: pytest.MonkeyPatch) -> list[float | None]:
    """find with the service allowed but none running; records each background start asked for."""
    started: list[float | None] = []
    monkeypatch.setenv(service.ENV_SOCKET, "/tmp/vidsearch-no-such-dir/service.sock")
    monkeypatch.delenv("VIDSEARCH_NO_SERVICE", raising=False)
    monkeypatch.delenv("VIDSEARCH_AUTOSERVE", raising=False)
    monkeypatch.setattr("vidsearch.service.start_background", lambda idle=None: started.append(idle))
    return started


def _find(library: Path, *args: str) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    result = CliRunner().invoke(app, ["find", *args, "--db", str(library), "-n", "3", "-f", "tsv"])
    assert result.exit_code == 0, result.output


def test_a_find_that_loads_the_model_starts_the_service(
    library: Path, autoserve: list[float | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIDSEARCH_SERVE_IDLE", "42")
    _find(library, "a dog")
    assert autoserve == [42.0]
    _find(library, "a dog")  # the vector is remembered: nothing loaded, nothing to keep warm
    assert autoserve == [42.0]


def test_no_serve_and_the_environment_keep_the_service_off(
    library: Path, autoserve: list[float | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    _find(library, "a cat", "--no-serve")
    monkeypatch.setenv("VIDSEARCH_AUTOSERVE", "0")
    _find(library, "a cow")
    monkeypatch.setenv("VIDSEARCH_AUTOSERVE", "1")
    monkeypatch.setenv("VIDSEARCH_NO_SERVICE", "1")
    _find(library, "a hen")
    assert autoserve == []
    assert FakeEmbedder.loads == 3  # each find loaded the model itself


def test_a_bad_idle_setting_is_refused(library: Path, autoserve: list[float | None],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app
    from vidsearch.errors import UsageError

    monkeypatch.setenv("VIDSEARCH_SERVE_IDLE", "soon")
    result = CliRunner().invoke(app, ["find", "a dog", "--db", str(library)])
    assert isinstance(result.exception, UsageError) and result.exception.exit_code == 2
    assert "VIDSEARCH_SERVE_IDLE" in str(result.exception)
    assert FakeEmbedder.loads == 0  # refused before the model loaded


def test_the_loading_note_names_the_model_and_the_service(capsys: pytest.CaptureFixture[str]) -> None:
    from vidsearch.cli.find import _loading

    loaded: list[str] = []
    _loading("qwen3-vl-embedding-2b", loaded, True, 300.0)
    _loading("lite", loaded, True, 300.0)  # loads in a blink: no note
    err = capsys.readouterr().err
    assert "loading the model qwen3-vl-embedding-2b" in err and "300 s idle" in err and "--no-serve" in err
    assert "lite" not in err
    assert loaded == ["qwen3-vl-embedding-2b", "lite"]


@pytest.mark.slow
def test_a_background_service_answers_then_exits_when_idle(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    folder = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp"))
    sock = folder / "run" / "service.sock"
    monkeypatch.setenv(service.ENV_SOCKET, str(sock))
    service.start_background(3.0)
    deadline = time.monotonic() + 60
    while service.request({"op": "ping"}, sock, timeout=5) is None:
        assert time.monotonic() < deadline, "the background service never answered"
        time.sleep(0.2)
    deadline = time.monotonic() + 30
    while sock.exists():  # a ping would count as a query: only watch the socket go
        assert time.monotonic() < deadline, "the background service did not exit when idle"
        time.sleep(0.5)
    assert service.request({"op": "ping"}, sock, timeout=5) is None


def test_a_service_of_another_version_steps_aside(library: Path, running: Path) -> None:
    message = service.find_request(library, None, "auto", "auto", "a dog", SearchOptions(limit=3))
    message["version"] = "0.0.0-older"
    assert service.ask_find(message) is None  # the caller searches itself
    deadline = time.monotonic() + 10
    while service.request({"op": "ping"}, running, timeout=5) is not None:  # and the old service goes
        assert time.monotonic() < deadline, "the service of another version kept answering"
        time.sleep(0.1)


def _raw(sock_path: Path, data: bytes, timeout: float = 5.0) -> dict[str, Any]:
    """Send ``data`` as is and read the one answer line."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(data)
        return dict(json.loads(s.makefile("rb").readline()))


@pytest.mark.slow
@pytest.mark.parametrize("data", [b"[]\n", b'"find"\n', b"not json\n", b'{"op": "find", "db": 1}\n',
                                  b'{"op": "find", "db": "/x.db", "text": "a", "options": []}\n',
                                  b'{"op": "find", "db": "/x.db", "text": "a", "options": {"limit": "9"}}\n',
                                  b'{"op": "find", "db": "/x.db", "text": "a", "options": {"min_score": NaN}}\n'])
def test_a_malformed_request_gets_an_error_reply_and_the_service_goes_on(running: Path, data: bytes) -> None:
    answer = _raw(running, data)
    assert answer["ok"] is False and answer["kind"] == "UsageError"
    assert service.request({"op": "ping"})["ok"]


def test_a_silent_client_holds_nobody_else(running: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as silent:
        silent.connect(str(running))  # connects, then says nothing
        t = time.monotonic()
        assert service.request({"op": "ping"}, timeout=10)["ok"]
        assert time.monotonic() - t < 1.0


def test_a_replaced_index_is_reopened_not_answered_from_the_old_file(library: Path, running: Path) -> None:
    options = SearchOptions(limit=3)
    first = service.ask_find(service.find_request(library, None, "auto", "auto", "a dog", options))
    assert first is not None and first.hits[0].path.startswith("/lib/")
    # rebuilt at the same path (or restored from a backup): another file, other videos
    other = library.with_name("rebuilt.db")
    with Store.open(other) as store:
        store.bind_model("lite", "fake-1", DIM)
        vecs = np.random.default_rng(5).standard_normal((4, DIM)).astype(np.float32)
        store.save_video(path="/other/new.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="n", info=None,
                         moments=[(i * 2.0, i * 2.0 + 2) for i in range(4)],
                         vectors=vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    os.replace(other, library)
    second = service.ask_find(service.find_request(library, None, "auto", "auto", "a dog", options))
    assert second is not None and {h.path for h in second.hits} == {"/other/new.mp4"}


@pytest.mark.slow
def test_find_answers_by_itself_when_the_service_is_stopped(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    folder = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp"))
    sock = folder / "service.sock"
    monkeypatch.setenv(service.ENV_SOCKET, str(sock))
    monkeypatch.delenv("VIDSEARCH_NO_SERVICE", raising=False)
    server = subprocess.Popen(
        [sys.executable, "-c", f"import pathlib, vidsearch.service as s; s.serve(pathlib.Path({str(sock)!r}), 60)"],
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        deadline = time.monotonic() + 30
        while service.request({"op": "ping"}) is None:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.1)
        server.send_signal(signal.SIGSTOP)  # Ctrl-Z on a foreground `vidsearch serve`
        t = time.monotonic()
        result = CliRunner().invoke(app, ["find", "a dog", "--db", str(library), "-n", "3", "-f", "tsv"])
        took = time.monotonic() - t
        assert result.exit_code == 0, result.output
        assert len(result.stdout.strip().splitlines()) == 3
        assert "the query service did not answer" in result.stderr
        assert took < service.client.SILENCE_TIMEOUT + 5
    finally:
        server.send_signal(signal.SIGCONT)
        server.kill()
        server.wait(10)


def test_a_socket_in_a_shared_folder_leaves_that_folder_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    shared = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp"))
    shared.chmod(0o1777)  # as /tmp is
    monkeypatch.setenv(service.ENV_SOCKET, str(shared / "x.sock"))
    ready = threading.Event()
    where = service.socket_path()
    thread = threading.Thread(target=service.serve, args=(where, 30.0, ready.set), daemon=True)
    thread.start()
    try:
        assert ready.wait(10)
        assert stat.S_IMODE(shared.stat().st_mode) == 0o1777  # never chmodded
        assert where.parent.parent == shared and stat.S_IMODE(where.parent.stat().st_mode) == 0o700
        assert service.request({"op": "ping"})["ok"]  # clients find it there too
    finally:
        service.request({"op": "stop"}, where, timeout=5)
        thread.join(10)

