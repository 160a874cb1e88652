"""What is said in one video: its subtitles where it has any, else its transcribed speech.

The one entry point the indexer needs. Subtitles are preferred because they are what the author
meant and cost nothing to read; transcription runs only for videos without them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from vidsearch.speech.errors import SpeechError, SubtitleError
from vidsearch.speech.subtitles import read_subtitles
from vidsearch.speech.types import Transcript


class Transcribes(Protocol):
    """What ``read_speech`` needs of a speech model: ``vidsearch.speech.transcribe.Transcriber`` (or
    something that loads one when first asked)."""

    def transcribe(self, path: str, *, progress: Callable[[float], None] | None = None) -> Transcript: ...


def read_speech(
    path: str | os.PathLike[str],
    transcriber: Transcribes | None,
    *,
    languages: Sequence[str] | None = None,
    names: Iterable[str] | None = None,
    progress: Callable[[float], None] | None = None,
) -> Transcript | None:
    """The words of ``path``: subtitles (sidecar, then stream) when present, else its speech.

    With ``transcriber`` None (``index --no-speech``) only subtitles are read, and a video without
    them gives None. Subtitle candidates that could not be read are named in the result's
    ``warnings``. Raises a ``SpeechError`` (``NoAudioError``, ``AudioDecodeError``,
    ``SubtitleError``) when nothing could be read; its reason also names the subtitle problems.
    """
    path = os.fsdecode(path)
    problems: tuple[str, ...] = ()
    try:
        subtitles = read_subtitles(path, languages=languages, names=names)
    except SubtitleError as e:
        subtitles, problems = None, (e.reason,)
    if subtitles is not None:
        return subtitles
    if transcriber is None:
        if problems:
            raise SubtitleError(path, problems[0])
        return None
    try:
        transcript = transcriber.transcribe(path, progress=progress)
    except SpeechError as e:
        if problems:
            raise type(e)(path, f"{e.reason}; and {problems[0]}") from e
        raise
    return replace(transcript, warnings=problems)
