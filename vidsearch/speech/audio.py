"""Read a video's sound as 16 kHz mono float32 blocks, a bounded amount at a time (PyAV).

``iter_audio`` decodes the chosen audio stream and yields contiguous blocks whose ``start`` is on the
picture's clock (seconds from the video stream's start, like ``Frame.time``), so words line up with
moments even when a container starts its audio later than its video. Gaps in the audio timestamps
are filled with silence, so the sample count keeps time. ``speech_windows`` regroups blocks into
long windows cut at the quietest moment near their end, so a long file is transcribed window by
window in bounded memory without cutting a word in two.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import av
import av.error
import numpy as np

from vidsearch.speech.errors import AudioDecodeError, NoAudioError, SpeechError

SAMPLE_RATE = 16_000  # what Whisper and the voice-activity detector expect

# Consecutive audio packets that may fail before the stream counts as undecodable (an isolated bad
# packet in camera footage is a click; a long run of them is a broken stream).
DECODE_FAILURE_BUDGET = 25

T = TypeVar("T")

# Timestamp jumps shorter than this are jitter, not a gap worth filling with silence.
_GAP_TOLERANCE_S = 0.2


@dataclass(frozen=True)
class AudioTrack:
    """What the chosen audio stream is, read from the container header."""

    index: int
    codec: str
    sample_rate: int
    channels: int
    language: str | None
    duration: float  # seconds; 0.0 when the container does not say


@dataclass(frozen=True, eq=False)
class AudioBlock:
    """Contiguous mono samples at ``SAMPLE_RATE`` starting at ``start`` seconds (video clock)."""

    start: float
    samples: np.ndarray  # float32, 1-D

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / SAMPLE_RATE


def open_media(path: str) -> av.container.InputContainer:
    """Open ``path`` with PyAV; a file that cannot be opened raises ``SpeechError`` with the reason."""
    from vidsearch.errors import MediaError
    from vidsearch.media.scan import readable_size

    try:
        size = readable_size(path)  # never hand FFmpeg a FIFO or a device
    except OSError as e:
        raise SpeechError(path, f"cannot read the file: {e.strerror or e}") from e
    except MediaError as e:
        raise SpeechError(path, str(e)) from e
    if size == 0:
        raise SpeechError(path, "the file is empty")
    try:
        return av.open(path, metadata_errors="replace")
    except av.error.FFmpegError as e:
        raise SpeechError(path, f"not a readable media file ({e.strerror or e})") from e
    except (OSError, UnicodeError) as e:
        raise SpeechError(path, f"cannot open the file: {e}") from e


def _has_decoder(stream: av.stream.Stream) -> bool:
    try:
        return stream.codec_context is not None and stream.codec_context.codec is not None
    except (av.error.FFmpegError, ValueError):
        return False


def choose_audio_stream(container: av.container.InputContainer, path: str) -> av.audio.stream.AudioStream:
    """The stream to listen to: the default-flagged one, else the first; one with a decoder first.

    Raises ``NoAudioError`` without audio streams, ``AudioDecodeError`` when none can be decoded.
    """
    streams = list(container.streams.audio)
    if not streams:
        raise NoAudioError(path, "the file has no audio stream")
    decodable = [s for s in streams if _has_decoder(s)]
    if not decodable:
        codec = streams[0].codec.name if streams[0].codec else "unknown"
        raise AudioDecodeError(path, f"its audio codec ({codec}) cannot be decoded")
    defaults = [s for s in decodable if s.disposition & av.stream.Disposition.default]
    return (defaults or decodable)[0]


def audio_track(path: str | os.PathLike[str]) -> AudioTrack:
    """Describe the audio stream ``iter_audio`` would read, without decoding it."""
    path = os.fsdecode(path)
    with open_media(path) as container:
        stream = choose_audio_stream(container, path)
        return _describe(container, stream)


def _describe(container: av.container.InputContainer, stream: av.audio.stream.AudioStream) -> AudioTrack:
    ctx = stream.codec_context
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    return AudioTrack(
        index=stream.index,
        codec=ctx.name,
        sample_rate=ctx.sample_rate or 0,
        channels=ctx.channels or 0,
        language=stream.metadata.get("language") or None,
        duration=duration,
    )


def clock_origin(container: av.container.InputContainer, fallback: av.stream.Stream) -> float:
    """Seconds on the container's timeline that are t=0 for moments: the video stream's start.

    Frames are timed from the video stream's own start, so every other stream (audio, subtitles)
    is shifted by it; a file without video is timed from ``fallback``'s start.
    """
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    for stream in (*videos[:1], fallback):
        if stream.start_time is not None and stream.time_base:
            return float(stream.start_time * stream.time_base)
    return 0.0


class BudgetedDecoder:
    """Demux and decode one stream, skipping isolated bad packets and giving up on a run of them.

    Iterating yields each packet with what it decoded to (frames or subtitles). More than ``budget``
    packets in a row that fail to decode raise ``give_up(failures, last_error)``; a demuxing failure
    (a truncated or damaged file) ends the iteration quietly, keeping what came before.
    ``last_error`` remembers the last failure for messages.
    """

    def __init__(
        self,
        container: av.container.InputContainer,
        stream: av.audio.stream.AudioStream | av.subtitles.stream.SubtitleStream,
        give_up: Callable[[int, Exception], Exception],
        budget: int = DECODE_FAILURE_BUDGET,
    ) -> None:
        self.container = container
        self.stream = stream
        self.give_up = give_up
        self.budget = budget
        self.last_error: Exception | None = None

    def __iter__(self) -> Iterator[tuple[av.Packet, list[Any]]]:
        failures = 0
        try:
            for packet in self.container.demux(self.stream):
                try:
                    decoded = self.stream.decode(packet)
                except av.error.FFmpegError as e:
                    failures += 1
                    self.last_error = e
                    if failures > self.budget:
                        raise self.give_up(failures, e) from e
                    continue
                failures = 0
                yield packet, decoded
        except av.error.FFmpegError as e:
            self.last_error = e


def iter_audio(path: str | os.PathLike[str], *, block_seconds: float = 30.0) -> Iterator[AudioBlock]:
    """Yield the sound of ``path`` as contiguous 16 kHz mono float32 blocks of about ``block_seconds``.

    The first block starts where the audio starts on the video's clock (later than 0 when the sound
    starts late, earlier when it starts before the picture). A jump in the audio timestamps is filled
    with silence, so every sample stays at its time. Raises ``NoAudioError`` without an audio stream
    and ``AudioDecodeError`` when more than ``DECODE_FAILURE_BUDGET`` packets in a row fail or nothing
    decodes at all. A truncated file yields what came before the damage.
    """
    path = os.fsdecode(path)
    with open_media(path) as container:
        stream = choose_audio_stream(container, path)
        origin = clock_origin(container, stream)
        blocks = _Blocks(max(1, int(block_seconds * SAMPLE_RATE)))
        resampler = _Resampler()
        first: float | None = None  # video-clock time of the first sample
        tick = float(stream.time_base or 0)  # seconds per timestamp unit (as a float: Fractions are slow)
        heard = 0.0  # seconds of sound (and filled gaps) since ``first``

        def give_up(failures: int, error: Exception) -> Exception:
            return AudioDecodeError(path, f"{failures} audio packets in a row failed to decode (last: {error})")

        decoder = BudgetedDecoder(container, stream, give_up)
        for _packet, frames in decoder:
            for frame in frames:
                # a frame without a timestamp follows on from the one before
                when = frame.pts * tick - origin if frame.pts is not None and tick else (first or 0.0) + heard
                if first is None:
                    first = blocks.start = when
                elif when - (first + heard) > _GAP_TOLERANCE_S:
                    gap = when - (first + heard)
                    heard += gap
                    yield from blocks.add(resampler.silence(frame, gap))
                heard += frame.samples / (frame.sample_rate or SAMPLE_RATE)
                yield from blocks.add(resampler.push(frame))
        if first is None:
            reason = f" ({decoder.last_error})" if decoder.last_error else ""
            raise AudioDecodeError(path, f"no audio could be decoded{reason}")
        yield from blocks.add(resampler.finish())
        yield from blocks.finish()


class _Blocks:
    """Cuts a stream of samples into blocks of ``size`` samples on the video clock."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.start = 0.0  # video-clock time of the first pending sample
        self.pending: list[np.ndarray] = []
        self.count = 0

    def add(self, samples: np.ndarray) -> Iterator[AudioBlock]:
        if not len(samples):
            return
        self.pending.append(samples)
        self.count += len(samples)
        while self.count >= self.size:
            joined = np.concatenate(self.pending)
            yield AudioBlock(self.start, joined[: self.size])
            self.start += self.size / SAMPLE_RATE
            rest = joined[self.size :]
            self.pending = [rest] if len(rest) else []
            self.count = len(rest)

    def finish(self) -> Iterator[AudioBlock]:
        if self.count:
            yield AudioBlock(self.start, np.concatenate(self.pending))
            self.pending, self.count = [], 0


