"""decode: probe metadata and sample upright, small frames from videos encoded here with PyAV."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import av
import numpy as np
import pytest
from videogen import Scene, image, moving_square, solid, write_audio_only, write_video

from vidsearch.errors import MediaError, VideoOpenError
from vidsearch.media.decode import iter_frames, probe

RED, GREEN, BLUE, GREY = (220, 20, 20), (20, 200, 20), (20, 20, 220), (128, 128, 128)


def banded(w: int = 160, h: int = 96) -> np.ndarray:
    """Grey picture with a red band along its top fifth (as stored, before rotation)."""
    picture = np.empty((h, w, 3), np.uint8)
    picture[:] = GREY
    picture[: h // 5] = RED
    return picture


def is_red(pixels: np.ndarray) -> bool:
    r, g, b = pixels.reshape(-1, 3).mean(axis=0)
    return r > 150 and g < 80 and b < 80


@pytest.mark.parametrize("fps", [10, 25])
def test_probe_reads_duration_fps_and_size(tmp_path: Path, fps: int) -> None:
    path = write_video(tmp_path / f"clip{fps}.mp4", [Scene(solid(RED), 3.0)], fps=fps, size=(160, 96))
    info = probe(path)
    assert info.duration == pytest.approx(3.0, abs=1.5 / fps)
    assert info.fps == pytest.approx(fps, rel=0.01)
    assert (info.width, info.height, info.rotation) == (160, 96, 0)
    assert info.codec == "h264"
    assert "creation_time" not in info.tags
    assert info.path == str(path)


@pytest.mark.parametrize(
    ("rotation", "band_side"), [(90, "right"), (180, "bottom"), (270, "left")]
)
def test_rotated_video_reports_rotation_and_comes_out_upright(
    tmp_path: Path, rotation: int, band_side: str
) -> None:
    path = write_video(tmp_path / "phone.mp4", [Scene(image(banded()), 1.0)], rotation=rotation)
    info = probe(path)
    assert info.rotation == rotation
    assert (info.width, info.height) == ((96, 160) if rotation in (90, 270) else (160, 96))
    frame = next(iter_frames(path, 0.5, 80, info))
    h, w = frame.image.shape[:2]
    assert (w, h) == ((48, 80) if rotation in (90, 270) else (80, 48))
    # The stored top band must end up where a player would show it after turning clockwise.
    edges = {
        "right": frame.image[:, -w // 8 :],
        "left": frame.image[:, : w // 8],
        "bottom": frame.image[-h // 8 :],
        "top": frame.image[: h // 8],
    }
    for side, pixels in edges.items():
        assert is_red(pixels) == (side == band_side), side


def test_probe_keeps_the_tags_the_recording_time_is_read_from(tmp_path: Path) -> None:
    from vidsearch.media.facts import facts_from_probe

    path = write_video(
        tmp_path / "tagged.mp4",
        [Scene(solid(RED), 1.0)],
        metadata={"creation_time": "2021-06-01T12:00:00.000000Z"},
    )
    info = probe(path)
    assert info.tags["creation_time"].startswith("2021-06-01T12:00:00")
    expected = datetime(2021, 6, 1, 12, 0, tzinfo=timezone.utc).timestamp()
    assert facts_from_probe(info, mtime=None).facts.recorded == pytest.approx(expected)


def _bad_inputs(tmp: Path) -> dict[str, tuple[Path, str]]:
    zero = tmp / "empty.mp4"
    zero.write_bytes(b"")
    noise = tmp / "noise.mp4"
    noise.write_bytes(np.random.default_rng(1).integers(0, 256, 20000, dtype=np.uint8).tobytes())
    text = tmp / "notes.mkv"
    text.write_text("shopping list: eggs, milk\n" * 50)
    audio = write_audio_only(tmp / "song.mp4")
    return {
        "zero-byte": (zero, "empty"),
        "random bytes": (noise, "not a media file"),
        "text renamed .mkv": (text, "not a media file"),
        "audio only": (audio, "no video stream"),
    }


@pytest.mark.parametrize("case", ["zero-byte", "random bytes", "text renamed .mkv", "audio only"])
def test_bad_inputs_raise_video_open_error_with_reason(tmp_path: Path, case: str) -> None:
    path, reason = _bad_inputs(tmp_path)[case]
    with pytest.raises(VideoOpenError, match=reason) as caught:
        probe(path)
    assert path.name in str(caught.value)
    with pytest.raises(VideoOpenError):
        next(iter_frames(path, 1.0, 64))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_truncated_file_yields_what_it_can_or_raises_media_error(tmp_path: Path, suffix: str) -> None:
    whole = write_video(tmp_path / f"whole{suffix}", [Scene(moving_square(GREY, RED), 4.0)])
    cut = tmp_path / f"cut{suffix}"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    try:
        times = [f.time for f in iter_frames(cut, 0.5, 64)]
    except MediaError:
        assert suffix == ".mp4"  # mp4 keeps its index at the end: half a file has none
        return
    # mkv streams from the front: the first half of the pictures must come out.
    assert times and times[0] == pytest.approx(0.0) and 0.5 <= times[-1] < 4.0


def test_damaged_middle_is_skipped_and_later_frames_still_come(tmp_path: Path) -> None:
    path = write_video(tmp_path / "damaged.mkv", [Scene(moving_square(GREY, RED), 6.0)])
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 300] = np.random.default_rng(2).integers(0, 256, 300, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    times = [f.time for f in iter_frames(path, 0.5, 64)]
    assert times[-1] > 5.0
    assert all(b > a for a, b in zip(times, times[1:], strict=False))


def test_webm_vp9_and_mkv_containers(tmp_path: Path) -> None:
    if "libvpx-vp9" not in av.codecs_available:
        pytest.skip("PyAV built without libvpx-vp9")
    webm = write_video(tmp_path / "clip.webm", [Scene(solid(GREEN), 1.0)], codec="libvpx-vp9")
    mkv = write_video(tmp_path / "clip.mkv", [Scene(solid(BLUE), 1.0)])
    for path, codec, colour in ((webm, "vp9", GREEN), (mkv, "h264", BLUE)):
        info = probe(path)
        assert info.codec == codec
        assert info.duration == pytest.approx(1.0, abs=0.15)
        frames = list(iter_frames(path, 0.25, 64, info))
        assert len(frames) == 4
        assert np.abs(frames[-1].image.astype(int) - colour).mean() < 12


def test_variable_frame_rate_times_are_the_real_ones(tmp_path: Path) -> None:
    stamps = [0.0, 0.1, 0.2, 0.3, 1.4, 1.45, 1.5, 1.55, 3.0, 3.3, 3.6, 3.9]
    path = write_video(tmp_path / "vfr.mp4", [Scene(solid(RED), 4.0)], frame_times=stamps)
    info = probe(path)
    assert info.duration == pytest.approx(3.9, abs=0.35)
    times = [f.time for f in iter_frames(path, 0.5, 64, info)]
    # One frame per 0.5 s where frames exist; every time is a real presentation time.
    assert times == pytest.approx([0.0, 1.4, 3.0, 3.6])


def test_frames_are_spaced_by_interval_small_and_monotonic(tmp_path: Path) -> None:
    path = write_video(tmp_path / "walk.mp4", [Scene(moving_square(GREY, RED), 10.0)], fps=25)
    frames = list(iter_frames(path, 0.5, 64))
    times = [f.time for f in frames]
    assert len(frames) == 20
    assert times[0] == pytest.approx(0.0)
    assert np.diff(times) == pytest.approx(np.full(19, 0.5), abs=0.05)
    for frame in frames:
        assert frame.image.dtype == np.uint8
        assert frame.image.shape == (38, 64, 3)  # 160x96 scaled to a longest side of 64


@pytest.mark.parametrize("strategy", ["sequential", "seek", "auto"])
def test_sparse_sampling_of_a_long_video_gives_the_right_pictures(tmp_path: Path, strategy: str) -> None:
    # 60 s, a different grey level every 5 s, keyframe every second (as cameras do).
    scenes = [Scene(solid((20 * k, 20 * k, 20 * k)), 5.0) for k in range(12)]
    path = write_video(tmp_path / "long.mp4", scenes, fps=10, size=(96, 64))
    frames = list(iter_frames(path, 5.0, 32, strategy=strategy))
    assert [round(f.time, 1) for f in frames] == [5.0 * k for k in range(12)]
    for k, frame in enumerate(frames):
        assert abs(float(frame.image.mean()) - 20 * k) < 6, f"wrong picture at {frame.time} s"


def test_keyframes_strategy_only_returns_keyframes(tmp_path: Path) -> None:
    path = write_video(tmp_path / "keys.mp4", [Scene(moving_square(GREY, RED), 6.0)], fps=10)
    times = [f.time for f in iter_frames(path, 0.5, 32, strategy="keyframes")]
    assert times == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])  # videogen puts one each second


def test_odd_path_names(tmp_path: Path) -> None:
    source = write_video(tmp_path / "plain.mp4", [Scene(solid(RED), 1.0)])
    odd = os.path.join(os.fsencode(tmp_path), b"holiday clip\nwith \xff byte.mp4")
    shutil.copy(source, odd)
    info = probe(odd)
    assert info.duration == pytest.approx(1.0, abs=0.15)
    assert len(list(iter_frames(odd, 0.5, 32, info))) == 2
