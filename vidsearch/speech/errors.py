"""Typed errors of the speech stage. Each is about one file and never stops an indexing run.

They are ``MediaError``s, so code that skips bad media skips them too; ``str(error)`` is the reason
alone, so the indexer can print ``skipping speech in PATH: reason`` and still index the pictures.
"""

from __future__ import annotations

from vidsearch.errors import MediaError


class SpeechError(MediaError):
    """The words of one file could not be read; ``reason`` says why in a user's terms."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


class NoAudioError(SpeechError):
    """The file has no audio stream (a silent screen recording, a timelapse)."""


class AudioDecodeError(SpeechError):
    """The file has an audio stream but it cannot be decoded (unknown codec, corrupt data)."""


class SubtitleError(SpeechError):
    """A subtitle file or stream could not be read (not text, no cues, not a subtitle format)."""
