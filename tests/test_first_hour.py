"""A new user's first hour, through the real entry point (``python -m vidsearch``): mistyped options,
searches typed without ``find``, roots, offline drives, --explain, slow failures, and the small
messages around them."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from videogen import Scene, solid, title_card, write_video

from vidsearch.embed import lite
from vidsearch.store import Store


def run(*args: str, code: int | None = 0, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [sys.executable, "-m", "vidsearch", *args],
        capture_output=True, text=True, env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=600,
        stdin=subprocess.DEVNULL,
    )
    if code is not None:
        assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    return out


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """An index bound to the lite model with random vectors (queries are embedded for real): 12
    files of one moment under an online root, 3 under a root whose drive is offline."""
    rng = np.random.default_rng(7)
    db = tmp_path / "lib.db"
    home, drive = tmp_path / "Videos", tmp_path / "usb"
    home.mkdir()
    with Store.open(db) as store:
        store.bind_model("lite", lite.MODEL_ID, lite.DIM)
        for folder, count, online in ((home, 12, True), (drive, 3, False)):
            root = store.add_root(folder)
            for i in range(count):
                vec = rng.standard_normal((1, lite.DIM)).astype(np.float32)
                store.save_video(path=str(folder / f"clip{i:02d}.mp4"), root_id=root, size=1, mtime_ns=1,
                                 fingerprint=f"{folder.name}{i}", info=None, moments=[(0.0, 4.0)],
                                 vectors=vec / np.linalg.norm(vec))
            store.set_root_online(root, online)
    return {"db": db, "home": home, "drive": drive}


# ---- 1. options -------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("command", ["find", "play"])
def test_a_mistyped_option_fails_naming_the_option_meant(command: str) -> None:
    out = run(command, "a guitar", "--limt", "2", "--explain", code=2)
    assert "No such option: --limt. Did you mean --limit?" in out.stderr
    assert out.stdout == ""


def test_a_minus_term_outside_the_quotes_says_how_to_write_it() -> None:
    out = run("find", "guitar", "-subway", code=2)
    assert "No such option: -subway." in out.stderr and 'find "guitar -subway"' in out.stderr


@pytest.mark.slow
def test_other_commands_name_the_option_meant_too() -> None:
    assert "No such option: --qiet. Did you mean --quiet?" in run("index", "--qiet", code=2).stderr
    assert "No such option: --verson. Did you mean --version?" in run("--verson", code=2).stderr


@pytest.mark.slow
def test_options_after_the_query_still_count(library: dict[str, Path]) -> None:
    db = str(library["db"])
    out = run("find", "--db", db, "--min-match", "0", "--explain", "--", "guitar", "-subway", "-n", "4")
    assert len(out.stdout.splitlines()) == 4
    assert "must NOT show: 'subway'" in out.stderr and "'-n'" not in out.stderr and "'4'" not in out.stderr
    quoted = run("find", "guitar -subway +stage", "--db", db, "--min-match", "0", "-n", "3", "--explain")
    assert len(quoted.stdout.splitlines()) == 3
    assert "must NOT show: 'subway'" in quoted.stderr
    leading = run("find", "-subway guitar", "--db", db, "--min-match", "0", "-n", "2", "--explain")
    assert len(leading.stdout.splitlines()) == 2 and "must NOT show: 'subway'" in leading.stderr


@pytest.mark.parametrize(
    ("args", "suggestion"), [(("a dog",), 'vidsearch find "a dog"'), (("search", "dog", "-n", "3"), "find dog -n 3")]
)
def test_a_search_without_find_is_pointed_at_find(args: tuple[str, ...], suggestion: str) -> None:
    out = run(*args, code=2)
    assert "No such command" in out.stderr and suggestion in out.stderr


@pytest.mark.slow
def test_json_and_another_format_are_refused_together() -> None:
    out = run("find", "dog", "--json", "-f", "tsv", code=2)
    assert "--json" in out.stderr and "--format tsv" in out.stderr and out.stdout == ""


# ---- 5. roots and offline drives --------------------------------------------------------------------
@pytest.mark.slow
def test_piped_output_leaves_offline_hits_out_unless_asked(library: dict[str, Path]) -> None:
    db, drive = str(library["db"]), str(library["drive"])
    piped = run("find", "a dog", "--db", db, "--min-match", "0", "-n", "20")
    assert len(piped.stdout.splitlines()) == 12 and drive not in piped.stdout
    assert "--include-offline" in piped.stderr and drive in piped.stderr
    both = run("find", "a dog", "--db", db, "--min-match", "0", "-n", "20", "--include-offline")
    assert len(both.stdout.splitlines()) == 15 and drive in both.stdout
    assert "3 of these results are on an offline root" in both.stderr
    only = drive + "/clip00.mp4"
    one = run("find", "a dog", "--db", db, "--min-match", "0", "-n", "20", "--include-offline", "--in", only)
    assert "1 of these results is on an offline root" in one.stderr
    table = run("find", "a dog", "--db", db, "--min-match", "0", "-n", "20", "-f", "table")
    assert table.stdout.count("(offline)") == 3


@pytest.mark.slow
def test_roots_are_listed_added_and_removed(library: dict[str, Path], tmp_path: Path) -> None:
    db, home, drive = str(library["db"]), str(library["home"]), str(library["drive"])
    listed = run("roots", "--db", db).stdout.splitlines()
    assert [line.split()[:2] for line in listed] == [[home, "online"], [drive, "offline"]]
    assert "12 videos, 12 moments" in listed[0] and "3 videos, 3 moments" in listed[1]

    refused = run("roots", "remove", drive, "--db", db, code=2)  # no terminal to ask on: nothing happens
    assert "--yes" in refused.stderr and "3 moments" in refused.stderr
    assert len(run("roots", "--db", db).stdout.splitlines()) == 2

    removed = run("roots", "remove", drive, "--yes", "--db", db)
    assert f"removed root {drive} (3 videos, 3 moments)" in removed.stderr
    assert [line.split()[0] for line in run("roots", "--db", db).stdout.splitlines()] == [home]
    info = json.loads(run("status", "--json", "--db", db).stdout)
    assert info["moments"] == 12 and info["videos"] == 12
    both = run("find", "a dog", "--db", db, "--min-match", "0", "-n", "20", "--include-offline")
    assert drive not in both.stdout and len(both.stdout.splitlines()) == 12

    assert "is not a library root" in run("roots", "remove", str(tmp_path / "nope"), "--db", db, code=2).stderr
    new = tmp_path / "Camera"
    new.mkdir()
    assert f"added root {new}" in run("roots", "add", str(new), "--db", db).stderr
    assert str(new) in run("roots", "--db", db).stdout
    assert "no such file or folder" in run("roots", "add", str(tmp_path / "missing"), "--db", db, code=2).stderr


@pytest.mark.slow
def test_removing_a_root_inside_another_keeps_its_videos(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    db, home = tmp_path / "lib.db", tmp_path / "Videos"
    inner = home / "trip"
    with Store.open(db) as store:
        store.bind_model("lite", lite.MODEL_ID, lite.DIM)
        for folder in (home, inner):  # as after `index ~/Videos` and then `index ~/Videos/trip`
            root = store.add_root(folder)
            for i in range(2):
                vec = rng.standard_normal((1, lite.DIM)).astype(np.float32)
                store.save_video(path=str(folder / f"v{i}.mp4"), root_id=root, size=1, mtime_ns=1,
                                 fingerprint=f"{folder.name}{i}", info=None, moments=[(0.0, 4.0)],
                                 vectors=vec / np.linalg.norm(vec))
    out = run("roots", "remove", str(inner), "--db", str(db))  # forgets nothing, so nothing to confirm
    assert f"removed root {inner} (0 videos, 0 moments)" in out.stderr
    assert run("roots", "--db", str(db)).stdout.split() == [str(home), "online", "4", "videos,", "4", "moments"]
    assert json.loads(run("status", "--json", "--db", str(db)).stdout)["moments"] == 4
    refused = run("roots", "remove", str(home), "--db", str(db), code=2)
    assert "4 moments" in refused.stderr


@pytest.mark.slow
def test_indexing_a_folder_inside_a_root_adds_no_root_and_keeps_the_rest(tmp_path: Path) -> None:
    home = tmp_path / "Videos"
    trip = home / "trip"
    trip.mkdir(parents=True)
    write_video(home / "garden.mp4", [Scene(solid((0, 120, 0)), 2)], fps=5)
    db = str(tmp_path / "lib.db")
    run("index", str(home), "--no-speech", "--db", db)
    write_video(trip / "beach.mp4", [Scene(solid((0, 60, 200)), 2)], fps=5)
    run("index", str(trip), "--no-speech", "--db", db)
    listed = run("roots", "--db", db).stdout.splitlines()
    assert [line.split()[0] for line in listed] == [str(home)]
    assert "2 videos" in listed[0]
    # the rest of the root was not walked, so it is not taken for gone either
    assert json.loads(run("status", "--json", "--db", db).stdout)["videos"] == 2


@pytest.mark.slow
def test_a_path_that_cannot_hold_videos_is_refused_as_a_root(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a video")
    db = tmp_path / "lib.db"
    for args, said in (
        (("index", "/dev/null"), "not a folder or a video file (a device, a pipe or a socket): /dev/null"),
        (("roots", "add", "/dev/null"), "not a folder or a video file (a device, a pipe or a socket): /dev/null"),
        (("index", str(notes)), f"not a folder or a video file (.mp4, .mov, .mkv and the like): {notes}"),
        (("roots", "add", str(notes)), "not a folder or a video file"),
    ):
        out = run(*args, "--db", str(db), code=2)
        assert said in out.stderr and out.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # nothing registered, no index made
    video = write_video(tmp_path / "one.mp4", [Scene(solid((0, 90, 0)), 1)], fps=5)
    run("roots", "add", str(video), "--db", str(db))
    assert run("roots", "--db", str(db)).stdout.split()[0] == str(video)  # a single video can be a root


# ---- 6. --explain -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_explain_is_a_short_line_under_each_hit_piped_or_not(library: dict[str, Path]) -> None:
    db = str(library["db"])
    query = ("a guitar, on a stage, not raining", "--db", db, "--min-match", "0", "-n", "3", "--explain")
    piped = run("find", *query)
    hits = piped.stdout.splitlines()
    assert len(hits) == 3 and all(line.count("\t") == 3 for line in hits)  # stdout stays TSV
    per_hit = [line for line in piped.stderr.splitlines() if line.startswith("   ")]
    assert len(per_hit) == 3
    for line in per_hit:
        assert "'a guitar' " in line and "not 'raining' " in line and "penalty" in line
        assert "whole sentence" in line and "match " in line
    assert "{" not in piped.stderr and not re.search(r"\d\.\d{3,}", piped.stderr)  # no raw JSON, 2 decimals

    table = run("find", *query, "-f", "table").stdout
    assert table.count("'a guitar' ") == 3 and not re.search(r"\d\.\d{4,}", table)

    records = [json.loads(line) for line in run("find", *query, "--json").stdout.splitlines()]
    assert all("positives" in r["explain"] for r in records)
    assert not any(line.startswith("   ") for line in run("find", *query, "--json").stderr.splitlines())


# ---- 7. slow failures -------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_bad_reference_clip_is_told_before_any_model_loads(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with Store.open(db) as store:  # an index whose model cannot be loaded here (offline, not cached)
        store.bind_model("nobody/no-such-model", "nobody/no-such-model", 8)
    clip = write_video(tmp_path / "short.mp4", [Scene(solid((0, 90, 0)), 2)], fps=5)
    t0 = time.perf_counter()
    missing = run("find", "--like", str(tmp_path / "nope.mp4"), "at night", "--db", str(db), code=2)
    assert "no such file" in missing.stderr
    late = run("find", "--like", f"{clip}@0:09", "at night", "--db", str(db), code=2)
    assert f"--like {clip}@0:09: past the end" in late.stderr
    typo = run("find", "--like", f"{clip}@0:75", "at night", "--db", str(db), code=2)
    assert f"--like {clip}@0:75: not a time: '0:75'" in typo.stderr
    words = run("find", "--like", f"{clip}@abc", "at night", "--db", str(db), code=2)
    assert "not a time after '@': 'abc'" in words.stderr and "no such file" not in words.stderr
    assert time.perf_counter() - t0 < 30  # measured: about 0.6 s each, against a model load of 3-14 s


# ---- 8. small things ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_clip_of_a_reversed_span_does_not_talk_about_like(tmp_path: Path) -> None:
    out = run("clip", f"{tmp_path / 'f.mp4'}@0:05-0:02", code=2)
    assert "end time must come after the start" in out.stderr and "--like" not in out.stderr


@pytest.mark.slow
def test_a_keyframe_clip_says_it_starts_early(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.mp4", [Scene(solid((0, 200, 0)), 4), Scene(solid((200, 0, 0)), 4)], fps=10)
    out = run("clip", f"{video}@3.5-6", "-o", str(tmp_path / "c.mp4"))
    assert out.stdout.strip() == str(tmp_path / "c.mp4")
    assert "starts at 0:03, 0.5 s before 0:03.5" in out.stderr and "--reencode" in out.stderr
    exact = run("clip", f"{video}@3.5-6", "-o", str(tmp_path / "e.mp4"), "--reencode")
    assert exact.stderr == ""


@pytest.mark.slow
def test_nothing_found_prints_no_table_header(library: dict[str, Path]) -> None:
    out = run("find", "a dog", "--db", str(library["db"]), "--min-match", "1", "-f", "table", code=1)
    assert out.stdout == "" and "no moment matches 'a dog'" in out.stderr


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    import pty

    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", *args], stdout=follower, stderr=subprocess.DEVNULL,
                            env={**os.environ, **env, "COLUMNS": "200"})
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_no_color_means_no_escape_codes_at_all(library: dict[str, Path]) -> None:
    args = ["find", "a dog", "--db", str(library["db"]), "--min-match", "0", "-n", "2"]
    plain = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    styled = _on_a_terminal(args, {**plain, "TERM": "xterm-256color"})
    assert "\x1b[" in styled and "clip" in styled  # a terminal gets styles (bold header, dim rank)
    bare = _on_a_terminal(args, {"NO_COLOR": "1", "TERM": "xterm-256color"})
    assert "clip" in bare and "\x1b[" not in bare


@pytest.mark.slow
def test_models_never_prints_an_empty_reason() -> None:
    out = run("models", "--device", "cpu").stdout
    assert "usable" in out and not re.search(r"usable:\s*$", out, flags=re.M)


@pytest.fixture(scope="module")
def indexed_once(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One short video (one moment) and a broken file, indexed through the CLI, on a machine where
    the multimodal model cannot load (no GPU, hub offline, not cached)."""
    base = tmp_path_factory.mktemp("first-index")
    lib = base / "Videos"
    lib.mkdir()
    write_video(lib / "door.mp4", [Scene(title_card("THE RED DOOR"), 3)], fps=5, size=(320, 180))
    (lib / "broken.mp4").write_bytes(b"not a video")
    env = {"VIDSEARCH_DB": str(base / "index.db"), "HF_HOME": str(base / "hf"), "HF_HUB_OFFLINE": "1"}
    out = run("index", str(lib), env=env)
    return {"lib": lib, "env": env, "out": out}


