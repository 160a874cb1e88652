"""Open a video, read its metadata and sample small upright RGB frames from it (PyAV).

``probe`` reads what a video is (duration, frame rate, display size, rotation, codec, its tags)
and proves that its first frame decodes. ``iter_frames`` samples frames about ``interval``
seconds apart, scaled down while converting so a long 4K file never costs a full-size RGB frame.

Only indexing code imports this module, so ``av`` is imported at the top.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Literal, cast

import av
import av.error
import numpy as np
from av.sidedata.sidedata import SideDataContainer
from av.sidedata.sidedata import Type as SideDataType

from vidsearch.errors import DecodeError, VideoOpenError
from vidsearch.media.metadata import container_tags
from vidsearch.media.scan import readable_size
from vidsearch.types import Frame, VideoInfo

# Consecutive packets that may fail to decode before we give up on the file (isolated bad packets
# in camera footage are common and harmless; a long run of them means the file is broken).
DECODE_FAILURE_BUDGET = 25

# Sampling strategies: "sequential" decodes every frame and converts only the kept ones; "seek"
# jumps to the keyframe before each sample when the gap to it is longer than a keyframe interval;
# "keyframes" decodes keyframes only (skip_frame NONKEY), so samples fall on keyframes and are
# spaced max(interval, keyframe interval) apart. "auto" is "seek": it only seeks where that skips
# at least a keyframe interval, so at dense sampling it decodes sequentially at the same speed
# (measured in benchmarks/decode_speed.py: 720p h264, 2 s keyframe interval, interval 5 s,
# seek is 2.7x faster than decoding every frame; at 0.5 s both run at 0.9x).
Strategy = Literal["auto", "sequential", "seek", "keyframes"]

# What decoding one video may hold in memory. Frames are scaled down inside the colour conversion,
# but the decoder itself keeps full-size pictures (a few references, one per frame thread) and no
# common codec can decode at a smaller size: a 16000x16000 H.264 picture is 384 MB. So pictures
# above MAX_PIXELS are refused (8192x8192 holds 8K and 360-degree footage), and big pictures get
# fewer frame threads so that the threads' pictures stay within DECODE_MEMORY.
MAX_PIXELS = 8192 * 8192
DECODE_MEMORY = 512 << 20


def open_video(path: str) -> av.container.InputContainer:
    """Open ``path`` for reading, turning PyAV/FFmpeg failures into a short ``VideoOpenError``.

    Only a regular file that opens within a few seconds is handed to FFmpeg (``scan.readable_size``).
    """
    try:
        size = readable_size(path)
    except OSError as e:
        raise VideoOpenError(f"cannot read {path!r}: {e.strerror or e}") from e
    if size == 0:
        raise VideoOpenError(f"{path!r} is empty (0 bytes)")
    try:
        return av.open(path, metadata_errors="replace")
    except av.error.InvalidDataError as e:
        raise VideoOpenError(f"{path!r} is not a media file or its header is corrupt") from e
    except av.error.FFmpegError as e:
        raise VideoOpenError(f"cannot open {path!r}: {e.strerror or e}") from e
    except (OSError, UnicodeError) as e:
        raise VideoOpenError(f"cannot open {path!r}: {e}") from e


def video_stream(container: av.container.InputContainer, path: str) -> av.video.stream.VideoStream:
    """The container's main video stream (cover art is not one), set up to decode within the memory
    cap (``MAX_PIXELS``, ``DECODE_MEMORY``); VideoOpenError when there is none or its pictures are
    larger than the cap."""
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds: list[str] = sorted({s.type for s in container.streams}) or ["no streams"]
        raise VideoOpenError(f"{path!r} has no video stream (it holds: {', '.join(kinds)})")
    stream = streams[0]
    ctx = stream.codec_context
    if ctx is not None:
        pixels = (ctx.width or 0) * (ctx.height or 0)
        if pixels > MAX_PIXELS:
            raise VideoOpenError(
                f"{path!r} has {ctx.width}x{ctx.height} pictures ({pixels / 1e6:.1f} megapixels); vidsearch "
                f"reads pictures of up to {MAX_PIXELS / 1e6:.1f} megapixels"
            )
        # the decoder refuses bigger pictures too, should the stream's header have understated them
        ctx.options = {**ctx.options, "max_pixels": str(MAX_PIXELS)}
        # frame threads each hold a picture: fewer of them for big pictures, within DECODE_MEMORY
        per_picture = max(1, pixels) * 3  # up to 3 bytes a pixel (10-bit 4:2:0)
        ctx.thread_count = max(1, min(os.cpu_count() or 1, DECODE_MEMORY // per_picture))
    return stream


def _normalise_rotation(degrees: float) -> int:
    """Round to the nearest quarter turn in 0, 90, 180, 270."""
    return int(round(degrees / 90.0)) % 4 * 90


def _rotation_from_tag(stream: av.video.stream.VideoStream) -> int | None:
    tag = stream.metadata.get("rotate")
    if tag is None:
        return None
    try:
        return _normalise_rotation(float(tag))
    except ValueError:
        return None


def _frame_rotation(frame: av.VideoFrame) -> int | None:
    """Clockwise display rotation from the frame's display matrix, or None without one.

    FFmpeg gives the matrix angle counterclockwise; the ``rotate`` tag and ``VideoInfo.rotation``
    count clockwise (a portrait phone clip says 90), hence the minus.
    """
    try:
        # PyAV's stub types ``side_data`` as a dict of motion vectors; at run time it is this container.
        side_data = cast(SideDataContainer, frame.side_data)
        if not any(sd.type == SideDataType.DISPLAYMATRIX for sd in side_data):
            return None
        return _normalise_rotation(-frame.rotation)
    except (AttributeError, TypeError, ValueError):
        return None


def _decode_first_frame(container: av.container.InputContainer, stream, path: str) -> av.VideoFrame:
    """The first picture of ``stream``; VideoOpenError when none decodes."""
    failures = 0
    last_error: Exception | None = None
    try:
        for packet in container.demux(stream):
            try:
                frames = stream.decode(packet)
            except av.error.FFmpegError as e:
                failures += 1
                last_error = e
                if failures > DECODE_FAILURE_BUDGET:
                    break
                continue
            if frames:
                return frames[0]
    except av.error.FFmpegError as e:  # demuxing itself failed (truncated or corrupt data)
        last_error = e
    reason = f": {last_error}" if last_error else ""
    raise VideoOpenError(f"no frame of {path!r} could be decoded{reason}")


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read what ``path`` is without decoding more than its first frame.

    Returns a ``VideoInfo`` (display size after rotation, rotation clockwise in 0/90/180/270, the
    container's and streams' tags for ``vidsearch.media.metadata``). Raises ``VideoOpenError`` with a
    short reason when the file is empty, not a media file, has no video stream or cannot decode.
    """
    path = os.fsdecode(path)
    with open_video(path) as container:
        stream = video_stream(container, path)
        ctx = stream.codec_context
        codec = ctx.name if ctx is not None else (stream.codec.name if stream.codec else "unknown")
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        duration = _declared_duration(container, stream)
        width, height = ctx.width, ctx.height
        first = _decode_first_frame(container, stream, path)
        width, height = width or first.width, height or first.height
        rotation = _frame_rotation(first)
        if rotation is None:
            rotation = _rotation_from_tag(stream) or 0
        if duration <= 0:
            duration = _last_packet_time(container, stream)
        tags = container_tags(container)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(
        path=path,
        duration=duration,
        fps=fps,
        width=width,
        height=height,
        rotation=rotation,
        codec=codec,
        tags=tags,
    )


