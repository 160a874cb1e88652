"""What a video file says about itself: recording time and where it came from, position, camera.

The videos are written here with PyAV carrying the tags phones and cameras write (QuickTime keys,
Android's location atom, Matroska tags), or none at all, under phone-style file names.
"""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from videogen import Scene, solid, write_video

from vidsearch.errors import VideoOpenError
from vidsearch.media import metadata as md
from vidsearch.media.metadata import metadata_from_tags, parse_iso6709, parse_timestamp, read_metadata

LISBON = "+38.7223-009.1393+012.000/"
APPLE_TAGS = {
    "com.apple.quicktime.creationdate": "2023-07-04T12:34:56+0100",
    "com.apple.quicktime.location.ISO6709": LISBON,
    "com.apple.quicktime.make": "Apple",
    "com.apple.quicktime.model": "iPhone 13",
    "creation_time": "2023-07-04T11:34:56.000000Z",
}
KEEP_TAGS = {"movflags": "use_metadata_tags"}  # the mov muxer writes every key only when asked


def _video(path: Path, tags: dict[str, str] | None = None, options: dict[str, str] | None = None, **kw) -> Path:
    return write_video(path, [Scene(solid((40, 90, 160)), 1.0)], metadata=tags, options=options, **kw)


def _utc(*args: int) -> float:
    return datetime(*args, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch):
    """Run with this machine's zone set to New York (UTC-4 in July), so local and UTC differ."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


# ---- whole files -------------------------------------------------------------------------------------
def test_iphone_clip_gives_its_local_time_offset_position_and_camera(tmp_path: Path) -> None:
    meta = read_metadata(_video(tmp_path / "IMG_0042.MOV", APPLE_TAGS, KEEP_TAGS))
    assert meta.recorded == _utc(2023, 7, 4, 11, 34, 56)
    assert meta.recorded_source == md.FROM_QUICKTIME
    assert meta.tz_offset == 60
    assert meta.local_time is not None and meta.local_time.isoformat() == "2023-07-04T12:34:56+01:00"
    assert (meta.lat, meta.lon, meta.altitude) == (38.7223, -9.1393, 12.0)
    assert meta.camera == "Apple iPhone 13"
    assert (meta.width, meta.height, meta.fps) == (160, 96, 10.0)
    assert meta.duration == pytest.approx(1.0, abs=0.15)


def test_android_clip_position_from_the_location_atom_and_camera_from_android_keys(tmp_path: Path) -> None:
    # Without use_metadata_tags the mp4 muxer writes only standard atoms: "location" is the ©xyz atom
    # Android cameras write, so this file is what a phone without extra keys produces.
    plain = read_metadata(
        _video(tmp_path / "VID_20230704_123456.mp4", {"location": LISBON, "creation_time": "2023-07-04T11:34:56Z"})
    )
    assert (plain.lat, plain.lon) == (38.7223, -9.1393)
    assert plain.recorded == _utc(2023, 7, 4, 11, 34, 56)
    assert plain.recorded_source == md.FROM_CONTAINER  # the tag wins over the name
    assert plain.tz_offset is None and plain.camera is None
    tagged = read_metadata(
        _video(
            tmp_path / "b.mp4",
            {"com.android.manufacturer": "Google", "com.android.model": "Pixel 7", "location-eng": LISBON},
            KEEP_TAGS,
        )
    )
    assert tagged.camera == "Google Pixel 7"
    assert tagged.has_position


def test_samsung_offset_tag_gives_the_local_time(tmp_path: Path) -> None:
    tags = {"creation_time": "2023-07-04T11:34:56Z", "com.samsung.android.utc_offset": "+0200"}
    meta = read_metadata(_video(tmp_path / "20230704_133456.mp4", tags, KEEP_TAGS))
    assert meta.recorded == _utc(2023, 7, 4, 11, 34, 56)
    assert meta.tz_offset == 120
    assert meta.local_time is not None and meta.local_time.hour == 13


def test_matroska_date_recorded(tmp_path: Path) -> None:
    tags = {"DATE_RECORDED": "2021-05-06T07:08:09+02:00", "creation_time": "2024-01-01T00:00:00Z"}
    meta = read_metadata(_video(tmp_path / "holiday.mkv", tags))
    assert meta.recorded_source == md.FROM_MATROSKA
    assert meta.recorded == _utc(2021, 5, 6, 5, 8, 9)


def test_gopro_creation_time_is_the_cameras_local_clock(tmp_path: Path, new_york: None) -> None:
    # GoPro cameras have no time zone: they write their clock's reading where UTC belongs
    meta = read_metadata(_video(tmp_path / "GX010123.MP4", {"creation_time": "2023-07-04T12:00:00Z"}))
    assert meta.camera_make == "GoPro"
    assert meta.recorded_source == md.FROM_CAMERA_CLOCK
    assert meta.recorded == _utc(2023, 7, 4, 16, 0, 0)  # noon in New York
    assert meta.local_time is not None and meta.local_time.hour == 12


@pytest.mark.parametrize(
    ("name", "utc", "source"),
    [
        ("VID_20230704_123456.mp4", (2023, 7, 4, 16, 34, 56), md.FROM_FILE_NAME),  # local (New York)
        ("PXL_20230704_123456789.mp4", (2023, 7, 4, 12, 34, 56), md.FROM_FILE_NAME),  # Pixel names are UTC
        ("VID-20230704-WA0001.mp4", (2023, 7, 4, 16, 0, 0), md.FROM_FILE_NAME_DAY),  # WhatsApp: noon local
        ("20230704_123456.mp4", (2023, 7, 4, 16, 34, 56), md.FROM_FILE_NAME),
        ("DJI_20230704123456_0001_D.MP4", (2023, 7, 4, 16, 34, 56), md.FROM_FILE_NAME),
        ("signal-2023-07-04-12-34-56-789.mp4", (2023, 7, 4, 16, 34, 56), md.FROM_FILE_NAME),
        ("Screen Recording 2023-07-04 at 12.34.56.mov", (2023, 7, 4, 16, 34, 56), md.FROM_FILE_NAME),
    ],
)
def test_phone_style_names_without_tags(tmp_path: Path, new_york: None, name: str, utc: tuple, source: str) -> None:
    meta = read_metadata(_video(tmp_path / name))
    assert meta.recorded == _utc(*utc)
    assert meta.recorded_source == source


def test_no_tags_and_a_plain_name_fall_back_to_the_modification_time(tmp_path: Path) -> None:
    path = _video(tmp_path / "beach.mp4")
    stamp = _utc(2019, 8, 1, 10, 0, 0)
    os.utime(path, (stamp, stamp))
    meta = read_metadata(path)
    assert (meta.recorded, meta.recorded_source) == (stamp, md.FROM_MTIME)
    assert not meta.has_position and meta.camera is None
    assert md.describe_source(meta.recorded_source) == "the file's modification time"


def test_size_and_rate_come_from_probe_when_given(tmp_path: Path) -> None:
    from vidsearch.media import decode

    path = _video(tmp_path / "turned.mp4", rotation=90)
    info = decode.probe(path)
    meta = read_metadata(path, info)
    assert (meta.width, meta.height) == (96, 160)  # upright, as probe reports it
    assert meta.duration == info.duration


def test_a_file_that_is_not_a_video_is_a_video_open_error(tmp_path: Path) -> None:
    bad = tmp_path / "VID_20230704_123456.mp4"
    bad.write_bytes(b"not a video at all" * 10)
    with pytest.raises(VideoOpenError, match="VID_20230704_123456"):
        read_metadata(bad)
    with pytest.raises(VideoOpenError, match="cannot read"):
        read_metadata(tmp_path / "missing.mp4")


# ---- tags in hand ------------------------------------------------------------------------------------
NOW = _utc(2025, 3, 10, 12, 0, 0)


@pytest.mark.parametrize(
    "tags",
    [
        {"creation_time": "1970-01-01T00:00:00Z"},  # a clock never set (Unix epoch)
        {"creation_time": "1904-01-01T00:00:00Z"},  # QuickTime's epoch
        {"creation_time": "2031-01-01T00:00:00Z"},  # a clock set in the future
        {"creation_time": "not a date"},
        {"com.apple.quicktime.creationdate": "2023-02-30T10:00:00+0100"},  # no such day
    ],
)
def test_unbelievable_times_fall_through_to_the_file_name(tags: dict[str, str]) -> None:
    meta = metadata_from_tags("/videos/PXL_20220101_101010000.mp4", tags, mtime=NOW - 3600, now=NOW)
    assert meta.recorded_source == md.FROM_FILE_NAME
    assert meta.recorded == _utc(2022, 1, 1, 10, 10, 10)


def test_tag_keys_are_matched_whatever_their_case_and_stream_tags_fill_gaps() -> None:
    meta = metadata_from_tags(
        "/v/clip.mkv", {"Date_Recorded": "2020-02-02 20:20:20Z", "MAKE": "Sony", "model": "ILCE-7M3"}, now=NOW
    )
    assert meta.recorded_source == md.FROM_MATROSKA and meta.recorded == _utc(2020, 2, 2, 20, 20, 20)
    assert meta.camera == "Sony ILCE-7M3"


def test_camera_names_are_not_doubled() -> None:
    assert md.camera_name("samsung", "Samsung SM-G991B") == "Samsung SM-G991B"
    assert md.camera_name("Apple", "iPhone 13") == "Apple iPhone 13"
    assert md.camera_name(None, None) is None
    assert md.camera_name("GoPro", None) == "GoPro"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+38.7223-009.1393+012.000/", (38.7223, -9.1393, 12.0)),
        ("+38.7223-009.1393/", (38.7223, -9.1393, None)),
        ("-33.8568+151.2153/", (-33.8568, 151.2153, None)),
        ("+3843.34-00908.35/", (38 + 43.34 / 60, -(9 + 8.35 / 60), None)),  # degrees and minutes
        ("+384320-0090830/", (38 + 43 / 60 + 20 / 3600, -(9 + 8 / 60 + 30 / 3600), None)),  # and seconds
        ("+38.7223-009.1393+012.000CRSWGS_84/", (38.7223, -9.1393, 12.0)),
        ("+00.0000+000.0000/", None),  # no fix
        ("+91.0000+000.0000/", None),
        ("Lisbon", None),
        ("", None),
    ],
)
def test_iso6709_positions(text: str, expected: tuple | None) -> None:
    got = parse_iso6709(text)
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert got[0] == pytest.approx(expected[0]) and got[1] == pytest.approx(expected[1]) and got[2] == expected[2]


@pytest.mark.parametrize(
    ("text", "iso", "zoned"),
    [
        ("2023-07-04T11:34:56.000000Z", "2023-07-04T11:34:56+00:00", True),
        ("2023-07-04T12:34:56+0100", "2023-07-04T12:34:56+01:00", True),
        ("2023-07-04T12:34:56-05:30", "2023-07-04T12:34:56-05:30", True),
        ("2023-07-04 12:34:56", "2023-07-04T12:34:56", False),
        ("2023:07:04 12:34:56", "2023-07-04T12:34:56", False),
        ("2023-07-04T12:34:56.5", "2023-07-04T12:34:56.500000", False),
        ("2023-07-04", "2023-07-04T00:00:00", False),
    ],
)
def test_timestamps(text: str, iso: str, zoned: bool) -> None:
    got = parse_timestamp(text)
    assert got is not None
    assert got[0].isoformat() == iso and got[1] is zoned


def test_local_seconds_keep_the_wall_clock_where_it_was_filmed() -> None:
    tokyo = metadata_from_tags("/v/a.mov", {"com.apple.quicktime.creationdate": "2022-01-01T00:30:00+0900"}, now=NOW)
    assert tokyo.recorded == _utc(2021, 12, 31, 15, 30, 0)
    # filmed on New Year's Day in Tokyo: its day is January 1 whatever zone reads it
    assert tokyo.local_seconds == _utc(2022, 1, 1, 0, 30, 0)
    assert datetime.fromtimestamp(tokyo.local_seconds, timezone.utc).date().isoformat() == "2022-01-01"
    assert tokyo.local_time is not None and tokyo.local_time.utcoffset() == timedelta(hours=9)
