"""`watch`: real filesystem events in temp folders, the index checked after each change.

Most tests run the library Watcher in a thread with the colour test embedder (fast, deterministic);
the SIGTERM and two-writers tests run the real CLI as a subprocess with the bundled lite model.
Nothing sleeps a fixed time to wait for the watcher: the index is polled until it shows the change.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from colour import ColourEmbedder
from videogen import Scene, moving_square, noise, solid, write_video

from vidsearch.index.watch import SettleQueue, Watcher, WatchEvent, poll_reason
from vidsearch.query.options import SearchOptions
from vidsearch.query.search import find
from vidsearch.store import Store

pytest.importorskip("watchdog")

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)
SETTLE = 0.3


# ---- pure logic: no threads, no sleeps ------------------------------------------------------
def test_settle_queue_waits_for_quiet_and_stable_size() -> None:
    sizes: dict[str, tuple[int, int] | None] = {"/v/a.mp4": (10, 1)}
    q = SettleQueue(2.0, stat=lambda p: sizes.get(p))
    for t in (0.0, 0.5, 1.0):  # a burst of events for one file
        q.touch("/v/a.mp4", t)
    assert q.due(2.5) == [] and q.next_due(2.5) == pytest.approx(0.5)
    sizes["/v/a.mp4"] = (20, 2)  # still growing, no event seen (polling, network share)
    assert q.due(3.1) == []  # the clock restarts at 3.1
    assert q.due(5.0) == []
    assert q.due(5.2) == ["/v/a.mp4"]  # one job for the whole burst
    assert q.due(9.0) == [] and len(q) == 0


def test_settle_queue_follows_renames_and_reports_gone_files() -> None:
    q = SettleQueue(1.0, stat=lambda p: None)
    q.touch("/v/import/clip.mp4", 0.0)
    q.touch("/v/other.mp4", 0.5)
    q.rename("/v/import", "/v/2024")  # the folder being copied was renamed mid-import
    assert "/v/2024/clip.mp4" in q and "/v/import/clip.mp4" not in q
    assert q.due(1.2) == ["/v/2024/clip.mp4"]  # kept its clock; gone files are due too
    q.discard_under("/v")
    assert len(q) == 0


def test_poll_reason_for_network_and_fuse_mounts(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(
        "/dev/sda1 / ext4 rw 0 0\n"
        "server:/export /mnt/nas nfs4 rw 0 0\n"
        "//host/share /mnt/smb\\040share cifs rw 0 0\n"
        "sshfs#me@h: /mnt/ssh fuse.sshfs rw 0 0\n"
        "/dev/sdb1 /mnt/usb fuseblk rw 0 0\n"
    )
    assert poll_reason("/mnt/nas/Videos", str(mounts)) is not None
    assert "cifs" in (poll_reason("/mnt/smb share/x", str(mounts)) or "")
    assert poll_reason("/mnt/ssh", str(mounts)) is not None
    assert poll_reason("/mnt/usb/Videos", str(mounts)) is None  # local NTFS: events work
    assert poll_reason("/home/me/Videos", str(mounts)) is None
    assert poll_reason("/mnt/nasty", str(mounts)) is None  # a prefix of the name is not the mount


# ---- a watcher in a thread ------------------------------------------------------------------
class Running:
    """A Watcher running in a thread, with what it emitted and how much it embedded."""

    def __init__(self, db: Path, roots: list[Path], **kw: object) -> None:
        self.db = db
        self.events: list[WatchEvent] = []
        self.embedder = ColourEmbedder()
        self.loads = 0
        self.watcher = Watcher(
            db, [str(r) for r in roots], self._load, model_name="test", settle=SETTLE, root_check=0.3,
            on_event=self.events.append, **kw,  # type: ignore[arg-type]
        )
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.wait(lambda: any(e.kind == "caught-up" for e in self.events), "catch-up")

    def _load(self) -> ColourEmbedder:
        self.loads += 1
        return self.embedder

    def _run(self) -> None:
        try:
            self.watcher.run()
        except BaseException as exc:  # surfaced by wait() and stop()
            self.error = exc

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.error is None, self.error
            assert time.monotonic() < deadline, f"timed out waiting for {what}; events: {self.events}"
            time.sleep(0.05)

    def wait_index(self, condition: Callable[[Store], bool], what: str, timeout: float = 15.0) -> None:
        def check() -> bool:
            with Store.open(self.db, create=False) as store:
                return condition(store)

        self.wait(check, what, timeout)

    def stop(self) -> None:
        self.watcher.request_stop()
        self.thread.join(10)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


@pytest.fixture()
def lib(tmp_path: Path) -> Path:
    lib = tmp_path / "Videos"
    (lib / "trips").mkdir(parents=True)
    write_video(lib / "red.mp4", [Scene(solid(RED), 3)], fps=10)
    write_video(lib / "trips" / "blue.mov", [Scene(solid(BLUE), 3)], fps=10)
    return lib


@pytest.fixture()
def running(lib: Path, tmp_path: Path) -> Iterator[Running]:
    r = Running(tmp_path / "i.db", [lib])
    yield r
    r.stop()


def paths(store: Store) -> set[str]:
    return {os.fsdecode(p) for (p,) in store.db.execute("SELECT path FROM videos")}


def best(store: Store, colour: str) -> str:
    hits = find(store, ColourEmbedder(), colour, SearchOptions(limit=1))
    return hits[0].path if hits else ""


def consistent(store: Store) -> bool:
    """Every moment has its vector and every indexed video has moments (no half-written video)."""
    with store.transaction():
        moments = store.db.execute("SELECT count(*) FROM moments").fetchone()[0]
        vectors = store.db.execute("SELECT count(*) FROM moment_vectors").fetchone()[0]
        empty = store.db.execute(
            "SELECT count(*) FROM videos v WHERE status='indexed' AND NOT EXISTS"
            " (SELECT 1 FROM moments m WHERE m.video_id = v.id)"
        ).fetchone()[0]
    return bool(moments == vectors and empty == 0)


@pytest.mark.slow
def test_catch_up_then_create_and_replace_in_place(running: Running, lib: Path, tmp_path: Path) -> None:
    assert running.embedder.moments_embedded == 2  # caught up with the two files already there
    write_video(lib / "trips" / "green.mp4", [Scene(solid(GREEN), 3)], fps=10)
    running.wait_index(lambda s: best(s, "green") == str(lib / "trips" / "green.mp4"), "the new file")
    write_video(lib / "red.mp4", [Scene(solid(GREEN), 4)], fps=10)  # replaced in place

    def replaced(store: Store) -> bool:
        video = store.video_by_path(lib / "red.mp4")
        return video is not None and abs(video.duration - 4.0) < 0.2

    running.wait_index(replaced, "the replaced file")
    with Store.open(running.db) as store:
        hits = find(store, ColourEmbedder(), "green", SearchOptions(limit=2))
        assert {h.path for h in hits} == {str(lib / "red.mp4"), str(lib / "trips" / "green.mp4")}
        assert len(paths(store)) == 3 and consistent(store)
    assert running.loads == 1  # the model is loaded once and kept
    indexed = [e.path for e in running.events if e.kind == "indexed"]
    assert indexed.count(str(lib / "red.mp4")) == 2  # catch-up, then once for the replacement


@pytest.mark.slow
def test_slow_copy_is_indexed_once_when_complete(running: Running, lib: Path, tmp_path: Path) -> None:
    source = tmp_path / "camera.mp4"
    write_video(source, [Scene(solid(GREEN), 4)], fps=10, size=(320, 192))
    data = source.read_bytes()
    target = lib / "import" / "camera.mp4"
    target.parent.mkdir()  # a new subfolder: followed
    chunks = 8
    with open(target, "wb") as fh:  # written in chunks over ~2 s, each pause shorter than the settle time
        for i in range(chunks):
            fh.write(data[i * len(data) // chunks : (i + 1) * len(data) // chunks])
            fh.flush()
            time.sleep(0.22)
            with Store.open(running.db) as store:
                assert str(target) not in paths(store), "a half-written file was read"
    running.wait_index(lambda s: best(s, "green") == str(target), "the copied file")
    time.sleep(SETTLE * 2)
    with Store.open(running.db) as store:
        video = store.video_by_path(target)
        assert video is not None and video.status == "indexed" and video.size == len(data)
    assert [e.path for e in running.events if e.kind in ("indexed", "skipped")].count(str(target)) == 1


@pytest.mark.slow
def test_renames_and_moves_keep_vectors(running: Running, lib: Path) -> None:
    embedded = running.embedder.moments_embedded
    (lib / "2024").mkdir()
    os.rename(lib / "red.mp4", lib / "2024" / "still red.mp4")  # move between folders + rename
    running.wait_index(lambda s: best(s, "red") == str(lib / "2024" / "still red.mp4"), "the moved file")
    os.rename(lib / "trips", lib / "holidays")  # a whole folder
    running.wait_index(lambda s: best(s, "blue") == str(lib / "holidays" / "blue.mov"), "the moved folder")
    shutil.move(str(lib / "2024"), str(lib / "holidays" / "2024"))  # a folder into another
    target = str(lib / "holidays" / "2024" / "still red.mp4")
    running.wait_index(lambda s: best(s, "red") == target, "the nested folder")
    time.sleep(SETTLE * 2)  # let any event about the moved files settle: none may re-embed
    with Store.open(running.db) as store:
        assert paths(store) == {target, str(lib / "holidays" / "blue.mov")} and consistent(store)
    assert running.embedder.moments_embedded == embedded  # nothing was re-embedded


@pytest.mark.slow
def test_deleted_and_moved_out_files_are_dropped(running: Running, lib: Path, tmp_path: Path) -> None:
    os.remove(lib / "red.mp4")
    shutil.move(str(lib / "trips" / "blue.mov"), str(tmp_path / "blue.mov"))  # out of the roots
    running.wait_index(lambda s: paths(s) == set(), "both files gone")
    with Store.open(running.db) as store:
        assert store.info().moments == 0 and consistent(store)
    assert {e.path for e in running.events if e.kind == "removed"} == {
        str(lib / "red.mp4"), str(lib / "trips" / "blue.mov")
    }


@pytest.mark.slow
def test_move_between_two_roots_keeps_vectors(lib: Path, tmp_path: Path) -> None:
    other = tmp_path / "Phone"
    other.mkdir()
    r = Running(tmp_path / "i.db", [lib, other])
    try:
        embedded = r.embedder.moments_embedded
        shutil.move(str(lib / "red.mp4"), str(other / "red.mp4"))  # two watches: a delete and a create
        r.wait_index(lambda s: paths(s) == {str(other / "red.mp4"), str(lib / "trips" / "blue.mov")}, "move")
        with Store.open(r.db) as store:
            assert best(store, "red") == str(other / "red.mp4") and consistent(store)
        assert r.embedder.moments_embedded == embedded
    finally:
        r.stop()


@pytest.mark.slow
def test_bad_file_is_reported_once_and_not_retried(running: Running, lib: Path) -> None:
    (lib / "broken.mp4").write_bytes(b"not a video at all")
    running.wait_index(lambda s: [p for p, _ in s.failures()] == [str(lib / "broken.mp4")], "the failure")
    os.utime(lib / "trips")  # unrelated activity; the bad file itself is unchanged
    (lib / "trips" / "note.txt").write_text("x")
    write_video(lib / "green.mp4", [Scene(solid(GREEN), 2)], fps=10)
    running.wait_index(lambda s: best(s, "green") == str(lib / "green.mp4"), "a later good file")
    skipped = [e for e in running.events if e.kind == "skipped"]
    assert [e.path for e in skipped] == [str(lib / "broken.mp4")] and skipped[0].message


@pytest.mark.slow
def test_deleted_root_is_kept_offline_and_resumes(running: Running, lib: Path, tmp_path: Path) -> None:
    shutil.move(str(lib), str(tmp_path / "unplugged"))
    running.wait(lambda: any(e.kind == "root-offline" for e in running.events), "root offline")
    with Store.open(running.db) as store:
        assert len(paths(store)) == 2 and store.roots()[0][2] is False
        hit = find(store, ColourEmbedder(), "red", SearchOptions(limit=1))[0]
        assert hit.path == str(lib / "red.mp4") and hit.available is False
    shutil.move(str(tmp_path / "unplugged"), str(lib))
    running.wait(lambda: any(e.kind == "root-online" for e in running.events), "root back")
    write_video(lib / "green.mp4", [Scene(solid(GREEN), 2)], fps=10)  # watched again
    running.wait_index(lambda s: best(s, "green") == str(lib / "green.mp4"), "a file on the returned root")
    with Store.open(running.db) as store:
        assert store.roots()[0][2] is True and len(paths(store)) == 3


@pytest.mark.slow
def test_rm_rf_of_a_root_keeps_its_moments(running: Running, lib: Path) -> None:
    moments = Store.open(running.db).info().moments
    shutil.rmtree(lib)
    running.wait(lambda: any(e.kind == "root-offline" for e in running.events), "root offline")
    time.sleep(SETTLE * 3)  # the per-file delete events settle too: they must not delete anything
    with Store.open(running.db) as store:
        assert store.info().moments == moments and len(paths(store)) == 2


@pytest.mark.slow
def test_find_during_writes_sees_consistent_results(running: Running, lib: Path) -> None:
    for i in range(4):
        write_video(lib / f"noise{i}.mp4", [Scene(noise(i), 3), Scene(solid(GREEN), 3)], fps=10)
    reads = 0
    with Store.open(running.db) as store:
        def done() -> bool:
            nonlocal reads
            reads += 1
            assert consistent(store)
            hits = find(store, ColourEmbedder(), "green", SearchOptions(limit=20))
            return {f"noise{i}.mp4" for i in range(4)} <= {Path(h.path).name for h in hits}

        running.wait(done, "four files searchable")
    assert reads > 3


@pytest.mark.slow
def test_polling_mode_sees_changes(lib: Path, tmp_path: Path) -> None:
    r = Running(tmp_path / "i.db", [lib], poll=True, poll_interval=0.2)
    try:
        assert any(e.kind == "polling" for e in r.events)
        os.rename(lib / "red.mp4", lib / "trips" / "red again.mp4")
        write_video(lib / "green.mp4", [Scene(solid(GREEN), 2)], fps=10)
        r.wait_index(lambda s: best(s, "green") == str(lib / "green.mp4")
                     and best(s, "red") == str(lib / "trips" / "red again.mp4"), "polled changes")
        assert r.embedder.moments_embedded == 3  # two at catch-up, one new; the moved file kept its vectors
    finally:
        r.stop()


# ---- the CLI as a user runs it (real lite model) ---------------------------------------------
def start_watch(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "vidsearch", "watch", "--json", "--settle", "0.3", "--model", "lite", *args],
        stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    return proc


def read_until(proc: subprocess.Popen[str], event: str, timeout: float = 60.0) -> list[dict]:  # type: ignore[type-arg]
    """JSON records from the watcher's stderr up to and including the first of kind ``event``."""
    seen: list[dict] = []  # type: ignore[type-arg]
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"watch exited ({proc.poll()}) before {event!r}: {seen}")
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # e.g. the model note
        seen.append(record)
        if record["event"] == event:
            return seen
    raise AssertionError(f"no {event!r} within {timeout} s: {seen}")


