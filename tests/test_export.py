"""Cutting a moment to a new file: keyframe-accurate copy, frame-accurate re-encode, the clip CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from videogen import Scene, solid, write_video

from vidsearch.cli.clip import parse_result
from vidsearch.errors import UsageError, VideoOpenError
from vidsearch.media.cut import cut

GREEN, RED, BLUE = (0, 200, 0), (200, 0, 0), (0, 0, 200)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 s at 10 fps, a keyframe every second: green 0-4 s, red 4-8 s, blue 8-12 s."""
    path = tmp_path_factory.mktemp("export") / "three, colours.mp4"
    return write_video(path, [Scene(solid(GREEN), 4), Scene(solid(RED), 4), Scene(solid(BLUE), 4)], fps=10)


def frames_of(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as c:
        return list(c.decode(video=0))


def colour(frame: av.VideoFrame) -> tuple[int, ...]:
    return tuple(int(round(v / 50)) * 50 for v in frame.to_ndarray(format="rgb24").mean(axis=(0, 1)))


def test_copy_starts_at_the_keyframe_before_start_and_stops_at_end(video: Path, tmp_path: Path) -> None:
    out = cut(video, 3.5, 6.0, tmp_path / "copy.mp4")
    frames = frames_of(out)
    # keyframes fall on whole seconds: the copy starts at 3.0 (green), rebased to 0
    assert frames[0].time == pytest.approx(0.0)
    assert colour(frames[0]) == (0, 200, 0)
    assert len(frames) == 30  # 3.0 .. 5.9 s
    assert colour(frames[10]) == (200, 0, 0)  # 4.0 s in the source: red


def test_reencode_is_frame_accurate(video: Path, tmp_path: Path) -> None:
    out = cut(video, 3.5, 6.0, tmp_path / "exact.mkv", reencode=True)
    frames = frames_of(out)
    assert len(frames) == 25  # 3.5 .. 5.9 s
    assert frames[0].time == pytest.approx(0.0)
    assert colour(frames[4]) == (0, 200, 0) and colour(frames[5]) == (200, 0, 0)  # 3.9 green, 4.0 red


@pytest.mark.slow
def test_audio_is_kept_in_both_modes(tmp_path: Path) -> None:
    src = tmp_path / "talk.mp4"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=10, options={"preset": "ultrafast", "g": "10"})
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        for i in range(40):
            for p in v.encode(
                av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 5, np.uint8), format="rgb24")
            ):
                c.mux(p)
        tone = (np.sin(np.arange(16000 * 4) / 5) * 0.3).astype(np.float32)
        for k in range(0, len(tone), 1024):
            frame = av.AudioFrame.from_ndarray(tone[None, k : k + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 16000, k, Fraction(1, 16000)
            for p in a.encode(frame):
                c.mux(p)
        for s in (v, a):
            for p in s.encode():
                c.mux(p)
    for reencode in (False, True):
        out = cut(src, 1.0, 3.0, tmp_path / f"talk-{reencode}.mp4", reencode=reencode)
        with av.open(str(out)) as c:
            assert c.streams.audio, "audio track lost"
            seconds = sum(f.samples for f in c.decode(audio=0)) / c.streams.audio[0].sample_rate
        assert seconds == pytest.approx(2.0, abs=0.15)


def test_bad_requests_are_usage_errors(video: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="end must come after"):
        cut(video, 5, 5, tmp_path / "x.mp4")
    with pytest.raises(UsageError, match="no such file"):
        cut(tmp_path / "missing.mp4", 0, 1, tmp_path / "x.mp4")
    with pytest.raises(UsageError, match="12.0 s long"):
        cut(video, 30, 31, tmp_path / "x.mp4")
    with pytest.raises(UsageError, match="overwrite"):
        cut(video, 1, 2, video)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all")
    with pytest.raises(VideoOpenError):
        cut(junk, 0, 1, tmp_path / "x.mp4")


def test_parse_result_reads_what_find_and_like_write() -> None:
    assert parse_result("/v/a b.mp4@1:20-1:35.5") == ("/v/a b.mp4", 80.0, 95.5)
    assert parse_result("/v/tab\\there.mp4\t12.000\t19.500\t2.5000\n") == ("/v/tab\there.mp4", 12.0, 19.5)
    line = json.dumps({"path": "/v/x.mp4", "start": 1.5, "end": 4.0, "score": 1.0})
    assert parse_result(line) == ("/v/x.mp4", 1.5, 4.0)
    with pytest.raises(UsageError, match="PATH@START-END"):
        parse_result("/v/x.mp4@12")


def clip_cli(*args: str, stdin: str = "", cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vidsearch", "clip", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
    )


@pytest.mark.slow
def test_clip_command_from_a_find_line_on_stdin(video: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.mp4"
    tsv = f"{video}\t8.000\t10.000\t1.2345\n"
    done = clip_cli("-", "-o", str(out), stdin=tsv)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{out}\n"  # stdout: the new file only
    frames = frames_of(out)
    assert colour(frames[0]) == (0, 0, 200) and len(frames) == 20
    # find | clip: with no RESULT, a pipe is read as "-" is
    piped = clip_cli("-o", str(tmp_path / "piped.mp4"), stdin=tsv)
    assert piped.returncode == 0, piped.stderr
    assert len(frames_of(tmp_path / "piped.mp4")) == 20
    again = clip_cli(f"{video}@8-10", "-o", str(out))
    assert again.returncode == 2 and "--force" in again.stderr
    default = clip_cli(f"{video}@0-1", cwd=tmp_path)
    assert default.returncode == 0, default.stderr
    assert (tmp_path / "three, colours_0.0-1.0.mp4").is_file()
