"""Hostile files and broken storage, met where a user meets them: the command line as a subprocess.

Each test names the promise it keeps (README, "Reliability"): special files are never read, every
failure is one line with an exit code that is neither 0 nor 1 (``find``'s "no match"), a damaged index
is reported and can be set aside, and nothing hangs.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from videogen import Scene, solid, title_card, write_video

ROOT = os.geteuid() == 0 if hasattr(os, "geteuid") else False


def run(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )


def one_line_error(out: subprocess.CompletedProcess[str], code: int) -> str:
    """The error line of a run that must fail with ``code`` and no traceback."""
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr, out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("vidsearch:")]
    assert len(lines) == 1, out.stderr
    return lines[0]


# ---- special files named like videos ----------------------------------------------------------
@pytest.mark.slow
def test_a_fifo_or_device_link_given_on_the_command_line_is_skipped_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.mp4")  # open() on it would wait for a writer forever
    (tmp_path / "zero.mp4").symlink_to("/dev/zero")  # and this would never end
    db = tmp_path / "i.db"
    for name in ("x.mp4", "zero.mp4"):
        # refused as a root before anything is opened or read: a usage error naming the file
        out = run("index", str(tmp_path / name), "--db", str(db), timeout=60)
        line = one_line_error(out, 2)
        assert line.endswith(str(tmp_path / name)) and "a device, a pipe or a socket" in line
    assert not db.exists()  # nothing was made for it


@pytest.mark.slow
def test_special_files_in_a_folder_get_a_skip_line_once_and_are_remembered(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "good.mp4", [Scene(title_card("A GOOD CLIP"), 3)], fps=5, size=(320, 192))
    os.mkfifo(lib / "pipe.mp4")
    (lib / "zero.mkv").symlink_to("/dev/zero")
    (lib / "loop.mp4").symlink_to(lib / "loop.mp4")  # a symlink loop: no file at all
    (lib / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    db = tmp_path / "i.db"
    first = run("index", str(lib), "--db", str(db))
    assert first.returncode == 0, first.stderr
    assert "indexed 1 new or changed" in first.stderr
    for name, reason in (("pipe.mp4", "a FIFO"), ("zero.mkv", "a character device"),
                         ("loop.mp4", "a symlink loop"), ("gone.mp4", "a symlink to nothing")):
        assert f"skipping {lib / name}: " in first.stderr and reason in first.stderr, first.stderr
    second = run("index", str(lib), "--db", str(db))
    assert second.returncode == 0, second.stderr
    assert "skipping" not in second.stderr  # remembered, not reported on every run
    assert "4 files skipped as unreadable (0 new, 4 known" in second.stderr, second.stderr
    (lib / "loop.mp4").unlink()
    write_video(lib / "loop.mp4", [Scene(solid((200, 30, 30)), 2)], fps=5)  # fixed: read again
    third = run("index", str(lib), "--db", str(db))
    assert "indexed 1 new or changed" in third.stderr and "3 known" in third.stderr, third.stderr


@pytest.mark.slow
@pytest.mark.skipif(not ROOT, reason="making a device node needs root")
def test_a_device_node_inside_a_folder_gets_a_skip_line(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    os.mknod(lib / "null.mp4", 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    out = run("index", str(lib), "--db", str(tmp_path / "i.db"), timeout=60)
    one_line_error(out, 3)
    assert f"skipping {lib / 'null.mp4'}: not a regular file: a character device" in out.stderr


@pytest.mark.slow
def test_a_folder_of_only_bad_files_exits_non_zero(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a.mp4").write_bytes(b"not a video")
    (lib / "b.mov").write_bytes(b"")
    db = tmp_path / "i.db"
    line = one_line_error(run("index", str(lib), "--db", str(db)), 3)
    assert "none of the 2 video files found could be indexed" in line
    again = one_line_error(run("index", str(lib), "--db", str(db)), 3)  # still nothing usable
    assert "failed before" in again
    empty = tmp_path / "empty"
    empty.mkdir()
    assert run("index", str(empty), "--db", str(db)).returncode == 0  # no videos is not an error
    info = json.loads(run("status", "--json", "--db", str(db)).stdout)
    assert info["failed"] == 2 and info["videos"] == 0


# ---- pictures too big or too small ------------------------------------------------------------
def _write_frames(path: Path, width: int, height: int, frames: int, codec: str, pix_fmt: str) -> Path:
    """A short video of ``width`` x ``height`` grey frames (any size; videogen keeps to even ones)."""
    from fractions import Fraction

    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(5))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 40 + 10 * i, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.slow
def test_a_gigantic_picture_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    # 8200x8200: 200 KB on disk, 100 MB a decoded picture (16000x16000 took 3.5 GB to decode whole)
    _write_frames(lib / "huge.mp4", 8200, 8200, 1, "libx264", "yuv420p")
    out = run("index", str(lib), "--db", str(tmp_path / "i.db"))
    one_line_error(out, 3)
    assert f"skipping {lib / 'huge.mp4'}: " in out.stderr and "8200x8200 pictures (67.2 megapixels)" in out.stderr


@pytest.mark.slow
def test_a_one_pixel_video_is_indexed_without_numpy_warnings(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    _write_frames(lib / "dot.mkv", 1, 1, 15, "ffv1", "yuv444p")
    out = run("index", str(lib), "--db", str(tmp_path / "i.db"))
    assert out.returncode == 0, out.stderr
    assert "indexed 1 new or changed" in out.stderr
    assert "Warning" not in out.stderr, out.stderr


# ---- the index file: damage, a full disk, read-only media, who may read it ---------------------
@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two clips indexed once through the command line, into folders the run itself creates."""
    base = tmp_path_factory.mktemp("reliability")
    lib = base / "lib"
    lib.mkdir()
    write_video(lib / "beach.mp4", [Scene(title_card("SUNNY BEACH"), 3), Scene(solid((200, 30, 30)), 3)],
                fps=5, size=(320, 192))
    write_video(lib / "dog.mp4", [Scene(title_card("A DOG RUNS"), 3), Scene(solid((30, 30, 200)), 3)],
                fps=5, size=(320, 192))
    db = base / "made" / "here" / "index.db"
    env = {"XDG_DATA_HOME": str(base / "data"), "XDG_CACHE_HOME": str(base / "cache"), "HF_HOME": str(base / "hf"),
           "VIDSEARCH_NO_SERVICE": "1", "VIDSEARCH_DB": str(db)}
    out = run("index", str(lib), "--db", str(db), env=env)
    assert out.returncode == 0, out.stderr
    return {"lib": lib, "db": db}


