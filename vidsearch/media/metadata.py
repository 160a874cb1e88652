"""What a video file says about itself: when it was recorded, where, with which camera, and its shape.

``read_metadata(path)`` opens the file once with PyAV (headers only, no decoding) and reads the
container's and streams' tags; ``metadata_from_tags`` does the reading on tags already in hand (so
the indexer can pass what ``decode.probe`` opened, and tests need no file).

When it was recorded, from the first of these that gives a believable time (the source is kept):

1. QuickTime ``com.apple.quicktime.creationdate`` (iPhones; local time with its offset);
2. Matroska ``DATE_RECORDED``;
3. ``creation_time`` (phones write UTC; GoPro cameras write their own clock, which has no zone, so
   for them it is read as local time);
4. a date in the file name (``VID_20230704_123456``, ``PXL_...`` (UTC), ``20230704_123456``,
   ``VID-20230704-WA0001`` (WhatsApp, the day only), ``DJI_20230704123456_...``, ``signal-...``,
   ``Screen Recording 2023-07-04 at 12.34.56``...), read as the camera's local time;
5. the file's modification time.

A time without a zone is local time as this machine's zone counts it, as photo managers do. Clocks
that were never set (1904, 1970) and times far in the future are not believed.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vidsearch.types import VideoInfo

# Where ``recorded`` came from (stored with it; ``describe_source`` words them for people).
FROM_QUICKTIME = "quicktime-creationdate"
FROM_MATROSKA = "matroska-date-recorded"
FROM_CONTAINER = "creation-time"
FROM_CAMERA_CLOCK = "camera-clock"  # creation_time of a camera that writes its own local clock there
FROM_FILE_NAME = "file-name"
FROM_FILE_NAME_DAY = "file-name-day"  # the name holds a day but no time of day
FROM_MTIME = "file-modified"

_SOURCE_WORDS = {
    FROM_QUICKTIME: "the QuickTime creation date",
    FROM_MATROSKA: "the Matroska recording date",
    FROM_CONTAINER: "the container's creation time",
    FROM_CAMERA_CLOCK: "the camera's clock",
    FROM_FILE_NAME: "the file name",
    FROM_FILE_NAME_DAY: "the file name (day only)",
    FROM_MTIME: "the file's modification time",
}

EARLIEST_YEAR = 1971  # before this a clock was never set (QuickTime counts from 1904, Unix from 1970)
FUTURE_SLACK = 2 * 86400.0  # a recording "later than now" by more than this is a wrong clock


@dataclass(frozen=True)
class MediaMetadata:
    """What a file says about itself. Positions are degrees (WGS 84); times are unix seconds (UTC)."""

    path: str
    recorded: float | None  # when recording began; None only when even the file's mtime is unknown
    recorded_source: str  # one of the FROM_* names
    tz_offset: int | None  # the recording's UTC offset in minutes when the file says it; else None
    lat: float | None = None
    lon: float | None = None
    altitude: float | None = None  # metres, when the position has one
    camera_make: str | None = None
    camera_model: str | None = None
    duration: float = 0.0  # seconds
    width: int = 0  # display size when known (after rotation)
    height: int = 0
    fps: float = 0.0

    @property
    def local_time(self) -> datetime | None:
        """When recording began as a wall-clock time where it was filmed (aware): in the file's own
        offset when it has one, else in this machine's zone."""
        if self.recorded is None:
            return None
        if self.tz_offset is not None:
            return datetime.fromtimestamp(self.recorded, timezone(timedelta(minutes=self.tz_offset)))
        return datetime.fromtimestamp(self.recorded).astimezone()

    @property
    def local_seconds(self) -> float | None:
        """The wall-clock time of ``local_time`` counted as if it were UTC: what date filters compare,
        so "July 4" means July 4 where the clip was filmed, whatever zone reads it later."""
        local = self.local_time
        if local is None:
            return None
        return local.replace(tzinfo=timezone.utc).timestamp()

    @property
    def camera(self) -> str | None:
        """Make and model for people: ``"Apple iPhone 13"``, ``"GoPro"``; None when unknown."""
        return camera_name(self.camera_make, self.camera_model)

    @property
    def has_position(self) -> bool:
        return self.lat is not None and self.lon is not None


def describe_source(source: str) -> str:
    """``FROM_*`` name -> words ("the file name")."""
    return _SOURCE_WORDS.get(source, source)


def camera_name(make: str | None, model: str | None) -> str | None:
    """``("Apple", "iPhone 13")`` -> ``"Apple iPhone 13"``; a model that already names its maker
    (``("samsung", "Samsung SM-G991B")``) is not doubled."""
    make, model = (make or "").strip(), (model or "").strip()
    if model and make and model.lower().startswith(make.lower()):
        return model
    return " ".join(p for p in (make, model) if p) or None


