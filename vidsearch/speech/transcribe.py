"""Transcribe a video's speech offline with faster-whisper (CTranslate2 Whisper) and the bundled model.

The audio is read window by window (``audio.speech_windows``, ten minutes at most; the next window is
decoded on a second thread while this one is heard), so a long file costs bounded memory. Each window
goes through Silero voice-activity detection first (faster-whisper's own, with the options its
``vad_filter`` uses), so silence, wind and most music never reach Whisper. Only the speech is kept,
and the speech of consecutive windows is gathered (up to a window's length) before Whisper hears it:
Whisper always listens to 30 s at a time, so a window with one sentence in it would cost a whole
pass, and a mostly silent hour as many passes as it has windows; gathered, its few sentences share
passes, and a silent file costs none. Each word is put back at its time on the video's clock
(faster-whisper's ``restore_speech_timestamps``, as its ``vad_filter`` does).

Decoding options are faster-whisper's defaults (beam search of 5, temperature fallback, each pass
conditioned on the text before), the reference behaviour of the model. Greedy decoding (OpenAI's own
``transcribe`` default) costs about three quarters of the CPU time and made fewer word errors on
long synthesised speech, but lost words of short single-sentence clips that the beam search heard
("she rode her bicycle" as "she wrote her my sickle"), and with them spoken-query recall
(``benchmarks/speech.py``), so it stays an option. Word times are on: the gathered speech runs end
to end, so a segment's own times can span the silence between two sentences said minutes apart;
word times (Whisper's cross-attention alignment, as faster-whisper computes it) put each word back
at its time and lines are cut where words are far apart. They cost about an eighth more on speech
(``benchmarks/speech.py``); ``word_times=False`` skips them.

ctranslate2 is imported when a ``Transcriber`` is made, never at module import.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vidsearch.errors import ModelError, UsageError
from vidsearch.speech.audio import SAMPLE_RATE, AudioBlock, iter_audio, read_ahead, speech_windows
from vidsearch.speech.errors import SpeechError
from vidsearch.speech.model import BUNDLED_SPEECH_MODEL, resolve_speech_model
from vidsearch.speech.types import SpeechLine, Transcript, Word

# Longest stretch of audio read at once, and the most speech gathered before Whisper hears it (memory
# is about 4 bytes a sample for the samples, plus Whisper's features of the gathered speech).
WINDOW_SECONDS = 600.0

# Words further apart than this (seconds) start a new line: within a sentence the gaps are shorter.
LINE_GAP = 1.0

COMPUTE_TYPES = ("default", "float32", "int8", "int8_float32", "float16", "int8_float16")


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _speech_device(requested: str) -> str:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:N`` -> what CTranslate2 runs on here.

    CTranslate2 has its own CUDA build, independent of torch's, so it is asked directly.
    """
    import ctranslate2

    name = requested.strip().lower()
    cuda = ctranslate2.get_cuda_device_count()
    if name == "auto":
        return "cuda" if cuda else "cpu"
    if name == "cpu" or (name.startswith("cuda") and cuda):
        return name
    if name.startswith("cuda"):
        raise UsageError(f"device {requested!r}: the speech model's runtime (CTranslate2) sees no CUDA GPU here")
    raise UsageError(f"the speech model runs on cpu or cuda, not {requested!r}")


