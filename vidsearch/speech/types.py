"""Plain records of what is said in a video: words, lines and a whole transcript.

Times are float seconds from the start of the video's picture (the same clock as ``Frame.time`` and
moment spans), whatever the source: transcribed speech, a sidecar subtitle file or a subtitle stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where a transcript came from: the speech model, a subtitle file beside the video, or a subtitle
# stream inside it.
Source = Literal["speech", "sidecar", "stream"]


@dataclass(frozen=True)
class Word:
    """One transcribed word with its own times (speech only: subtitles time whole lines)."""

    start: float
    end: float
    text: str
    probability: float = 1.0


@dataclass(frozen=True)
class SpeechLine:
    """One line that was said or shown as a subtitle, with its times; ``words`` when known."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class Transcript:
    """Everything said in one video, from one source, in time order.

    ``origin`` names the source in words a user recognises: the speech model's name, the sidecar
    file's path, or the stream (``"stream 2 (eng)"``). ``audio_seconds`` is how much audio the model
    listened to and ``speech_seconds`` how much of it voice-activity detection passed on to it (both
    0 for subtitles). ``warnings`` says what was passed over on the way (a broken sidecar before the
    subtitle stream that was read instead), one reason each.
    """

    lines: tuple[SpeechLine, ...]
    source: Source
    origin: str
    language: str | None = None
    audio_seconds: float = 0.0
    speech_seconds: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """All lines joined with spaces (empty when nothing was said)."""
        return " ".join(line.text for line in self.lines)


@dataclass(frozen=True)
class MomentSpeech:
    """The lines said during one moment (``start``..``end``), each with its own times."""

    start: float
    end: float
    lines: tuple[SpeechLine, ...]

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)
