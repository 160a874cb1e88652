"""Make test videos that talk: espeak-ng speech placed at known times, muxed with PyAV under pictures,
and subtitle streams written into mkv/mp4 files.

Every speech test builds its clips with these helpers (no recordings in the repo).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.subtitles.subtitle import SubtitleSet
from videogen import Painter, solid

ESPEAK = shutil.which("espeak-ng")
SPEECH_RATE = 22050  # what espeak-ng writes


def speak(text: str, *, words_per_minute: int = 150, voice: str = "en-us") -> np.ndarray:
    """``text`` spoken by espeak-ng, as float32 mono samples at ``SPEECH_RATE``."""
    assert ESPEAK, "espeak-ng is not installed"
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "speech.wav"
        subprocess.run(
            [ESPEAK, "-v", voice, "-s", str(words_per_minute), "-w", str(wav), text], check=True, capture_output=True
        )
        with wave.open(str(wav)) as f:
            assert f.getframerate() == SPEECH_RATE and f.getnchannels() == 1 and f.getsampwidth() == 2
            pcm = np.frombuffer(f.readframes(f.getnframes()), np.int16)
    return pcm.astype(np.float32) / 32768.0


def soundtrack(seconds: float, said: Sequence[tuple[float, str]], *, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """``seconds`` of sound at ``SPEECH_RATE`` with each (time, text) of ``said`` spoken at its time.

    ``noise`` adds faint white noise of that amplitude (a room, not silence).
    """
    track = np.zeros(int(seconds * SPEECH_RATE), np.float32)
    for when, text in said:
        voice = speak(text)
        at = int(when * SPEECH_RATE)
        end = min(len(track), at + len(voice))
        track[at:end] += voice[: end - at]
    if noise:
        track += np.random.default_rng(seed).normal(0, noise, len(track)).astype(np.float32)
    return np.clip(track, -1, 1)


def tune(seconds: float) -> np.ndarray:
    """An instrumental tune at ``SPEECH_RATE``: plucked notes with overtones over a pulsing bass."""
    t = np.arange(int(seconds * SPEECH_RATE)) / SPEECH_RATE
    notes = [261.6, 329.6, 392.0, 523.3, 440.0, 349.2]
    sound = 0.2 * np.sin(2 * np.pi * 55 * t) * (np.sin(2 * np.pi * 2 * t) > 0)
    step = SPEECH_RATE // 2
    for k in range(len(t) // step):
        a, b = k * step, (k + 1) * step
        decay = np.exp(-3 * np.arange(b - a) / SPEECH_RATE)
        for overtone, amplitude in ((1, 0.3), (2, 0.15), (3, 0.08)):
            sound[a:b] += amplitude * decay * np.sin(2 * np.pi * notes[k % len(notes)] * overtone * t[a:b])
    return (0.5 * sound / np.abs(sound).max()).astype(np.float32)


def write_talking_video(
    path: str | Path,
    seconds: float,
    *,
    said: Sequence[tuple[float, str]] = (),
    sound: np.ndarray | None = None,
    painter: Painter | None = None,
    audio: bool = True,
    audio_codec: str = "aac",
    audio_rate: int = 44100,
    audio_offset: float = 0.0,
    audio_gap: tuple[float, float] | None = None,
    video_offset: float = 0.0,
    subtitles: Sequence[tuple[float, float, str]] = (),
    subtitle_codec: str | None = None,
    subtitle_language: str = "eng",
    fps: int = 5,
    size: tuple[int, int] = (96, 64),
) -> Path:
    """A video of ``seconds`` with pictures from ``painter`` and sound from ``said`` (or ``sound``).

    The sound is stereo at ``audio_rate`` (so reading it has to resample and mix down); it starts
    ``audio_offset`` seconds into the file and the picture ``video_offset`` seconds into it.
    ``audio_gap`` (at, seconds) makes the audio timestamps jump ahead by ``seconds`` once the sound
    reaches ``at`` (a recorder that dropped a stretch of audio), delaying everything after it.
    ``subtitles`` (start, end, text; seconds into the file) go into a subtitle stream of
    ``subtitle_codec`` (mov_text for .mp4; subrip, ass or webvtt for .mkv).
    """
    path = Path(path)
    paint = painter or solid((40, 90, 140))
    w, h = size
    if audio and sound is None:
        sound = soundtrack(seconds - audio_offset, said)
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        video.options = {"preset": "ultrafast"}
        # Every stream is added before the first packet is written (which fixes the time bases).
        audio_stream = _audio_stream(container, audio_codec, audio_rate) if audio else None
        subtitle_stream = (
            _subtitle_stream(container, subtitle_codec or _default_subtitle_codec(path), subtitle_language)
            if subtitles
            else None
        )
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(paint(i, i / fps, w, h), format="rgb24")
            frame.pts = i + round(video_offset * fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio_stream is not None:
            assert sound is not None
            for packet in _encode_audio(audio_stream, sound, audio_offset, audio_gap):
                container.mux(packet)
        if subtitle_stream is not None:
            for packet in _encode_subtitles(subtitle_stream, subtitles):
                container.mux(packet)
    return path


def _default_subtitle_codec(path: Path) -> str:
    return "mov_text" if path.suffix.lower() in (".mp4", ".mov", ".m4v") else "subrip"


def _audio_stream(container, codec: str, rate: int):
    stream = container.add_stream(codec, rate=rate)
    stream.layout = "stereo"
    stream.time_base = Fraction(1, rate)
    return stream


def _encode_audio(stream, sound: np.ndarray, offset: float, gap: tuple[float, float] | None = None) -> list:
    codec, rate = stream.codec_context.name, stream.codec_context.sample_rate
    resampler = av.AudioResampler(format=stream.format.name, layout="stereo", rate=rate)
    frame_size = stream.codec_context.frame_size or 1024
    packets = []
    pts = int(round(offset * rate))
    fifo = av.AudioFifo()
    step = 60 * SPEECH_RATE  # a minute at a time: an hour in one frame is more than FFmpeg takes
    for at in range(0, len(sound), step):
        pcm = (sound[at : at + step] * 32767).astype(np.int16).reshape(1, -1)
        source = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        source.sample_rate = SPEECH_RATE
        for frame in resampler.resample(source):
            frame.pts = None
            fifo.write(frame)
    for frame in resampler.resample(None):
        frame.pts = None
        fifo.write(frame)
    while fifo.samples:
        frame = fifo.read(min(frame_size, fifo.samples))
        if frame.samples < frame_size and codec == "aac":
            break  # the encoder wants whole frames; the last few milliseconds are not needed
        if gap is not None and pts >= (offset + gap[0]) * rate:
            pts += int(round(gap[1] * rate))
            gap = None
        frame.pts = pts
        frame.time_base = Fraction(1, rate)
        pts += frame.samples
        packets += stream.encode(frame)
    packets += stream.encode()
    return packets


_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)


def _subtitle_stream(container, codec: str, language: str):
    stream = container.add_stream(codec)
    stream.metadata["language"] = language
    # FFmpeg's text subtitle encoders take ASS events and need the ASS header to start.
    stream.codec_context.subtitle_header = _ASS_HEADER
    return stream


def _encode_subtitles(stream, cues: Sequence[tuple[float, float, str]]) -> list:
    tb = stream.time_base
    packets = []
    for i, (start, end, text) in enumerate(cues):
        event = f"{i},0,Default,,0,0,0,,{text}".encode()
        subtitle = SubtitleSet.create(event, 0, int(round((end - start) / tb)), int(round(start / tb)))
        packet = stream.codec_context.encode_subtitle(subtitle)
        packet.stream = stream
        packet.time_base = tb
        packets.append(packet)
    return packets


def corrupt_audio(path: str | Path, *, seed: int = 0) -> Path:
    """Overwrite every audio packet's bytes in ``path`` with noise (the container stays readable)."""
    path = Path(path)
    spots = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        for packet in container.demux(stream):
            if packet.size and packet.pos is not None and packet.pos >= 0:
                spots.append((packet.pos, packet.size))
    rng = np.random.default_rng(seed)
    data = bytearray(path.read_bytes())
    for pos, size in spots:
        data[pos : pos + size] = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path