class Transcriber:
    """A loaded speech model and how to run it; ``transcribe(path)`` gives a ``Transcript``.

    ``model`` is a name ``speech.model.resolve_speech_model`` understands (default: the bundled
    English tiny.en). ``language`` forces the spoken language for multilingual models (``None``
    detects it per window; English-only models always say ``"en"``). ``compute_type`` is
    CTranslate2's (``"default"`` keeps the model's own precision, float32 on a CPU; ``"int8"`` is
    the cheaper opt-in, measured in ``benchmarks/speech.py``). ``beam_size`` 5 is faster-whisper's
    beam search, 1 greedy decoding (cheaper, see the module's notes). ``threads`` defaults to the
    cores this process may use. ``word_times=False`` saves the alignment, at the price of lines that
    may span the silence between sentences (see the module's notes).
    """

    def __init__(
        self,
        model: str = BUNDLED_SPEECH_MODEL,
        *,
        device: str = "auto",
        compute_type: str = "default",
        threads: int | None = None,
        language: str | None = None,
        beam_size: int = 5,
        word_times: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        # CTranslate2's OpenMP threads spin while they wait for work; on a busy machine (the indexer's
        # own decoding, a browser) a spinning thread that loses its core stalls every step of the
        # decoder. Measured on 2 busy cores: 4x slower with spinning than with passive waits.
        # libgomp reads this when CTranslate2 loads, so it is set before anything imports it (model
        # resolution may); a user's own setting wins.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if compute_type not in COMPUTE_TYPES:
            raise UsageError(f"unknown compute type {compute_type!r}: use one of {', '.join(COMPUTE_TYPES)}")
        folder, self.name = resolve_speech_model(model, cache_dir)
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:  # a broken install: faster-whisper is a default dependency
            raise ModelError(f"the speech runtime is not installed ({e}); pip install faster-whisper") from e
        self.device = _speech_device(device)
        if compute_type == "default" and self.device == "cpu":
            # The bundled model is stored in float16, which CPUs compute as float32; saying so avoids
            # CTranslate2's warning about the conversion on every run.
            compute_type = "float32"
        self.compute_type = compute_type
        self.threads = threads or usable_cores()
        self.beam_size = beam_size
        self.word_times = word_times
        self.folder = Path(folder)
        try:
            self._model = WhisperModel(
                str(folder),
                device=self.device.split(":")[0],
                device_index=int(self.device.split(":")[1]) if ":" in self.device else 0,
                compute_type=compute_type,
                cpu_threads=self.threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as e:
            raise ModelError(f"could not load the speech model {self.name} from {folder}: {e}") from e
        self.multilingual = bool(self._model.model.is_multilingual)
        if language is not None and not self.multilingual and language != "en":
            raise UsageError(
                f"the speech model {self.name} understands English only; choose a multilingual model "
                f"(for example --speech-model small) to transcribe {language!r}"
            )
        self.language = language if self.multilingual else "en"

    def transcribe(
        self, path: str | os.PathLike[str], *, progress: Callable[[float], None] | None = None
    ) -> Transcript:
        """Everything said in ``path``'s audio, as lines (and words) on the video's clock.

        ``progress`` is called after each window with the seconds of audio done so far (it may raise
        to stop). Raises ``NoAudioError`` / ``AudioDecodeError`` for a file whose sound cannot be
        read, and ``SpeechError`` when the model fails on this file's audio.
        """
        from faster_whisper.vad import VadOptions, get_speech_timestamps

        path = os.fsdecode(path)
        lines: list[SpeechLine] = []
        audio_seconds = 0.0
        speech: _Speech | None = None
        language: str | None = self.language
        vad = VadOptions()  # what faster-whisper's own vad_filter uses
        for window in read_ahead(speech_windows(iter_audio(path), window_seconds=WINDOW_SECONDS)):
            try:
                spans = get_speech_timestamps(window.samples, vad, SAMPLE_RATE)
            except (RuntimeError, ValueError) as e:
                raise SpeechError(path, f"voice-activity detection failed on this file's audio ({e})") from e
            said = sum(span["end"] - span["start"] for span in spans)
            if speech is None:
                speech = _Speech(window.start)
            elif speech.samples and speech.samples + said > WINDOW_SECONDS * SAMPLE_RATE:
                language = self._hear(path, speech, lines) or language
                speech = speech.following()
            speech.add(window, spans)
            audio_seconds += len(window.samples) / SAMPLE_RATE
            if progress is not None:
                progress(audio_seconds)
        if speech is not None and speech.samples:
            language = self._hear(path, speech, lines) or language
        return Transcript(
            lines=tuple(lines),
            source="speech",
            origin=self.name,
            language=language,
            audio_seconds=audio_seconds,
            speech_seconds=speech.total / SAMPLE_RATE if speech is not None else 0.0,
        )

    def _hear(self, path: str, speech: _Speech, lines: list[SpeechLine]) -> str:
        """Transcribe the gathered ``speech`` in one go, adding its lines (on the video clock) to
        ``lines``; returns the language Whisper heard."""
        from faster_whisper.transcribe import restore_speech_timestamps

        try:
            found, info = self._model.transcribe(
                speech.audio(),
                language=self.language,
                beam_size=self.beam_size,
                word_timestamps=self.word_times,
                vad_filter=False,  # it holds speech only: voice-activity detection ran per window
            )
            for segment in restore_speech_timestamps(found, speech.spans, SAMPLE_RATE):
                lines.extend(_lines(segment, speech.origin))
        except (RuntimeError, ValueError) as e:
            raise SpeechError(path, f"the speech model failed on this file's audio ({e})") from e
        return str(info.language)


class _Speech:
    """The speech of consecutive windows, end to end, and where each piece was said.

    Whisper hears 30 s at a time whatever it is given, so the few words of a mostly silent window
    would cost a whole pass (and often a second one over the noise after them); gathered across
    windows they share passes. ``spans`` are faster-whisper's speech spans in samples counted from
    the first sample of the file's audio (``origin`` seconds on the video clock), which is what its
    ``restore_speech_timestamps`` needs to put each word back at its time.
    """

    def __init__(self, origin: float, position: int = 0, total: int = 0) -> None:
        self.origin = origin
        self.position = position  # samples of audio before the next window
        self.total = total  # samples of speech so far in the file, these included
        self.pieces: list[np.ndarray] = []
        self.spans: list[dict[str, int]] = []
        self.samples = 0

    def add(self, window: AudioBlock, spans: list[dict[str, int]]) -> None:
        for span in spans:
            # a copy, so that the window's other samples (its silence) can go
            self.pieces.append(window.samples[span["start"] : span["end"]].copy())
            self.spans.append({"start": self.position + span["start"], "end": self.position + span["end"]})
            self.samples += span["end"] - span["start"]
            self.total += span["end"] - span["start"]
        self.position += len(window.samples)

    def following(self) -> _Speech:
        """An empty gathering that goes on from this one's place in the file."""
        return _Speech(self.origin, self.position, self.total)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.pieces) if self.pieces else np.zeros(0, np.float32)


def _lines(segment: Any, offset: float) -> list[SpeechLine]:
    """faster-whisper's segment -> ``SpeechLine``s on the video clock (none when it says nothing).

    Whisper hears the gathered speech end to end, so one segment can hold words said minutes apart;
    with word times the segment is split where its words are more than ``LINE_GAP`` seconds apart, so
    each line keeps the time it was said.
    """
    text = " ".join(segment.text.split())
    if not text:
        return []
    words = [
        Word(
            start=max(0.0, offset + float(w.start)),
            end=max(0.0, offset + float(w.end)),
            text=w.word.strip(),
            probability=float(w.probability),
        )
        for w in (segment.words or ())
        if w.word.strip()
    ]
    if not words:
        start = max(0.0, offset + float(segment.start))
        return [SpeechLine(start=start, end=max(start, offset + float(segment.end)), text=text)]
    runs: list[list[Word]] = [[words[0]]]
    for word in words[1:]:
        if word.start - runs[-1][-1].end > LINE_GAP:
            runs.append([])
        runs[-1].append(word)
    return [
        SpeechLine(start=run[0].start, end=run[-1].end, text=" ".join(w.text for w in run), words=tuple(run))
        for run in runs
    ]
