"""When and where from the command line, as a user runs it (real entry point, real lite model):
a clip filmed in Lisbon is found by "lisbon" with nothing in the picture saying so, a year in the
query filters and --explain says so, a title with a year stays text, the filter options, the table's
date and place, JSON's new fields, and status.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from videogen import Scene, moving_square, title_card, write_video

KEEP_TAGS = {"movflags": "use_metadata_tags"}
LISBON_TAGS = {
    "com.apple.quicktime.creationdate": "2021-07-04T18:30:00+0100",
    "com.apple.quicktime.location.ISO6709": "+38.7223-009.1393+012.000/",
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 13",
}


def run(db: Path, *args: str, check_code: int | None = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "VIDSEARCH_DB": str(db)}
    out = subprocess.run(
        [sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True, env=env, timeout=600
    )
    if check_code is not None:
        assert out.returncode == check_code, (out.returncode, out.stdout, out.stderr)
    return out


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(library, index): a walk filmed in Lisbon (nothing on screen names it), two beach signs a year
    apart (dates in their names), a film poster with no date; indexed once through the CLI."""
    base = tmp_path_factory.mktemp("cli-when-where")
    lib = base / "lib"
    lib.mkdir()
    write_video(lib / "IMG_0420.MOV", [Scene(moving_square((60, 60, 60), (200, 200, 200)), 4)], fps=10,
                size=(640, 360), metadata=LISBON_TAGS, options=KEEP_TAGS)  # fmt: skip
    write_video(lib / "VID_20210704_120000.mp4", [Scene(title_card("BEACH"), 4)], fps=10, size=(640, 360))
    write_video(lib / "VID_20220704_120000.mp4", [Scene(title_card("BEACH"), 4)], fps=10, size=(640, 360))
    write_video(lib / "poster.mp4", [Scene(title_card("2001: A SPACE ODYSSEY"), 4)], fps=10, size=(640, 360))
    stamp = datetime(2020, 1, 1, 12, 0).timestamp()  # noon local time
    os.utime(lib / "poster.mp4", (stamp, stamp))
    db = base / "index.db"
    run(db, "index", str(lib))
    return lib, db


def _rows(out: subprocess.CompletedProcess[str]) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.mark.slow
def test_lisbon_finds_the_clip_filmed_there(indexed: tuple[Path, Path]) -> None:
    lib, db = indexed
    rows = _rows(run(db, "find", "lisbon", "--json"))
    assert rows[0]["path"] == str(lib / "IMG_0420.MOV")
    assert rows[0]["place"] == "Lisbon, Portugal" and rows[0]["camera"] == "Apple iPhone 13"
    assert rows[0]["recorded"] == "2021-07-04T18:30:00+01:00"
    assert (rows[0]["lat"], rows[0]["lon"]) == (38.7223, -9.1393)


@pytest.mark.slow
def test_a_year_in_the_query_filters_and_explain_says_so(indexed: tuple[Path, Path]) -> None:
    lib, db = indexed
    out = run(db, "find", "beach in 2021", "--json", "--explain")
    assert [r["path"] for r in _rows(out)] == [str(lib / "VID_20210704_120000.mp4")]
    assert "dates: 'in 2021' -> 2021-01-01 to 2021-12-31" in out.stderr
    both = {r["path"] for r in _rows(run(db, "find", "beach", "--json"))}
    assert str(lib / "VID_20220704_120000.mp4") in both  # the 2022 sign is there without the year


@pytest.mark.slow
def test_a_title_with_a_year_still_works_as_text(indexed: tuple[Path, Path]) -> None:
    lib, db = indexed
    out = run(db, "find", "2001: a space odyssey poster", "--json", "--explain")
    assert _rows(out)[0]["path"] == str(lib / "poster.mp4")
    assert "dates:" not in out.stderr


@pytest.mark.slow
def test_filter_options_table_and_sort(indexed: tuple[Path, Path]) -> None:
    lib, db = indexed
    # only filters: the videos that pass, in the order they were filmed
    listed = _rows(run(db, "find", "--since", "2021-07-04", "--until", "2022", "--json"))
    in_order = ("VID_20210704_120000.mp4", "IMG_0420.MOV", "VID_20220704_120000.mp4")
    assert [r["path"] for r in listed] == [str(lib / name) for name in in_order]
    near = run(db, "find", "--near", "38.72,-9.14", "--radius", "2", "--camera", "iphone", "-f", "table")
    assert "Lisbon, Portugal" in near.stdout and "2021-07-04 18:30" in near.stdout and "IMG_0420.MOV" in near.stdout
    assert "BEACH" not in near.stdout and "VID_" not in near.stdout
    by_path = _rows(run(db, "find", "beach", "--sort", "path", "--min-match", "0", "--json"))
    assert [r["path"] for r in by_path] == sorted(r["path"] for r in by_path)


@pytest.mark.slow
def test_play_takes_the_same_filters(indexed: tuple[Path, Path], tmp_path: Path) -> None:
    lib, db = indexed
    played = tmp_path / "played.txt"
    player = tmp_path / "player.sh"  # a player that writes down the files it was given
    player.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{played}"\n')
    player.chmod(0o755)
    env = {**os.environ, "COLUMNS": "200", "VIDSEARCH_DB": str(db), "VIDSEARCH_PLAYER": str(player)}

    def play(*args: str) -> list[str]:
        done = subprocess.run([sys.executable, "-m", "vidsearch", "play", *args], capture_output=True, text=True,
                              env=env, timeout=600)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [os.path.basename(f) for f in played.read_text().split()]

    # each date filter leaves out one of the two beach signs, filmed a year apart
    assert [f for f in play("beach", "--since", "2021-07-05") if f.startswith("VID_")] == ["VID_20220704_120000.mp4"]
    assert [f for f in play("beach", "--until", "2022-07-03") if f.startswith("VID_")] == ["VID_20210704_120000.mp4"]
    assert play("--near", "lisbon", "--camera", "iphone") == ["IMG_0420.MOV"]  # only filters: what passes


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "someday"), "--since 'someday': not a date"),
        (("--radius", "3"), "--radius goes with --near"),
        (("--near", "nowhere at all"), "no such place"),
        (("--sort", "size"), "unknown --sort"),
    ],
)
def test_bad_filter_values_exit_2_with_one_line(
    indexed: tuple[Path, Path], args: tuple[str, ...], message: str
) -> None:
    out = run(indexed[1], "find", "beach", *args, check_code=2)
    assert message in out.stderr and "Traceback" not in out.stderr and out.stdout == ""


@pytest.mark.slow
def test_status_shows_dates_positions_places_and_cameras(indexed: tuple[Path, Path]) -> None:
    _, db = indexed
    text = run(db, "status").stdout
    assert "dates:    2020-01-01 to 2022-07-04" in text
    assert "1 from the QuickTime creation date" in text and "2 from the file name" in text
    assert "1 from the file's modification time" in text
    assert "places:   1 of 4 videos has a position" in text and "Lisbon, Portugal 1" in text
    assert "cameras:  Apple iPhone 13 1" in text
    record = json.loads(run(db, "status", "--json").stdout)
    assert record["with_position"] == 1 and record["places"] == [{"place": "Lisbon, Portugal", "videos": 1}]
    assert record["recorded"]["sources"]["file-name"] == 2