def _declared_duration(container, stream) -> float:
    """Duration in seconds from the stream, else the container; 0.0 when neither says."""
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return 0.0


def _last_packet_time(container, stream) -> float:
    """Duration from the last packet's end time (demuxes the file: no decoding)."""
    container.seek(0, stream=stream)
    tb = stream.time_base or 0
    start = stream.start_time or 0
    end = 0.0
    try:
        for packet in container.demux(stream):
            stamp = packet.pts if packet.pts is not None else packet.dts
            if stamp is not None and tb:
                end = max(end, float((stamp - start + (packet.duration or 0)) * tb))
    except av.error.FFmpegError:
        pass  # truncated: what was readable gives the duration
    return end


def _target_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """Stored (width, height) scaled so the longest side is at most ``max_side``, aspect kept."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


class _Clock:
    """Presentation times in seconds from the stream start, never going backwards.

    Uses pts, else dts, else the previous time plus one frame; frames without any time get the
    frame duration added to the last one so the sequence stays monotonic.
    """

    def __init__(self, stream, fps: float) -> None:
        self.time_base = stream.time_base
        self.start = stream.start_time
        self.step = 1.0 / fps if fps > 0 else 1.0 / 30
        self.last: float | None = None

    def __call__(self, frame: av.VideoFrame) -> float:
        stamp = frame.pts if frame.pts is not None else frame.dts
        tb = frame.time_base or self.time_base
        if stamp is not None and tb:
            if self.start is None:
                self.start = stamp  # stream start unknown: the first frame is t=0
            t = float((stamp - self.start) * tb)
        else:
            t = (self.last + self.step) if self.last is not None else 0.0
        t = max(t, 0.0)
        if self.last is not None and t < self.last:
            t = self.last
        self.last = t
        return t


def iter_frames(
    path: str | os.PathLike,
    interval: float,
    max_side: int,
    info: VideoInfo | None = None,
    *,
    strategy: Strategy = "auto",
) -> Iterator[Frame]:
    """Yield upright RGB frames about ``interval`` seconds apart, starting near t=0.

    Each ``Frame.time`` is the presentation time in seconds from the stream start (monotonic);
    ``Frame.image`` is HxWx3 uint8 with its longest side at most ``max_side``. Only the kept
    frames are converted, already scaled. ``strategy`` "auto" seeks to the keyframe before a
    sample when the sample is more than a keyframe interval ahead, and decodes on otherwise.

    Raises ``VideoOpenError`` when the file cannot be opened and ``DecodeError`` when more than
    ``DECODE_FAILURE_BUDGET`` packets in a row fail or no frame at all decodes. A truncated file
    yields the frames before the damage and stops.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    if max_side < 1:
        raise ValueError("max_side must be at least 1")
    path = os.fsdecode(path)
    if info is None:
        info = probe(path)
    if strategy not in ("auto", "sequential", "seek", "keyframes"):
        raise ValueError(f"unknown strategy {strategy!r}")
    use_seek = strategy in ("auto", "seek")
    with open_video(path) as container:
        stream = video_stream(container, path)
        stream.thread_type = "AUTO"
        if strategy == "keyframes":
            stream.codec_context.skip_frame = "NONKEY"
        yield from _sample(container, stream, info, interval, max_side, use_seek, path)