@pytest.mark.slow
def test_index_summary_speaks_in_singulars_and_gives_no_advice_models_refutes(indexed_once: dict) -> None:  # type: ignore[type-arg]
    err = indexed_once["out"].stderr
    assert "indexed 1 new or changed file (1 moment," in err
    assert "1 file skipped as unreadable" in err
    models = run("models", "--device", "cpu", env=indexed_once["env"]).stdout
    qwen = models[models.index("qwen3-vl-2b"):]
    assert "not usable" in qwen.splitlines()[3]
    assert "qwen3-vl-2b" not in err  # models calls it unusable here, so index does not suggest it


def test_watch_speaks_in_singulars_too() -> None:
    from vidsearch.cli.watch import event_line
    from vidsearch.index.watch import WatchEvent

    one = event_line(WatchEvent("indexed", "/v/a.mp4", moments=1, video_seconds=5.1))
    assert one == "indexed /v/a.mp4 (1 moment, 5.1 s of video)"
    assert "(3 moments," in event_line(WatchEvent("indexed", "/v/a.mp4", moments=3, video_seconds=9.0))


@pytest.mark.slow
def test_watch_counts_unreadable_files_as_status_does(indexed_once: dict) -> None:  # type: ignore[type-arg]
    env = {**os.environ, **indexed_once["env"]}
    status = run("status", env=indexed_once["env"]).stdout
    counted = re.search(r"(\d+) skipped as unreadable", status)
    assert counted and counted.group(1) == "1"
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", "watch", "--json", str(indexed_once["lib"])],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    caught_up = None
    assert proc.stderr is not None
    deadline = time.time() + 120
    for line in proc.stderr:
        if '"caught-up"' in line:
            caught_up = json.loads(line)
            break
        if time.time() > deadline:
            break
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert caught_up is not None
    watched = re.search(r"(\d+) files? skipped as unreadable", caught_up["message"])
    assert watched and watched.group(1) == counted.group(1), caught_up["message"]