def copy_index(indexed: dict[str, Path], folder: Path) -> Path:
    db = folder / "i.db"
    shutil.copy(indexed["db"], db)
    return db


def top_hit(db: Path, query: str = "sunny beach") -> tuple[str, float]:
    out = run("find", query, "--db", str(db))
    assert out.returncode == 0, out.stderr
    path, start, _ = out.stdout.splitlines()[0].split("\t", 2)
    return path, float(start)


def corrupt(db: Path, table: str, *, values_only: bool = False) -> None:
    """Overwrite the first page of ``table`` with random bytes; ``values_only``: the body of its first
    overflow page, so SQLite's structure stays sound and only the values stored there are wrong."""
    import apsw
    import sqlite_vec

    conn = apsw.Connection(str(db))
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = [p for p, kind in conn.execute("SELECT pageno, pagetype FROM dbstat WHERE name=?", (table,))
             if kind == "overflow" or not values_only]
    conn.close()
    rng = random.Random(table)
    skip = 4 if values_only else 0  # an overflow page starts with the number of the next one
    with open(db, "r+b") as f:
        f.seek((pages[0] - 1) * size + skip)
        f.write(rng.randbytes(size - skip))


@pytest.mark.slow
def test_a_new_index_and_its_folders_are_private(indexed: dict[str, Path], tmp_path: Path) -> None:
    db = indexed["db"]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(db.parent.stat().st_mode) == stat.S_IMODE(db.parent.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(f"{db}.lock").stat().st_mode) == 0o600
    # an index others could read (written by an older version) is closed up when next opened
    old = copy_index(indexed, tmp_path)
    old.chmod(0o644)
    assert run("status", "--db", str(old)).returncode == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