@pytest.mark.slow
def test_second_writer_is_refused_naming_the_watcher(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    proc = start_watch(str(lib))
    try:
        read_until(proc, "caught-up")
        for cmd in (["index", str(lib)], ["watch", str(lib)]):
            out = subprocess.run([sys.executable, "-m", "vidsearch", *cmd, "--model", "lite"],
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 5, out.stderr
            assert f"pid {proc.pid}" in out.stderr and "being written" in out.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    assert proc.returncode == 0


@pytest.mark.slow
def test_sigterm_mid_file_exits_quickly_and_leaves_a_consistent_index(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    long_clip = tmp_path / "long.mp4"
    write_video(long_clip, [Scene(moving_square(BLUE, RED), 20)], fps=10, size=(320, 192))
    proc = start_watch(str(lib))
    try:
        read_until(proc, "caught-up")
        shutil.move(str(long_clip), str(lib / "long.mp4"))  # arrives whole (a rename into the root)
        read_until(proc, "indexing", timeout=90)  # the model is loaded and the file is being read
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        rest = read_until(proc, "stopped", timeout=10)
        proc.wait(10)
        took = time.monotonic() - t
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0 and took < 5.0, took
    assert rest[-1].get("path") == str(lib / "long.mp4")  # it says which file was rolled back
    with Store.open(tmp_path / "index.db") as store:
        assert store.video_by_path(lib / "long.mp4") is None and consistent(store)


@pytest.mark.slow
def test_fifo_and_device_link_dropped_into_a_watched_folder_are_skipped_and_watch_goes_on(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    clip = write_video(tmp_path / "late.mp4", [Scene(solid(GREEN), 2)], fps=10)
    proc = start_watch(str(lib))
    try:
        read_until(proc, "caught-up")
        os.mkfifo(lib / "pipe.mp4")  # open() would wait for a writer, holding the writer lock
        (lib / "zero.mp4").symlink_to("/dev/zero")  # a read would never end
        seen = read_until(proc, "skipped", timeout=30)
        seen += read_until(proc, "skipped", timeout=30)
        skipped = {r["path"]: r["message"] for r in seen if r["event"] == "skipped"}
        assert "FIFO" in skipped[str(lib / "pipe.mp4")] and "device" in skipped[str(lib / "zero.mp4")]
        shutil.move(str(clip), str(lib / "late.mp4"))  # the watcher still indexes what comes next
        done = read_until(proc, "indexed", timeout=120)
        assert done[-1]["path"] == str(lib / "late.mp4")
        t = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        read_until(proc, "stopped", timeout=10)
        proc.wait(10)
        assert proc.returncode == 0 and time.monotonic() - t < 5.0
    finally:
        if proc.poll() is None:
            proc.kill()
