"""find's output formats: each parses as its consumer reads it and carries the hits' times."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from urllib.parse import unquote_to_bytes, urlparse

import pytest

from vidsearch.output.present import FORMATS, edl_path, m3u_playlist, mpv_edl, write_hits
from vidsearch.types import Hit

HITS = [
    Hit("/v/trip.mp4", 12.0, 19.5, 2.5),
    Hit("/v/a, b; c.mp4", 3.25, 7.0, 2.0),
    Hit("/v/trip.mp4", 40.0, 44.0, 1.5),
    Hit("/v/line\nbreak.mkv", 1.0, 2.0, 1.0),
    Hit(os.fsdecode(b"/v/caf\xe9.mov"), 0.5, 1.5, 0.5),  # Latin-1 name: not valid UTF-8
]


def render(fmt: str, hits: list[Hit] = HITS, **kw: bool) -> str:
    out = io.StringIO()
    write_hits(hits, fmt, out, **kw)
    return out.getvalue()


def parse_edl(text: str) -> list[tuple[bytes, float, float]]:
    """A reader of mpv's EDL v0 as mpv parses it: fields split on ',', '%LEN%' takes LEN bytes."""
    data = text.encode("utf-8", "surrogateescape")
    assert data.startswith(b"# mpv EDL v0\n")
    entries, i = [], len(b"# mpv EDL v0\n")
    while i < len(data):
        fields = []
        while True:
            if data[i : i + 1] == b"%":
                end = data.index(b"%", i + 1)
                n = int(data[i + 1 : end])
                fields.append(data[end + 1 : end + 1 + n])
                i = end + 1 + n
            else:
                j = i
                while j < len(data) and data[j : j + 1] not in (b",", b"\n"):
                    j += 1
                fields.append(data[i:j])
                i = j
            sep = data[i : i + 1]
            i += 1
            if sep != b",":
                break
        entries.append((fields[0], float(fields[1]), float(fields[2])))
    return entries


def test_all_formats_are_offered() -> None:
    assert {"table", "jsonl", "tsv", "paths", "m3u", "edl"} <= set(FORMATS)
    for fmt in FORMATS:
        render(fmt)  # none raises
    with pytest.raises(ValueError):
        render("xml")


def test_paths_are_unique_in_rank_order_and_print0_keeps_newlines() -> None:
    lines = render("paths").split("\n")
    assert lines[:2] == ["/v/trip.mp4", "/v/a, b; c.mp4"]  # trip.mp4 once, though it has two hits
    raw = render("paths", print0=True).encode("utf-8", "surrogateescape")
    names = raw.split(b"\0")
    assert names[-1] == b""
    assert names[:-1] == [b"/v/trip.mp4", b"/v/a, b; c.mp4", b"/v/line\nbreak.mkv", b"/v/caf\xe9.mov"]
    with pytest.raises(ValueError):
        render("tsv", print0=True)


def test_jsonl_parses_with_times() -> None:
    records = [json.loads(line) for line in render("jsonl").splitlines()]
    assert [(r["start"], r["end"]) for r in records] == [(h.start, h.end) for h in HITS]
    assert os.fsencode(records[4]["path"]) == b"/v/caf\xe9.mov"
    assert (records[0]["start_time"], records[0]["end_time"]) == ("0:12", "0:19.5")


def test_m3u_carries_vlc_start_and_stop_times() -> None:
    text = m3u_playlist(HITS)
    assert text == render("m3u")
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    entries, opts = [], {}
    for line in lines[1:]:
        if line.startswith("#EXTVLCOPT:"):
            key, value = line[len("#EXTVLCOPT:") :].split("=")
            opts[key] = float(value)
        elif line and not line.startswith("#"):
            entries.append((line, opts["start-time"], opts["stop-time"]))
            opts = {}
    assert len(entries) == len(HITS)
    for (location, start, stop), hit in zip(entries, HITS, strict=True):
        assert (start, stop) == (hit.start, hit.end)
        if location.startswith("file://"):  # odd names go as URIs; they name the same bytes
            assert unquote_to_bytes(urlparse(location).path) == os.fsencode(hit.path)
        else:
            assert location == hit.path
    assert entries[3][0].startswith("file://")  # the newline would otherwise split the entry
    assert "\n/v/line" not in text


def test_edl_plays_each_moment_for_its_length_with_mpv_escaping() -> None:
    entries = parse_edl(render("edl"))
    assert entries == [(os.fsencode(h.path), h.start, pytest.approx(h.end - h.start)) for h in HITS]
    assert edl_path("/v/plain name.mp4") == "%17%/v/plain name.mp4"  # every name, so none is read as syntax
    assert edl_path("/v/a,b.mp4") == "%10%/v/a,b.mp4"
    assert edl_path("/v/é,.mp4") == "%10%/v/é,.mp4"  # LEN counts bytes, not characters
    assert mpv_edl(HITS[:2], header=False) == "%11%/v/trip.mp4,12.000,7.500;%14%/v/a, b; c.mp4,3.250,3.750"


def _find(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidsearch", "find", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_find_rejects_bad_format_choices_with_exit_2() -> None:
    bad = _find("dog", "--format", "xml")
    assert bad.returncode == 2 and "choose one of table, jsonl, tsv, paths, m3u, edl" in bad.stderr
    mixed = _find("dog", "-0", "--format", "jsonl")
    assert mixed.returncode == 2 and "--print0" in mixed.stderr
    assert mixed.stdout == ""
