"""What is said in a video, as text with times: transcribed speech and subtitles.

* ``read.read_speech(path, transcriber)``: subtitles where present, else transcribed speech;
* ``transcribe.Transcriber``: the faster-whisper speech model (bundled English tiny.en by default);
* ``subtitles``: sidecar .srt/.vtt/.ass files and text subtitle streams, and ``sidecar_signature``;
* ``moments.speech_by_moment``: the lines said during each moment;
* ``types``: ``Word``, ``SpeechLine``, ``Transcript``, ``MomentSpeech``; ``errors``: per-file errors.

This package imports no media or model library itself; its modules do when used.
"""

from vidsearch.speech.errors import AudioDecodeError, NoAudioError, SpeechError, SubtitleError
from vidsearch.speech.types import MomentSpeech, SpeechLine, Transcript, Word

__all__ = [
    "AudioDecodeError",
    "MomentSpeech",
    "NoAudioError",
    "SpeechError",
    "SpeechLine",
    "SubtitleError",
    "Transcript",
    "Word",
]