# ---- times -------------------------------------------------------------------------------------------
_STAMP = re.compile(
    r"^(?P<y>\d{4})[-:](?P<mo>\d{2})[-:](?P<d>\d{2})"
    r"(?:[T ]+(?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?)?"
    r"\s*(?P<zone>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$",
    re.IGNORECASE,
)


def parse_timestamp(text: str | None) -> tuple[datetime, bool] | None:
    """A date-time tag -> (datetime, whether it carried its zone); None when it is not one.

    Understands ISO 8601 and the forms tags use: ``2023-07-04T11:34:56.000000Z``,
    ``2023-07-04T12:34:56+0100``, ``2023-07-04 12:34:56``, ``2023:07:04 12:34:56`` (EXIF) and a bare
    day. A datetime without a zone is returned naive.
    """
    if not text:
        return None
    m = _STAMP.match(text.strip())
    if not m:
        return None
    try:
        frac = m["frac"] or "0"
        moment = datetime(
            int(m["y"]), int(m["mo"]), int(m["d"]),
            int(m["h"] or 0), int(m["mi"] or 0), int(m["s"] or 0), int(frac[:6].ljust(6, "0")),
        )  # fmt: skip
    except ValueError:
        return None
    zone = (m["zone"] or "").upper()
    if not zone:
        return moment, False
    if zone in ("Z", "UTC", "GMT"):
        return moment.replace(tzinfo=timezone.utc), True
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + (int(digits[2:4]) if len(digits) >= 4 else 0)
    if minutes > 14 * 60:
        return None
    return moment.replace(tzinfo=timezone(timedelta(minutes=sign * minutes))), True


def _believable(seconds: float, now: float) -> bool:
    return seconds >= datetime(EARLIEST_YEAR, 1, 1, tzinfo=timezone.utc).timestamp() and seconds <= now + FUTURE_SLACK


def _local_instant(naive: datetime) -> float:
    """Unix seconds of a wall-clock time in this machine's zone."""
    return naive.astimezone().timestamp()


