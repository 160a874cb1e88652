"""segment: moments follow shot changes and respect min_len / max_len, streaming."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from videogen import Scene, moving_square, noise, solid, write_video

from vidsearch.media.decode import iter_frames, probe
from vidsearch.media.segment import Segmenter, segment_frames
from vidsearch.types import Frame, Segment

RED, GREEN, BLUE, WHITE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (250, 250, 250), (90, 90, 90)


def segments_of(path: Path, interval: float = 0.5, **kwargs: float) -> list[Segment]:
    info = probe(path)
    return segment_frames(iter_frames(path, interval, 64, info), info.duration, **kwargs)


def assert_covers(segments: list[Segment], duration: float) -> None:
    assert segments[0].start == 0.0
    assert segments[-1].end == pytest.approx(duration, abs=1e-3)
    for a, b in zip(segments, segments[1:], strict=False):
        assert a.end == b.start  # no gap, no overlap
    for s in segments:
        assert all(s.start <= f.time < s.end for f in s.frames)
        assert [f.time for f in s.frames] == sorted(f.time for f in s.frames)


def test_cuts_between_three_scenes(tmp_path: Path) -> None:
    path = write_video(
        tmp_path / "three.mp4", [Scene(solid(RED), 4), Scene(solid(GREEN), 3), Scene(solid(BLUE), 5)]
    )
    segments = segments_of(path)
    assert len(segments) == 3
    assert segments[0].end == pytest.approx(4.0, abs=0.5)
    assert segments[1].end == pytest.approx(7.0, abs=0.5)
    assert_covers(segments, 12.0)
    assert sum(len(s.frames) for s in segments) == 24  # every sampled frame in exactly one


def test_one_second_flash_is_merged(tmp_path: Path) -> None:
    scenes = [Scene(solid(RED), 5), Scene(solid(WHITE), 1), Scene(solid(BLUE), 6)]
    segments = segments_of(write_video(tmp_path / "flash.mp4", scenes))
    assert len(segments) == 2
    assert min(s.end - s.start for s in segments) >= 2.0
    assert segments[1].start == pytest.approx(6.0, abs=0.5)  # the cut into the blue scene stays
    assert_covers(segments, 12.0)


def test_long_static_shot_is_split_evenly(tmp_path: Path) -> None:
    path = write_video(tmp_path / "static.mp4", [Scene(solid(GREY), 35)], size=(64, 48))
    segments = segments_of(path, interval=1.0)
    lengths = [s.end - s.start for s in segments]
    assert max(lengths) <= 10.0 + 1e-9
    assert min(lengths) >= 5.0  # parts roughly equal, not 10+10+10+5 crumbs of 1 s
    assert_covers(segments, 35.0)
    assert sum(len(s.frames) for s in segments) == 35


def test_moving_square_gives_no_cuts(tmp_path: Path) -> None:
    path = write_video(tmp_path / "square.mp4", [Scene(moving_square(GREY, WHITE, speed=1.5), 8)])
    segments = segments_of(path, max_len=10.0)
    assert [(s.start, s.end) for s in segments] == [(0.0, pytest.approx(8.0))]


def test_noise_video_does_not_explode(tmp_path: Path) -> None:
    path = write_video(tmp_path / "noise.mp4", [Scene(noise(3), 10)], size=(96, 64))
    segments = segments_of(path, interval=0.25)
    assert len(segments) <= 2
    assert min(s.end - s.start for s in segments) >= 2.0
    assert_covers(segments, 10.0)


def frames_at(times: list[float], colours: list[tuple[int, int, int]]) -> list[Frame]:
    out = []
    for t, c in zip(times, colours, strict=True):
        img = np.empty((24, 32, 3), np.uint8)
        img[:] = c
        out.append(Frame(time=t, image=img))
    return out


@pytest.mark.slow
def test_segmenter_streams_with_bounded_memory() -> None:
    # A two-hour single shot sampled every second: segments must come out while pushing.
    segmenter = Segmenter(min_len=2.0, max_len=10.0)
    held_most = 0
    out: list[Segment] = []
    emitted = 0
    for pushed, frame in enumerate(frames_at([float(t) for t in range(7200)], [GREY] * 7200), start=1):
        done = segmenter.push(frame)
        emitted += sum(len(s.frames) for s in done)
        out += done
        held_most = max(held_most, pushed - emitted)
    out += segmenter.finish(7200.0)
    assert held_most <= 20  # never more than 2 * max_len seconds of frames waiting
    assert_covers(out, 7200.0)
    assert all(s.end - s.start <= 10.0 for s in out)
    assert sum(len(s.frames) for s in out) == 7200


def test_short_first_shot_and_short_whole_video() -> None:
    # A 1 s shot at the start joins the next one; a 1.5 s video is one segment.
    frames = frames_at([0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0], [RED] * 2 + [BLUE] * 7)
    segments = segment_frames(frames, 4.5)
    assert [(s.start, s.end) for s in segments] == [(0.0, 4.5)]
    short = segment_frames(frames_at([0, 0.5, 1.0], [RED, RED, BLUE]), 1.5)
    assert [(s.start, s.end, len(s.frames)) for s in short] == [(0.0, 1.5, 3)]


def test_no_frames_gives_one_empty_segment() -> None:
    assert [(s.start, s.end) for s in segment_frames([], 3.0)] == [(0.0, 3.0)]
    assert segment_frames([], 0.0) == []


def test_pick_spreads_frames_over_the_moment_ends_included() -> None:
    from vidsearch.media.frames import pick

    frames = frames_at([float(t) for t in range(11)], [GREY] * 11)
    assert [f.time for f in pick(frames, 3)] == [0.0, 5.0, 10.0]
    assert [f.time for f in pick(frames, 5)] == [0.0, 2.0, 5.0, 8.0, 10.0]  # evenly spaced, rounded
    assert pick(frames, 20) == frames
    assert [f.time for f in pick(frames, 1)] == [5.0]
    assert pick(frames, 0) == []


def test_motion_starting_after_a_cut_is_not_another_cut(tmp_path: Path) -> None:
    scenes = [Scene(solid(RED), 3), Scene(moving_square((0, 0, 0), WHITE), 4)]
    segments = segments_of(write_video(tmp_path / "cut-then-motion.mp4", scenes, fps=8))
    assert len(segments) == 2
    assert segments[1].start == pytest.approx(3.0, abs=0.5)
    assert_covers(segments, 7.0)