def frames_in_spans(
    path: str | os.PathLike,
    spans: Sequence[tuple[float, float]],
    interval: float,
    max_side: int,
    info: VideoInfo | None = None,
) -> list[list[Frame]]:
    """The frames sampled every ``interval`` seconds that fall inside each ``(start, end)`` span of
    one video (start inclusive, end exclusive), one list per span in the order given.

    Decoding stops after the last span's end. Raises as ``iter_frames`` does.
    """
    found: list[list[Frame]] = [[] for _ in spans]
    if not spans:
        return found
    last_end = max(end for _, end in spans)
    for frame in iter_frames(path, interval, max_side, info):
        if frame.time >= last_end:
            break
        for i, (start, end) in enumerate(spans):
            if start - 1e-6 <= frame.time < end:
                found[i].append(frame)
    return found


def _sample(
    container, stream, info: VideoInfo, interval: float, max_side: int, use_seek: bool, path: str
) -> Iterator[Frame]:
    clock = _Clock(stream, info.fps)
    rotation = info.rotation
    tb = stream.time_base
    # A quarter frame of slack so a frame at 4.999 s counts for the 5 s sample; capped so samples of a
    # variable-rate video (whose average fps can be low) stay about ``interval`` apart.
    slack = min(0.25 / info.fps if info.fps > 0 else 0.01, 0.1 * interval)
    target = 0.0  # time of the next sample we want (minus ``slack``)
    size: tuple[int, int] | None = None
    yielded = 0
    failures = 0
    last_error: Exception | None = None
    last_key: float | None = None
    gop = 0.0  # longest keyframe interval seen so far (seconds)
    can_seek = use_seek and tb is not None
    seeked_from: float | None = None  # set just after a seek, to check it moved us forward

    def convert(frame: av.VideoFrame) -> np.ndarray:
        nonlocal size
        if size is None:
            size = _target_size(frame.width, frame.height, max_side)
        # Scale inside the colour conversion: a full-size RGB frame is never made.
        image: np.ndarray = frame.to_ndarray(
            width=size[0], height=size[1], format="rgb24", interpolation="AREA"
        )
        if rotation:
            # rotation is clockwise; np.rot90 turns counterclockwise for positive k.
            image = np.ascontiguousarray(np.rot90(image, k=-(rotation // 90)))
        return image

    while True:
        seek_to: float | None = None
        try:
            for packet in container.demux(stream):
                try:
                    decoded = stream.decode(packet)
                except av.error.FFmpegError as e:
                    failures += 1
                    last_error = e
                    if failures > DECODE_FAILURE_BUDGET:
                        raise DecodeError(
                            f"{path!r}: {failures} packets in a row failed to decode (last: {e})"
                        ) from e
                    continue  # an isolated bad packet: skip it
                failures = 0
                for frame in decoded:
                    if frame.pts is None:
                        can_seek = False  # without timestamps a seek cannot be placed
                    t = clock(frame)
                    if seeked_from is not None:
                        if t <= seeked_from:
                            can_seek = False  # the seek went backwards: finish sequentially
                        seeked_from = None
                    if frame.key_frame:
                        if last_key is not None and t > last_key:
                            gop = max(gop, t - last_key)
                        last_key = t
                    if t + slack < target:
                        continue
                    yield Frame(time=t, image=convert(frame))
                    yielded += 1
                    # The next sample is the first frame about ``interval`` after this one, so
                    # after a gap in a variable-rate video samples do not bunch up.
                    target = t + interval
                # Seek only when the next sample lies more than a keyframe interval ahead: then the
                # keyframe before it is beyond the one we would otherwise decode from.
                if (
                    can_seek
                    and gop > 0
                    and clock.last is not None
                    and target - clock.last > gop + slack
                    and (info.duration <= 0 or target < info.duration)
                ):
                    seek_to = target
                    break
        except av.error.FFmpegError as e:
            # Demuxing failed: a truncated or damaged file. Keep what we got.
            last_error = e
        if seek_to is None:
            break
        seeked_from = clock.last
        container.seek((stream.start_time or 0) + math.floor(seek_to / tb), stream=stream, backward=True)
        stream.codec_context.flush_buffers()
        clock.last = None  # times after the seek start afresh; ``target`` keeps yields monotonic
        last_key = None  # the gap across a seek is no keyframe interval
    if yielded == 0:
        reason = f" (last error: {last_error})" if last_error else ""
        raise DecodeError(f"no frame of {path!r} could be decoded{reason}")
