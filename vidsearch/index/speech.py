"""What is said in each video, read while indexing: subtitles always, transcription unless turned off.

The indexer reads a file's words right after its pictures and writes both in one transaction
(``SpeechReader.read``, ``spoken_moments``, ``save_heard``). ``stale_speech`` finds indexed videos
whose words are missing or out of date (an index from before speech was read, a subtitle file beside
the video added, changed or removed, transcription turned on again after ``--no-speech``, another
speech model chosen), so their words are read again without touching their pictures.

The speech model loads once per run, and only when a video without subtitles needs it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from vidsearch.speech.errors import SpeechError
from vidsearch.speech.model import BUNDLED_SPEECH_MODEL
from vidsearch.speech.subtitles import SIDECAR_EXTENSIONS, is_sidecar_of, sidecar_signature
from vidsearch.speech.types import Transcript
from vidsearch.store.textindex import SpeechSource

if TYPE_CHECKING:
    from vidsearch.embed.base import Embedder
    from vidsearch.speech.transcribe import Transcriber
    from vidsearch.store import Store, StoredVideo


@dataclass(frozen=True)
class SpeechSettings:
    """How a run reads what is said: ``transcribe`` False reads subtitles only (``--no-speech``);
    ``model`` is the speech model (``vidsearch.speech.model``); ``device`` where it runs (``auto``,
    ``cpu``, ``cuda``, ``cuda:N``; Apple's GPU is not one the speech runtime uses, so ``mps`` means
    the CPU)."""

    transcribe: bool = True
    model: str = BUNDLED_SPEECH_MODEL
    device: str = "auto"


@dataclass(frozen=True)
class Heard:
    """What reading one video's words gave: the transcript (None when nothing was said or read), the
    record the index keeps, why nothing could be read (``problem``), and subtitle files or streams
    that were passed over for another source (``passed_over``)."""

    transcript: Transcript | None
    source: SpeechSource
    problem: str | None = None
    passed_over: tuple[str, ...] = field(default=())


class _OnDemand:
    """A transcriber loaded the first time something must be transcribed, then kept for the run."""

    def __init__(self, reader: SpeechReader) -> None:
        self.reader = reader

    def transcribe(self, path: str, *, progress: Callable[[float], None] | None = None) -> Transcript:
        if self.reader._transcriber is None:
            from vidsearch.speech.audio import audio_track

            # a file without sound says so before the model loads: a library of silent clips (screen
            # recordings, time-lapses) never pays for loading it
            audio_track(path)
        return self.reader.transcriber().transcribe(path, progress=progress)


class SpeechReader:
    """Reads the words of the videos of one indexing run (see the module's notes)."""

    def __init__(self, settings: SpeechSettings | None = None, transcriber: Transcriber | None = None) -> None:
        """``transcriber`` is a speech model already loaded with the settings' model (to compare how
        it is run); by default the settings' model is loaded when first needed."""
        self.settings = settings or SpeechSettings()
        self._transcriber = transcriber
        self._model_name: str | None = None

    def check(self) -> None:
        """Raise ``ModelUnavailableError`` now when the speech model is not on this machine (before a
        long scan), without loading it."""
        self.model_name()

    def model_name(self) -> str | None:
        """The name the index records for the speech model (what a transcript's ``origin`` says), or
        None when transcription is off. Resolves the model without loading it; raises as ``check``."""
        if self.settings.transcribe and self._model_name is None:
            from vidsearch.speech.model import resolve_speech_model

            self._model_name = resolve_speech_model(self.settings.model)[1]
        return self._model_name

    def transcriber(self) -> Transcriber:
        """The speech model, loaded on first use."""
        if self._transcriber is None:
            from vidsearch.errors import UsageError
            from vidsearch.speech.transcribe import Transcriber

            device = self.settings.device
            try:
                self._transcriber = Transcriber(self.settings.model, device="cpu" if device == "mps" else device)
            except UsageError:
                # the pictures' GPU is not one the speech runtime (CTranslate2, its own CUDA build) can
                # use: the speech model is small enough for the CPU
                self._transcriber = Transcriber(self.settings.model, device="cpu")
        return self._transcriber

    def read(
        self,
        path: str,
        *,
        names: Sequence[str] | None = None,
        progress: Callable[[float], None] | None = None,
    ) -> Heard:
        """The words of the video at ``path``: subtitles where it has any, else its speech (when
        transcription is on). ``names`` is its folder's listing when the caller has it. A file whose
        words cannot be read gives a ``Heard`` with its ``problem``; this never raises for one file.
        ``progress`` hears the seconds of audio transcribed (it may raise to stop).
        """
        from vidsearch.speech.read import read_speech

        signature = sidecar_signature(path, names=names)
        transcribe = self.settings.transcribe
        model = self.model_name()  # the model that was to listen, recorded when the sound could not be read
        try:
            transcript = read_speech(path, _OnDemand(self) if transcribe else None, names=names, progress=progress)
        except SpeechError as e:
            return Heard(None, SpeechSource(None, transcribed=transcribe, sidecar_signature=signature,
                                            error=e.reason, speech_model=model), problem=e.reason)  # fmt: skip
        except OSError as e:  # the file went away or became unreadable while it was read
            reason = e.strerror or str(e)
            return Heard(None, SpeechSource(None, transcribed=transcribe, sidecar_signature=signature,
                                            error=reason, speech_model=model), problem=reason)  # fmt: skip
        if transcript is None:  # no subtitles, and transcription off
            return Heard(None, SpeechSource(None, sidecar_signature=signature))
        source = SpeechSource(
            source=transcript.source,
            origin=transcript.origin,
            language=transcript.language,
            transcribed=transcript.source == "speech",
            sidecar_signature=signature,
            audio_seconds=transcript.audio_seconds,
            speech_seconds=transcript.speech_seconds,
            speech_model=transcript.origin if transcript.source == "speech" else None,
        )
        return Heard(transcript if transcript.lines else None, source, passed_over=transcript.warnings)


def spoken_moments(
    embedder: Embedder, spans: Sequence[tuple[float, float]], heard: Heard
) -> tuple[list[tuple[int, str]], np.ndarray | None]:
    """The words said during each moment, as (index into ``spans``, text) for the moments where
    something was said, and the model's vectors of those texts (None when nothing was said)."""
    if heard.transcript is None or not spans:
        return [], None
    from vidsearch.embed.base import embed_documents
    from vidsearch.speech.moments import speech_by_moment

    said = [(i, m.text) for i, m in enumerate(speech_by_moment(spans, heard.transcript.lines)) if m.text.strip()]
    if not said:
        return [], None
    return said, embed_documents(embedder, [text for _, text in said])


def save_heard(
    store: Store, video_id: int, heard: Heard, said: Sequence[tuple[int, str]], vectors: np.ndarray | None
) -> None:
    """Write what ``spoken_moments`` found for one video (its moments in the order of their spans)."""
    ids = store.text.moment_ids(video_id)
    lines = heard.transcript.lines if heard.transcript is not None else ()
    store.text.save_speech(video_id, heard.source, lines, [(ids[i], text) for i, text in said], vectors)


def subtitle_names(folder: str) -> list[str] | None:
    """The names in ``folder`` that may be subtitle files (None when it cannot be listed)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    return [n for n in names if n.lower().endswith(SIDECAR_EXTENSIONS)]


def videos_of_sidecar(path: str) -> list[str]:
    """The videos beside the subtitle file ``path`` that it belongs to (it need not exist any more)."""
    from vidsearch.media.scan import is_video_name

    folder, name = os.path.split(path)
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return []
    return sorted(os.path.join(folder, n) for n in names if is_video_name(n) and is_sidecar_of(n, name))


def stale_speech(
    store: Store, videos: Sequence[StoredVideo], speech: SpeechReader
) -> list[tuple[StoredVideo, list[str]]]:
    """The indexed videos among ``videos`` whose words must be read (again) by ``speech``, each with
    the subtitle names of its folder: never read, a subtitle file beside it appeared, changed or went,
    it had neither subtitles nor transcription and transcription is on now, or another speech model
    listened to it than the one ``speech`` uses (subtitles still win: a video whose words came from
    subtitles is not transcribed). Lists each folder once."""
    settings = speech.settings
    model = speech.model_name()
    sources = store.text.speech_sources(v.id for v in videos if v.status == "indexed")
    listings: dict[str, list[str] | None] = {}
    due = []
    for video in videos:
        if video.status != "indexed":
            continue
        folder = os.path.dirname(video.path)
        if folder not in listings:
            listings[folder] = subtitle_names(folder)
        names = listings[folder]
        if names is None:
            continue  # the folder is not readable now: leave its videos as they are
        known = sources.get(video.id)
        # a folder without subtitle files (most of them) has nothing to sign: no need to ask per video
        signature = sidecar_signature(video.path, names=names) if names else ""
        if (
            known is None
            or known.sidecar_signature != signature
            or (settings.transcribe and not known.transcribed and known.source is None)
            or (model is not None and known.speech_model is not None and known.speech_model != model)
        ):
            due.append((video, names))
    return due