def _offset_minutes(moment: datetime) -> int | None:
    delta = moment.utcoffset()
    return None if delta is None else int(delta.total_seconds() // 60)


# ---- file names --------------------------------------------------------------------------------------
_D8 = r"(?P<y>(?:19|20)\d\d)(?P<mo>[01]\d)(?P<d>[0-3]\d)"
_T6 = r"(?P<h>[0-2]\d)(?P<mi>[0-5]\d)(?P<s>[0-5]\d)"
_DASHED = r"(?P<y>(?:19|20)\d\d)-(?P<mo>[01]\d)-(?P<d>[0-3]\d)"
_SEP_T = r"(?P<h>[0-2]\d)[-.:_](?P<mi>[0-5]\d)[-.:_](?P<s>[0-5]\d)"
# (pattern, time zone of the stamp: "local" or "utc", whether it holds a time of day); first match wins
_NAME_PATTERNS: list[tuple[re.Pattern[str], str, bool]] = [
    # Google Pixel names its files in UTC
    (re.compile(rf"^PXL_{_D8}_{_T6}", re.I), "utc", True),
    # WhatsApp: VID-20230704-WA0001 (the day it was sent or saved)
    (re.compile(rf"^(?:VID|IMG)-{_D8}-WA\d+", re.I), "local", False),
    # Android cameras, Huawei, Xiaomi, OnePlus, Samsung screen recorder, Insta360: VID_20230704_123456
    (
        re.compile(rf"^(?:VID|IMG|MVIMG|MOV|VIDEO|video|Screen_Recording|Screenrecorder|LV)[_-]?{_D8}[_-]?{_T6}", re.I),
        "local",
        True,
    ),  # fmt: skip
    # DJI since 2022: DJI_20230704123456_0001_D
    (re.compile(rf"^DJI_{_D8}{_T6}", re.I), "local", True),
    # Signal: signal-2023-07-04-12-34-56-789
    (re.compile(rf"^signal-{_DASHED}-{_SEP_T}", re.I), "local", True),
    # Telegram video_2023-07-04_12-34-56, OBS "2023-07-04 12-34-56", macOS "Screen Recording 2023-07-04 at 12.34.56"
    (re.compile(rf"(?:^|[^0-9]){_DASHED}(?:[ _T]|\s+at\s+){_SEP_T}", re.I), "local", True),
    # Samsung cameras and many others: 20230704_123456
    (re.compile(rf"(?:^|[^0-9]){_D8}[_-]{_T6}(?:[^0-9]|$)"), "local", True),
]


def recorded_from_name(name: str, now: float | None = None) -> tuple[float, str] | None:
    """The recording time a camera wrote into a file name, as (unix seconds, FROM_* source); None when
    the name holds no believable date. Local stamps are read in this machine's zone; a name with a
    day only gives noon of that day (so the day survives any zone)."""
    base = os.path.basename(name)
    now = time.time() if now is None else now
    for pattern, zone, has_time in _NAME_PATTERNS:
        m = pattern.search(base)
        if not m:
            continue
        parts = m.groupdict()
        try:
            moment = datetime(
                int(parts["y"]), int(parts["mo"]), int(parts["d"]),
                int(parts.get("h") or 12), int(parts.get("mi") or 0), int(parts.get("s") or 0),
            )  # fmt: skip
        except ValueError:
            continue
        seconds = moment.replace(tzinfo=timezone.utc).timestamp() if zone == "utc" else _local_instant(moment)
        if _believable(seconds, now):
            return seconds, FROM_FILE_NAME if has_time else FROM_FILE_NAME_DAY
    return None


# ---- positions ---------------------------------------------------------------------------------------
_ISO6709 = re.compile(r"^\s*([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)([+-]\d+(?:\.\d*)?)?\s*(?:CRS[^/]*)?/?\s*$")


def _iso6709_angle(text: str, degree_digits: int) -> float:
    """``+38.7223`` (degrees), ``+3843.34`` (degrees and minutes), ``+384320.4`` (and seconds)."""
    sign = -1.0 if text[0] == "-" else 1.0
    body = text[1:]
    whole, _, frac = body.partition(".")
    value = float(f"{whole}.{frac}" if frac else whole)
    extra = len(whole) - degree_digits
    if extra <= 0:
        return sign * value
    if extra == 2:  # DDMM.mmm
        degrees, minutes = divmod(value, 100)
        return sign * (degrees + minutes / 60)
    if extra == 4:  # DDMMSS.sss
        degrees, rest = divmod(value, 10000)
        minutes, seconds = divmod(rest, 100)
        return sign * (degrees + minutes / 60 + seconds / 3600)
    raise ValueError(f"not an ISO 6709 angle: {text!r}")


def parse_iso6709(text: str | None) -> tuple[float, float, float | None] | None:
    """An ISO 6709 position tag (``+38.7223-009.1393+012.000/``) -> (lat, lon, altitude or None).

    None when the text is not a position, is out of range, or is 0, 0 (what a phone without a fix
    writes).
    """
    if not text:
        return None
    m = _ISO6709.match(text)
    if not m:
        return None
    try:
        lat = _iso6709_angle(m[1], 2)
        lon = _iso6709_angle(m[2], 3)
        alt = float(m[3]) if m[3] else None
    except ValueError:
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0) or (lat == 0.0 and lon == 0.0):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    return lat, lon, alt


# ---- reading -----------------------------------------------------------------------------------------
_LOCATION_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng", "com.android.location")
_MAKE_KEYS = ("com.apple.quicktime.make", "com.android.manufacturer", "make", "manufacturer")
_MODEL_KEYS = ("com.apple.quicktime.model", "com.android.model", "model")
# Samsung phones write their UTC offset beside the UTC creation_time
_OFFSET_KEYS = ("com.samsung.android.utc_offset", "com.android.utc_offset")
_GOPRO_NAME = re.compile(r"^(?:G[HXLS]\d{6}|GOPR\d{4}|GP\d{6})\.", re.I)
_DJI_NAME = re.compile(r"^DJI_", re.I)