class _Resampler:
    """Decoded frames -> 16 kHz mono float32, about a second of input at a time.

    Frames are gathered before resampling because each call into the resampler costs more than the
    conversion itself (measured: 2.7x less CPU for the whole audio path). A change of sample format,
    layout or rate mid-stream starts a new resampler after draining the old one.
    """

    def __init__(self) -> None:
        self.fifo: av.AudioFifo | None = None
        self.resampler: av.AudioResampler | None = None
        self.shape: tuple[str, str, int] | None = None

    def push(self, frame: av.AudioFrame) -> np.ndarray:
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        out = self._restart() if shape != self.shape and self.shape is not None else np.zeros(0, np.float32)
        if self.fifo is None:
            self.fifo = av.AudioFifo()
            self.resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            self.shape = shape
        frame.pts = None  # the resampler must not pad or drop by timestamps: the caller keeps time
        self.fifo.write(frame)
        if self.fifo.samples >= frame.sample_rate:
            out = np.concatenate([out, self._convert(self.fifo.read())])
        return out

    def silence(self, like: av.AudioFrame, seconds: float) -> np.ndarray:
        """``seconds`` of silence, sent through the same resampler so its delay stays the same."""
        samples = round(seconds * like.sample_rate)
        quiet = av.AudioFrame(format=like.format.name, layout=like.layout.name, samples=samples)
        quiet.sample_rate = like.sample_rate
        for plane in quiet.planes:
            plane.update(bytes(plane.buffer_size))
        return self.push(quiet)

    def finish(self) -> np.ndarray:
        return self._restart()

    def _restart(self) -> np.ndarray:
        """Everything still inside (fifo and resampler's delay line); the next frame starts afresh."""
        if self.fifo is None or self.resampler is None:
            return np.zeros(0, np.float32)
        parts = [self._convert(self.fifo.read()) if self.fifo.samples else np.zeros(0, np.float32)]
        parts += [f.to_ndarray().reshape(-1) for f in self.resampler.resample(None)]
        self.fifo = self.resampler = self.shape = None
        return np.concatenate(parts).astype(np.float32, copy=False)

    def _convert(self, frame: av.AudioFrame | None) -> np.ndarray:
        assert self.resampler is not None
        out = [f.to_ndarray().reshape(-1) for f in self.resampler.resample(frame)]
        return np.concatenate(out).astype(np.float32, copy=False) if out else np.zeros(0, np.float32)


