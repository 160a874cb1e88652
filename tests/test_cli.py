"""The command line end to end, as a user runs it (real entry point, real lite model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from videogen import Scene, solid, title_card, write_video

ENV_KEYS = ("VIDSEARCH_DB", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME")


def run(*args: str, check_code: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    out = subprocess.run(
        [sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check_code is not None:
        assert out.returncode == check_code, (out.returncode, out.stdout, out.stderr)
    return out


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small library with on-screen titles at known times, indexed once through the CLI."""
    base = tmp_path_factory.mktemp("cli")
    lib = base / "My Videos"
    (lib / "2024").mkdir(parents=True)
    write_video(
        lib / "trip.mp4",
        [Scene(solid((30, 90, 30)), 4), Scene(title_card("WELCOME TO LISBON"), 4), Scene(solid((90, 30, 30)), 4)],
        fps=10, size=(640, 360),
    )
    write_video(lib / "2024" / "party.mov", [Scene(title_card("HAPPY BIRTHDAY ANNA"), 5)], fps=10, size=(640, 360))
    (lib / "broken.mp4").write_bytes(b"not a video")
    env = {"VIDSEARCH_DB": str(base / "index.db"), "XDG_DATA_HOME": str(base / "data"),
           "XDG_CACHE_HOME": str(base / "cache"), "HF_HOME": str(base / "hf")}
    old = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update(env)
    try:
        first = run("index", str(lib))
        second = run("index", str(lib))
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return {"lib": lib, "db": base / "index.db", "first": first, "second": second}  # type: ignore[dict-item]


@pytest.mark.slow
def test_index_summary_and_skip_line(indexed: dict) -> None:  # type: ignore[type-arg]
    first = indexed["first"]
    assert first.stdout == ""  # results only on stdout; index prints none
    assert "indexed 2 new or changed files" in first.stderr
    assert f"skipping {indexed['lib'] / 'broken.mp4'}:" in first.stderr
    assert "lite" in first.stderr  # says which model and why
    assert "indexed 0 new or changed" in indexed["second"].stderr
    assert "2 unchanged" in indexed["second"].stderr
    assert "1 file skipped as unreadable (0 new, 1 known" in indexed["second"].stderr


@pytest.mark.slow
def test_find_returns_the_right_file_at_the_right_time(indexed: dict) -> None:  # type: ignore[type-arg]
    out = run("find", "welcome to lisbon", "--json", "-n", "3", "--db", str(indexed["db"]))
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert rows[0]["path"] == str(indexed["lib"] / "trip.mp4")
    assert rows[0]["start"] <= 4.5 and rows[0]["end"] >= 7.5 and rows[0]["end"] - rows[0]["start"] <= 9
    party = run("find", "happy birthday", "--db", str(indexed["db"]))  # piped: TSV
    path, start, end, score = party.stdout.splitlines()[0].split("\t")
    assert path == str(indexed["lib"] / "2024" / "party.mov") and float(start) == 0.0 and float(end) >= 4.5
    float(score)


@pytest.mark.slow
def test_find_in_restricts_to_a_folder(indexed: dict) -> None:  # type: ignore[type-arg]
    out = run("find", "welcome to lisbon", "--in", str(indexed["lib"] / "2024"), "--db", str(indexed["db"]))
    assert {line.split("\t")[0] for line in out.stdout.splitlines()} == {str(indexed["lib"] / "2024" / "party.mov")}


@pytest.mark.slow
def test_status_tells_counts_and_model(indexed: dict) -> None:  # type: ignore[type-arg]
    out = run("status", "--json", "--db", str(indexed["db"]))
    info = json.loads(out.stdout)
    assert info["videos"] == 2 and info["failed"] == 1 and info["model"] == "lite"
    assert info["moments"] >= 3 and info["size_bytes"] > 0
    assert info["roots"] == [{"path": str(indexed["lib"]), "online": True}]
    text = run("status", "--db", str(indexed["db"])).stdout
    assert "model:    lite" in text and str(indexed["db"]) in text


@pytest.mark.slow
def test_asking_another_model_explains_the_way_out(indexed: dict) -> None:  # type: ignore[type-arg]
    out = run("find", "cat", "--model", "qwen3-vl-2b", "--db", str(indexed["db"]), check_code=2)
    assert "built with model 'lite'" in out.stderr and "--rebuild" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("index", "/no/such/folder"), "no such file or folder"),
        (("find", "   "), "query is empty"),
        (("find", "dog", "--limit", "0"), "--limit"),
        (("find", "dog", "--format", "xml"), "unknown --format"),
        (("find", "dog"), "vidsearch index"),  # no index yet
        (("index",), "nothing to index"),
        # values that once slipped through: a negative time read as a file name, 99:99 as 6039 s,
        # NaN as a cut-off nothing passes, a device as an index file
        (("find", "dog", "--like", "clip.mp4@-5"), "not a time after '@': '-5'"),
        (("find", "dog", "--like", "clip.mp4@99:99"), "must be below 60"),
        (("find", "dog", "--min-score", "nan"), "--min-score takes a number"),
        (("find", "dog", "--db", "/dev/null"), "/dev/null is not a regular file"),
    ],
)
def test_bad_input_gets_a_short_error_and_exit_2(args: tuple[str, ...], message: str) -> None:
    out = run(*args, check_code=2)
    assert message in out.stderr and "Traceback" not in out.stderr
    assert out.stdout == ""
    assert not Path(os.environ["VIDSEARCH_DB"]).exists()  # a mistake leaves no empty index behind