def _first(tags: Mapping[str, str], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = tags.get(key)
        if value and value.strip():
            return value.strip()
    return None


def _maker_hint(tags: Mapping[str, str], name: str) -> str | None:
    """The camera maker told by what its files look like when it writes no make tag."""
    handlers = " ".join(tags.get(k, "") for k in ("handler_name", "encoder", "firmware", "compatible_brands"))
    if "gopro" in handlers.lower() or _GOPRO_NAME.match(name):
        return "GoPro"
    if _DJI_NAME.match(name) or handlers.lower().startswith("dji"):
        return "DJI"
    return None


def metadata_from_tags(
    path: str,
    tags: Mapping[str, str],
    *,
    mtime: float | None = None,
    duration: float = 0.0,
    width: int = 0,
    height: int = 0,
    fps: float = 0.0,
    now: float | None = None,
) -> MediaMetadata:
    """Read ``tags`` (container tags, then stream tags for keys the container lacks; any key case) and
    the file name of ``path`` into a ``MediaMetadata``. ``mtime`` (unix seconds) is the last resort
    for the recording time."""
    now = time.time() if now is None else now
    lower: dict[str, str] = {}
    for key, value in tags.items():
        lower.setdefault(key.lower(), str(value))
    name = os.path.basename(path)
    make = _first(lower, _MAKE_KEYS) or _maker_hint(lower, name)
    model = _first(lower, _MODEL_KEYS)

    recorded: float | None = None
    source = FROM_MTIME
    offset: int | None = None

    def take(text: str | None, label: str, *, clock_is_local: bool = False) -> bool:
        nonlocal recorded, source, offset
        parsed = parse_timestamp(text)
        if parsed is None:
            return False
        moment, zoned = parsed
        if clock_is_local:
            moment, zoned = moment.replace(tzinfo=None), False
        elif not zoned and label == FROM_CONTAINER:
            moment, zoned = moment.replace(tzinfo=timezone.utc), True  # the container format says UTC
        seconds = moment.timestamp() if zoned else _local_instant(moment)
        if not _believable(seconds, now):
            return False
        recorded, source = seconds, label
        offset = _offset_minutes(moment) if zoned and label == FROM_QUICKTIME else None
        return True

    gopro = make == "GoPro"
    if not (
        take(lower.get("com.apple.quicktime.creationdate"), FROM_QUICKTIME)
        or take(lower.get("date_recorded"), FROM_MATROSKA)
        or take(lower.get("creation_time"), FROM_CAMERA_CLOCK if gopro else FROM_CONTAINER, clock_is_local=gopro)
    ):
        from_name = recorded_from_name(name, now)
        if from_name is not None:
            recorded, source = from_name
        elif mtime is not None:
            recorded, source = float(mtime), FROM_MTIME
    if source == FROM_CONTAINER:
        samsung = parse_timestamp(f"2000-01-01T00:00:00{_first(lower, _OFFSET_KEYS) or ''}")
        if samsung is not None and samsung[1]:
            offset = _offset_minutes(samsung[0])

    position = None
    for key in _LOCATION_KEYS:
        position = parse_iso6709(lower.get(key))
        if position is not None:
            break
    lat, lon, alt = position if position is not None else (None, None, None)
    return MediaMetadata(
        path=path,
        recorded=recorded,
        recorded_source=source,
        tz_offset=offset,
        lat=lat,
        lon=lon,
        altitude=alt,
        camera_make=make,
        camera_model=model,
        duration=duration,
        width=width,
        height=height,
        fps=fps,
    )


def container_tags(container: Any) -> dict[str, str]:
    """The tags of an open PyAV container: its own, then each stream's for keys it lacks (phones
    write the camera and position on the container, some cameras only on the video stream)."""
    tags: dict[str, str] = dict(container.metadata)
    for stream in container.streams:
        for key, value in stream.metadata.items():
            tags.setdefault(key, value)
    return tags


def read_metadata(path: str | os.PathLike[str], info: VideoInfo | None = None) -> MediaMetadata:
    """Open ``path`` (headers only) and read what it says about itself.

    ``info`` (from ``decode.probe``) supplies duration, display size and frame rate when given;
    otherwise they come from the headers. Raises ``VideoOpenError`` when the file cannot be opened.
    """
    import av
    import av.error

    from vidsearch.errors import VideoOpenError

    path = os.fsdecode(path)
    from vidsearch.media.scan import readable_size

    try:
        mtime: float | None = os.stat(path).st_mtime
        readable_size(path)  # never hand FFmpeg a FIFO or a device
    except OSError as exc:
        raise VideoOpenError(f"cannot read {path!r}: {exc.strerror or exc}") from exc
    try:
        container = av.open(path, metadata_errors="replace")
    except (av.error.FFmpegError, OSError, UnicodeError) as exc:
        raise VideoOpenError(f"cannot open {path!r}: {exc}") from exc
    with container:
        tags = container_tags(container)
        videos = [s for s in container.streams.video]
        if info is not None:
            duration, width, height, fps = info.duration, info.width, info.height, info.fps
        else:
            duration = float(container.duration / av.time_base) if container.duration else 0.0
            width = height = 0
            fps = 0.0
            if videos:
                stream = videos[0]
                ctx = stream.codec_context
                width, height = (ctx.width, ctx.height) if ctx is not None else (0, 0)
                rate = stream.average_rate or stream.guessed_rate
                fps = float(rate) if rate else 0.0
                if stream.duration and stream.time_base and not duration:
                    duration = float(stream.duration * stream.time_base)
                try:
                    if int(round(float(stream.metadata.get("rotate", "0")) / 90)) % 2:
                        width, height = height, width
                except ValueError:
                    pass
    return metadata_from_tags(path, tags, mtime=mtime, duration=duration, width=width, height=height, fps=fps)
