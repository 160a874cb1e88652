"""The walk over library roots, fingerprints, and output formatting."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path

import pytest

from vidsearch.media.scan import fingerprint, walk_videos
from vidsearch.output.present import format_time, hit_record, to_json_line, write_hits
from vidsearch.query.hits import merge_adjacent
from vidsearch.store import Candidate
from vidsearch.types import Hit


def test_walk_finds_video_extensions_case_insensitively(tmp_path: Path) -> None:
    names = ["a.mp4", "b.MOV", "c.mkv", "d.webm", "e.avi", "f.MTS", "g.m2ts", "h.3gp", "i.wmv", "j.mpg", "k.m4v"]
    (tmp_path / "deep" / "er").mkdir(parents=True)
    for n in names:
        (tmp_path / "deep" / "er" / n).write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("no")
    (tmp_path / "photo.jpg").write_bytes(b"no")
    found = sorted(os.path.basename(f.path) for f in walk_videos(str(tmp_path)))
    assert found == sorted(names)


def test_walk_reports_problems_and_survives_loops(tmp_path: Path) -> None:
    (tmp_path / "v.mp4").write_bytes(b"x")
    (tmp_path / "loop").symlink_to(tmp_path)
    (tmp_path / "broken.mp4").symlink_to(tmp_path / "missing.mp4")
    problems: list[tuple[str, str]] = []
    found = {f.path: f.problem for f in walk_videos(str(tmp_path), lambda p, r: problems.append((p, r)))}
    # the broken link is handed on as a bad file (remembered by the indexer), never read
    assert found == {str(tmp_path / "v.mp4"): None,
                     str(tmp_path / "broken.mp4"): "a symlink to nothing (its target is missing)"}
    assert problems == []


@pytest.mark.slow
def test_rescan_of_10000_files_takes_seconds(tmp_path: Path) -> None:
    for d in range(100):
        folder = tmp_path / f"d{d}"
        folder.mkdir()
        for i in range(100):
            (folder / f"clip{i}.mp4").write_bytes(b"")
    t = time.perf_counter()
    n = sum(1 for _ in walk_videos(str(tmp_path)))
    assert n == 10_000
    assert time.perf_counter() - t < 5.0


def test_fingerprint_follows_content_not_name(tmp_path: Path) -> None:
    big = os.urandom(5 << 20)
    (tmp_path / "a.mp4").write_bytes(big)
    (tmp_path / "b.mp4").write_bytes(big)
    (tmp_path / "c.mp4").write_bytes(big[:-1] + b"\0")
    fa, fb, fc = (fingerprint(str(tmp_path / n)) for n in ("a.mp4", "b.mp4", "c.mp4"))
    assert fa == fb != fc


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0:00"), (7.5, "0:07.5"), (65, "1:05"), (65.4, "1:05"), (3723, "1:02:03"), (59.96, "1:00")],
)
def test_format_time(seconds: float, text: str) -> None:
    assert format_time(seconds) == text


def _cand(mid: int, vid: int, start: float, end: float, sim: float) -> Candidate:
    return Candidate(mid, vid, f"/v{vid}.mp4", start, end, sim, {}, True)


def test_adjacent_moments_merge_into_one_hit() -> None:
    hits = merge_adjacent(
        [_cand(1, 1, 0, 5, 0.5), _cand(2, 1, 5, 10, 0.9), _cand(3, 1, 30, 35, 0.7), _cand(4, 2, 0, 5, 0.8)]
    )
    assert [(h.path, h.start, h.end) for h in hits] == [
        ("/v1.mp4", 0, 10), ("/v2.mp4", 0, 5), ("/v1.mp4", 30, 35)
    ]
    assert hits[0].score == 0.9 and hits[0].moment_ids == (1, 2)


def test_formats_parse_and_carry_times() -> None:
    weird = os.fsdecode(b"/v/caf\xe9\tx\n.mp4")
    hits = [Hit("/v/a b.mp4", 61.5, 70.0, 0.8123), Hit(weird, 0.0, 5.0, 0.5)]
    out = io.StringIO()
    write_hits(hits, "jsonl", out)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert rows[0]["path"] == "/v/a b.mp4" and rows[0]["start"] == 61.5 and rows[0]["end"] == 70.0
    assert os.fsencode(rows[1]["path"]) == b"/v/caf\xe9\tx\n.mp4"
    out = io.StringIO()
    write_hits(hits, "tsv", out)
    lines = out.getvalue().split("\n")
    assert lines[0] == "/v/a b.mp4\t61.500\t70.000\t0.8123"
    assert lines[1].count("\t") == 3  # the tab and newline inside the name are escaped
    out = io.StringIO()
    write_hits(hits, "table", out)
    assert "1:01.5-1:10" in out.getvalue().replace(" ", "") or "1:01-1:10" in out.getvalue()
    assert "a b.mp4" in out.getvalue()


def test_json_record_marks_offline() -> None:
    rec = hit_record(Hit("/x.mp4", 1, 2, 0.5, available=False))
    assert rec["available"] is False
    assert json.loads(to_json_line(rec))["start_time"] == "0:01"


def test_weak_neighbour_does_not_stretch_a_hit() -> None:
    hits = merge_adjacent([_cand(1, 1, 0, 4, -0.5), _cand(2, 1, 4, 8, 3.0), _cand(3, 1, 8, 12, 2.6)])
    assert [(h.start, h.end) for h in hits] == [(4, 12)]
