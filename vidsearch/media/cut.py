"""Cutting a found moment out of its video into a new file (``vidsearch clip``).

Without re-encoding (the default) the packets are copied as they are, so the clip starts at the
video's keyframe at or before START (keyframe-accurate: up to one keyframe interval early) and ends
within a frame or two after END; it is fast and loses no quality. ``reencode=True`` decodes and
encodes again (H.264 and AAC) so the clip starts and ends on the exact frames asked for.

PyAV is imported when a cut is made, never when vidsearch is imported.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from vidsearch.errors import MediaError, UsageError


@dataclass(frozen=True)
class Clip:
    """A cut written to ``path``: the span of the source it holds, in seconds. Without re-encoding
    ``start`` is the keyframe at or before the start asked for, so the clip may be longer."""

    path: Path
    start: float
    end: float


def cut(
    path: str | os.PathLike[str],
    start: float,
    end: float,
    out: str | os.PathLike[str],
    reencode: bool = False,
) -> Path:
    """Write the span ``start``..``end`` (seconds) of the video at ``path`` to ``out``; return ``out``.
    See ``cut_clip``."""
    return cut_clip(path, start, end, out, reencode).path


def cut_clip(
    path: str | os.PathLike[str],
    start: float,
    end: float,
    out: str | os.PathLike[str],
    reencode: bool = False,
) -> Clip:
    """Write the span ``start``..``end`` (seconds) of the video at ``path`` to ``out``; return what
    was written (the span may start earlier: see ``Clip``).

    The output container comes from ``out``'s extension (``.mp4``, ``.mkv``, ``.mov``...). Video
    and the first audio track are kept. Raises UsageError for a bad span, a missing file or an
    output that would overwrite the input; VideoOpenError when ``path`` is not a readable video;
    MediaError when the streams cannot be copied into ``out``'s container (``reencode=True`` or
    another extension then works).
    """
    import av
    import av.error

    from vidsearch.media.decode import open_video, video_stream

    src_path, out_path = os.fspath(path), Path(out)
    if start < 0 or end <= start:
        raise UsageError(f"cannot cut {start:g}-{end:g}: the end must come after the start (seconds)")
    if not os.path.exists(src_path):
        raise UsageError(f"no such file: {src_path}")
    if out_path.exists() and os.path.samefile(src_path, out_path):
        raise UsageError(f"{out_path}: refusing to overwrite the video being cut")
    with open_video(src_path) as src:
        video = video_stream(src, src_path)
        duration = float(src.duration / av.time_base) if src.duration else None
        if duration is not None and start >= duration:
            raise UsageError(f"{src_path}: starts at {start:g} s but the video is {duration:.1f} s long")
        audio = src.streams.audio[0] if src.streams.audio else None
        first = start
        try:
            with av.open(str(out_path), "w") as dst:
                if reencode:
                    _reencode(src, video, audio, dst, start, end)
                else:
                    first = _remux(src, video, audio, dst, start, end)
        except av.error.FFmpegError as e:
            out_path.unlink(missing_ok=True)
            how = "" if reencode else " (try --reencode, or an .mkv output)"
            raise MediaError(f"cannot write {out_path}: {e.strerror or e}{how}") from e
        except ValueError as e:  # e.g. PyAV's "no container format for this extension"
            out_path.unlink(missing_ok=True)
            raise UsageError(f"cannot write {out_path}: {e}") from e
    return Clip(out_path, first, end if duration is None else min(end, duration))


def _seek(src: Any, video: Any, start: float) -> None:
    # backward + keyframes only: the demuxer lands on the keyframe at or before START
    src.seek(int(start / video.time_base), stream=video, backward=True, any_frame=False)


def _remux(src: Any, video: Any, audio: Any, dst: Any, start: float, end: float) -> float:
    """Copy packets from the keyframe at or before ``start`` until ``end``, timestamps rebased to 0;
    returns that keyframe's time."""
    streams = [s for s in (video, audio) if s is not None]
    outs = {s.index: dst.add_stream_from_template(s) for s in streams}
    _seek(src, video, start)
    origin: float | None = None  # time of the first kept keyframe: the clip's zero
    for packet in src.demux(streams):
        if packet.dts is None or packet.pts is None:
            continue  # the demuxer's end-of-stream markers
        tb = packet.time_base
        pts, dts = float(packet.pts * tb), float(packet.dts * tb)
        if packet.stream is video:
            if origin is None:
                if not packet.is_keyframe:
                    continue
                origin = pts
            # decode order: every frame shown before END has dts < END, and so has all it refers to
            if dts >= end:
                if audio is None:
                    break
                continue
        else:
            if origin is None or pts < origin or pts >= end:
                continue
        shift = int(round(origin / tb))
        packet.pts -= shift
        packet.dts -= shift
        packet.stream = outs[packet.stream.index]
        dst.mux(packet)
    if origin is None:
        raise UsageError(f"no keyframe found at or after {start:g} s; try --reencode")
    return origin


def _reencode(src: Any, video: Any, audio: Any, dst: Any, start: float, end: float) -> None:
    """Decode from the keyframe before ``start`` and encode the frames in ``start``..``end``."""
    import av

    rate = video.average_rate or video.guessed_rate or Fraction(25)
    vout = dst.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=rate)
    vout.width, vout.height = video.codec_context.width, video.codec_context.height
    vout.pix_fmt = "yuv420p"
    vout.codec_context.time_base = Fraction(1, 1000)  # millisecond stamps keep variable frame rates
    aout = resampler = None
    if audio is not None:
        aout = dst.add_stream("aac", rate=audio.codec_context.sample_rate or 48000)
        resampler = av.AudioResampler(format="fltp", layout=aout.layout, rate=aout.rate, frame_size=1024)
    _seek(src, video, start)
    samples = 0
    streams = [s for s in (video, audio) if s is not None]
    for frame in src.decode(*streams):
        if frame.time is None or frame.time < start - 1e-6 or frame.time >= end - 1e-6:
            past_end = frame.time is not None and frame.time >= end
            if past_end and isinstance(frame, av.VideoFrame) and audio is None:
                break
            continue
        if isinstance(frame, av.VideoFrame):
            picture = frame.reformat(format="yuv420p")
            picture.pts = round((frame.time - start) * 1000)
            picture.time_base = vout.codec_context.time_base
            for packet in vout.encode(picture):
                dst.mux(packet)
        elif aout is not None and resampler is not None:
            frame.pts = None
            for chunk in resampler.resample(frame):
                chunk.pts, samples = samples, samples + chunk.samples
                for packet in aout.encode(chunk):
                    dst.mux(packet)
    for packet in vout.encode():
        packet.stream = vout  # PyAV may hand flushed packets to stream 0's sibling; say which it is
        dst.mux(packet)
    if aout is not None and resampler is not None:
        for chunk in resampler.resample(None):
            chunk.pts = samples
            for packet in aout.encode(chunk):
                dst.mux(packet)
        for packet in aout.encode():
            packet.stream = aout
            dst.mux(packet)