@pytest.mark.slow
def test_a_damaged_page_is_one_line_exit_7_and_rebuild_keeps_it_aside(indexed: dict[str, Path], tmp_path: Path) -> None:
    db = copy_index(indexed, tmp_path)
    corrupt(db, "moments")
    size = db.stat().st_size
    for args in (("find", "sunny beach"), ("status",)):
        line = one_line_error(run(*args, "--db", str(db)), 7)
        assert f"the index {db} is damaged" in line and "index --rebuild" in line, line
    out = run("index", "--rebuild", "--db", str(db))
    assert out.returncode == 0, out.stderr
    (aside,) = tmp_path.glob("i.db.damaged-*[0-9]")
    assert f"kept as {aside}" in out.stderr and aside.stat().st_size == size  # nothing thrown away
    assert top_hit(db) == (str(indexed["lib"] / "beach.mp4"), 0.0)  # the same folders, indexed anew
    assert run("status", "--db", str(db)).returncode == 0


@pytest.mark.slow
def test_garbled_vectors_are_never_ranked_and_status_check_names_them(indexed: dict[str, Path], tmp_path: Path) -> None:
    db = copy_index(indexed, tmp_path)
    corrupt(db, "moment_vectors_vector_chunks00", values_only=True)  # SQLite itself sees nothing wrong
    line = one_line_error(run("find", "sunny beach", "--db", str(db)), 7)
    assert f"the index {db} is damaged" in line
    full = run("status", "--check", "--db", str(db))
    one_line_error(full, 7)
    assert "health:   damaged: moment" in full.stdout and "checksum" in full.stdout


@contextlib.contextmanager
def small_disk(folder: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` at ``folder`` (needs root; the test is skipped where it cannot mount)."""
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_one_line_exit_6_and_loses_nothing(indexed: dict[str, Path], tmp_path: Path) -> None:
    more = tmp_path / "more"
    more.mkdir()
    write_video(more / "snow.mp4", [Scene(title_card("SNOWY MOUNTAIN"), 3)], fps=5, size=(320, 192))
    with small_disk(tmp_path / "disk", "8m") as disk:
        db = copy_index(indexed, disk)
        filler = disk / "filler"
        # unbuffered: a buffered file would try its last block again on close and fail there
        with open(filler, "wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        line = one_line_error(run("index", str(more), "--db", str(db)), 6)
        assert f"the disk holding the index {db} is full" in line
        filler.unlink()
        assert top_hit(db) == (str(indexed["lib"] / "beach.mp4"), 0.0)  # what was there is intact
        assert run("index", str(more), "--db", str(db)).returncode == 0  # and the next run goes on
        assert top_hit(db, "snowy mountain")[0] == str(more / "snow.mp4")


@pytest.mark.slow
def test_an_index_on_read_only_media_is_searched_and_index_says_why_not(
    indexed: dict[str, Path], tmp_path: Path
) -> None:
    with small_disk(tmp_path / "disk", "8m") as disk:
        db = copy_index(indexed, disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        assert top_hit(db) == (str(indexed["lib"] / "beach.mp4"), 0.0)
        assert run("status", "--db", str(db)).returncode == 0
        line = one_line_error(run("index", str(indexed["lib"]), "--db", str(db)), 6)
        assert f"the index {db} cannot be written" in line and "--db" in line


@pytest.mark.slow
def test_a_symlink_to_the_index_takes_the_same_writer_lock(indexed: dict[str, Path], tmp_path: Path) -> None:
    from vidsearch.locks import writer_lock

    db = copy_index(indexed, tmp_path)
    link = tmp_path / "link.db"
    link.symlink_to(db)
    with writer_lock(db):  # as a running `watch` or `index` holds it
        for args in (("index", str(indexed["lib"])), ("status", "--compact")):
            line = one_line_error(run(*args, "--db", str(link)), 5)
            assert "pid" in line, line