@pytest.mark.slow
def test_help_and_version_do_not_import_torch() -> None:
    code = "import sys, vidsearch.cli; print('torch' in sys.modules, 'av' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
    assert run("--version").stdout.startswith("vidsearch ")
    helptext = run("find", "--help").stdout
    for option in ("--limit", "--format", "--json", "--in", "--db", "--model"):
        assert option in helptext


@pytest.mark.slow
def test_unfetchable_model_fails_fast_and_names_the_way_out(tmp_path: Path) -> None:
    import time

    write_video(tmp_path / "v.mp4", [Scene(solid((200, 0, 0)), 2)], fps=5)
    t = time.perf_counter()
    out = run("index", str(tmp_path), "--model", "nobody/no-such-model", check_code=4)
    assert time.perf_counter() - t < 30
    assert "nobody/no-such-model" in out.stderr and "lite" in out.stderr
    assert os.environ["HF_HOME"] in out.stderr  # the cache folder it looked in
    assert "Traceback" not in out.stderr
    assert not Path(os.environ["VIDSEARCH_DB"]).exists()  # no empty index left behind


@pytest.mark.slow
def test_models_lists_what_is_usable_and_what_auto_picks() -> None:
    out = run("models", "--device", "cpu").stdout
    assert "* lite" in out and "Qwen/Qwen3-VL-Embedding-2B" in out
    assert "auto picks here" in out


@pytest.mark.slow
def test_killed_index_run_resumes_without_duplicates(tmp_path: Path) -> None:
    import signal
    import time

    import apsw

    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(6):
        write_video(lib / f"v{i}.mp4", [Scene(title_card(f"CLIP NUMBER {i}"), 6)], fps=10, size=(640, 360))
    db = tmp_path / "index.db"
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", "index", str(lib), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def indexed(flags: int = apsw.SQLITE_OPEN_READONLY) -> int:
        if not db.exists():
            return 0
        conn = apsw.Connection(str(db), flags=flags)
        conn.set_busy_timeout(5000)  # as vidsearch's own readers: wait out the writer's schema set-up
        try:
            return int(conn.execute("SELECT count(*) FROM videos").fetchone()[0])
        except (apsw.SQLError, apsw.BusyError):
            return 0  # no tables yet, or still locked after the wait: ask again
        finally:
            conn.close()

    deadline = time.time() + 120
    while indexed() < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait()
    # read-write, as the next index run opens it: a killed writer leaves its log to be recovered
    before = indexed(apsw.SQLITE_OPEN_READWRITE)
    assert 1 <= before <= 6
    out = run("index", str(lib), "--db", str(db))
    assert f"indexed {6 - before} new or changed" in out.stderr
    info = json.loads(run("status", "--json", "--db", str(db)).stdout)
    assert info["videos"] == 6
    conn = apsw.Connection(str(db))
    conn.enable_load_extension(True)
    import sqlite_vec

    conn.load_extension(sqlite_vec.loadable_path())
    moments = conn.execute("SELECT count(*) FROM moments").fetchone()[0]
    vectors = conn.execute("SELECT count(*) FROM moment_vectors").fetchone()[0]
    per_video = conn.execute("SELECT count(DISTINCT start) = count(*) FROM moments GROUP BY video_id").fetchall()
    assert moments == vectors == info["moments"] and all(row[0] for row in per_video)


def test_find_says_when_results_are_on_an_offline_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    from typer.testing import CliRunner

    from vidsearch.cli import app
    from vidsearch.store import Store

    class Fixed:
        model_id, dim, frame_side, frames_per_moment = "fixed-1", 3, 64, 1

        def embed_queries(self, texts):  # type: ignore[no-untyped-def]
            return np.tile(np.array([[1.0, 0.0, 0.0]], np.float32), (len(texts), 1))

        def close(self) -> None:
            pass

    monkeypatch.setattr("vidsearch.models.load_embedder", lambda *a: Fixed())
    db = tmp_path / "i.db"
    with Store.open(db) as store:
        store.bind_model("lite", "fixed-1", 3)
        root = store.add_root(str(tmp_path / "drive"))
        store.save_video(path=str(tmp_path / "drive" / "a.mp4"), root_id=root, size=1, mtime_ns=1,
                         fingerprint="a", info=None, moments=[(0.0, 5.0)],
                         vectors=np.array([[1.0, 0.0, 0.0]], np.float32))
        store.set_root_online(root, False)
    result = CliRunner().invoke(app, ["find", "a red door", "--db", str(db), "--json", "--include-offline"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["available"] is False
    assert "offline root" in result.stderr


@pytest.mark.slow
def test_status_json_survives_an_undecodable_root(tmp_path: Path) -> None:
    from vidsearch.store import Store

    weird = tmp_path / os.fsdecode(b"caf\xe9 videos")
    weird.mkdir()
    db = tmp_path / "i.db"
    with Store.open(db) as store:
        store.add_root(str(weird))
    info = json.loads(run("status", "--json", "--db", str(db)).stdout)
    assert os.fsencode(info["roots"][0]["path"]) == os.fsencode(str(weird))
    assert "caf\\xe9 videos" in run("status", "--db", str(db)).stdout


def test_a_run_naming_its_command_builds_that_command_alone() -> None:
    # turning every command into a Click command costs a new query more than its search does
    from vidsearch.cli import _app_for

    assert [c.name or c.callback.__name__ for c in _app_for(["find", "a dog"]).registered_commands] == ["find"]
    assert len(_app_for(["--help"]).registered_commands) > 5  # the overview lists every command
    assert len(_app_for(["serch", "dog"]).registered_commands) > 5  # a typo still gets "did you mean"