def _clip_negative(blocks: Iterable[AudioBlock]) -> Iterator[AudioBlock]:
    """Drop samples before t=0 (audio that starts before the picture, e.g. encoder priming)."""
    for block in blocks:
        if block.end <= 0:
            continue
        if block.start < 0:
            cut = int(round(-block.start * SAMPLE_RATE))
            block = AudioBlock(0.0, block.samples[cut:])
        yield block


def speech_windows(
    blocks: Iterable[AudioBlock], *, window_seconds: float = 600.0, search_seconds: float = 20.0
) -> Iterator[AudioBlock]:
    """Regroup contiguous blocks into windows of at most ``window_seconds``.

    Each window but the last ends at the quietest tenth of a second within its final
    ``search_seconds`` (a pause between words, as far as loudness can tell), and the next window
    starts there, so no sample is lost or repeated. Memory stays about one window.
    """
    window = max(1, int(window_seconds * SAMPLE_RATE))
    search = min(window // 2, max(1, int(search_seconds * SAMPLE_RATE)))
    step = SAMPLE_RATE // 10
    buffer: list[np.ndarray] = []
    buffered = 0
    start: float | None = None
    for block in _clip_negative(blocks):
        if start is None:
            start = block.start
        buffer.append(block.samples)
        buffered += len(block.samples)
        while buffered >= window:
            joined = np.concatenate(buffer)
            zone = joined[window - search : window]
            frames = len(zone) // step
            energy = np.square(zone[: frames * step].reshape(frames, step)).mean(axis=1)
            cut = window - search + int(np.argmin(energy)) * step + step // 2
            yield AudioBlock(start, joined[:cut])
            start += cut / SAMPLE_RATE
            rest = joined[cut:]
            buffer = [rest]
            buffered = len(rest)
    if buffered and start is not None:
        yield AudioBlock(start, np.concatenate(buffer))


def read_ahead(items: Iterator[T]) -> Iterator[T]:
    """Yield ``items``, producing the next one on a second thread while the caller works on this one.

    Decoding the sound runs while the speech model listens to the window before (both let go of the
    interpreter while they compute), so a second core shortens the wall time. At most one item waits
    ready, so memory stays about two items. An error raised producing an item is raised here, in
    order; when the caller stops early (an error, a cancelled run) the producer stops after its item,
    and ``items`` is let go (a generator is closed, its file with it) before this returns.
    """
    ready: queue.Queue[tuple[bool, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def offer(item: tuple[bool, Any]) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not offer((False, item)):
                    return
            offer((True, None))
        except BaseException as e:  # handed to the caller, who raises it
            offer((True, e))

    producer = threading.Thread(target=produce, name="vidsearch-audio", daemon=True)
    producer.start()
    try:
        while True:
            done, item = ready.get()
            if done:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        producer.join()