@pytest.mark.slow
def test_a_failed_first_index_leaves_no_file_behind(tmp_path: Path) -> None:
    write_video(tmp_path / "v.mp4", [Scene(solid((200, 0, 0)), 2)], fps=5)
    db = tmp_path / "new.db"
    run("index", str(tmp_path), "--model", "nobody/no-such-model", "--db", str(db), code=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.mp4"]  # no new.db, -wal, -shm, .lock


@pytest.mark.slow
def test_ctrl_c_during_index_says_the_index_is_kept(tmp_path: Path) -> None:
    import apsw

    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(6):
        write_video(lib / f"v{i}.mp4", [Scene(title_card(f"CLIP {i}"), 6)], fps=10, size=(640, 360))
    db = tmp_path / "index.db"
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", "index", str(lib), "--db", str(db)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def indexed() -> int:
        if not db.exists():
            return 0
        conn = apsw.Connection(str(db), flags=apsw.SQLITE_OPEN_READONLY)
        conn.set_busy_timeout(5000)
        try:
            return int(conn.execute("SELECT count(*) FROM videos").fetchone()[0])
        except (apsw.SQLError, apsw.BusyError):
            return 0
        finally:
            conn.close()

    deadline = time.time() + 180
    while indexed() < 1 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be interrupted")
    assert proc.returncode == 130
    assert "the index is consistent" in err and "continues where this one stopped" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_serve_removes_its_socket_on_sigterm(tmp_path: Path) -> None:
    sock = tmp_path / "run" / "s.sock"
    env = {**os.environ, "VIDSEARCH_SOCKET": str(sock)}
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", "serve", "--idle", "60"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.time() + 60
    while not sock.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert sock.exists()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    assert not sock.exists()


@pytest.mark.slow
def test_indexing_leaves_no_usage_report_behind(tmp_path: Path) -> None:
    """The OCR and voice-activity models run on onnxruntime, whose Linux and macOS wheels keep a device
    id and queue usage events (with the program's path) for upload unless told not to. Everything here
    runs locally, so an index run must leave none of that in the user's cache."""
    import shutil

    from speechgen import tune, write_talking_video
    from videogen import title_card

    lib, cache = tmp_path / "Videos", tmp_path / "cache"
    lib.mkdir()
    write_talking_video(lib / "song.mp4", 4, sound=tune(4), painter=title_card("THE RED DOOR"), size=(320, 180))
    shared = Path(os.environ["XDG_CACHE_HOME"]) / "vidsearch"
    if shared.is_dir():  # the class vectors other tests computed: only the time to make them again is saved
        shutil.copytree(shared, cache / "vidsearch")
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    out = subprocess.run([sys.executable, "-m", "vidsearch", "index", str(lib), "--db", str(tmp_path / "i.db")],
                         capture_output=True, text=True, env={**env, "XDG_CACHE_HOME": str(cache)}, timeout=600,
                         stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    assert "indexed 1 new or changed file" in out.stderr
    assert "skipping speech" not in out.stderr  # the sound was read, so voice-activity detection ran
    assert sorted(p.name for p in cache.iterdir()) == ["vidsearch"]
