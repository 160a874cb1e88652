"""What is said in a video: subtitles read with their times, speech transcribed at the right time,
typed per-file errors, and lines shared out to moments.

Clips are made here: espeak-ng speech muxed under generated pictures, subtitle streams written with
PyAV. Transcription runs the real bundled model (tiny.en) and is marked slow.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from speechgen import ESPEAK, corrupt_audio, soundtrack, tune, write_talking_video
from videogen import Scene, solid, write_video

from vidsearch.errors import ModelUnavailableError, UsageError
from vidsearch.media.decode import iter_frames
from vidsearch.speech import AudioDecodeError, NoAudioError, SpeechLine, SubtitleError, Transcript, Word
from vidsearch.speech.audio import SAMPLE_RATE, AudioBlock, iter_audio, read_ahead, speech_windows
from vidsearch.speech.model import BUNDLED_SPEECH_MODEL, bundled_model_folder, resolve_speech_model
from vidsearch.speech.moments import speech_by_moment
from vidsearch.speech.read import read_speech
from vidsearch.speech.subtitles import (
    find_sidecars,
    normalise_language,
    parse_timed_text,
    read_sidecar,
    read_stream,
    read_subtitles,
    sidecar_signature,
    subtitle_streams,
)

needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")

SRT = (
    "1\n00:00:01,000 --> 00:00:02,500\n<i>Happy</i> birthday, <font color='red'>grandpa</font>!\n\n"
    "2\n00:00:04,200 --> 00:00:06,000\n{\\an8}Blow out the candles\n\n"
)


def _video(path: Path, seconds: float = 3.0) -> Path:
    return write_video(path, [Scene(solid((30, 60, 90)), seconds)], fps=5, size=(64, 48))


def _texts(transcript: Transcript | None) -> list[str]:
    assert transcript is not None
    return [line.text for line in transcript.lines]


# ------------------------------------------------------------------------------------------ sidecars


def test_sidecar_srt_is_read_with_its_times(tmp_path: Path) -> None:
    video = _video(tmp_path / "party.mp4")
    (tmp_path / "party.srt").write_text(SRT, encoding="utf-8")

    transcript = read_subtitles(video)

    assert transcript is not None and transcript.source == "sidecar"
    assert transcript.origin == str(tmp_path / "party.srt")
    assert [(line.start, line.end, line.text) for line in transcript.lines] == [
        (1.0, 2.5, "Happy birthday, grandpa!"),
        (4.2, 6.0, "Blow out the candles"),
    ]


def test_vtt_with_bom_crlf_tags_and_rolling_captions(tmp_path: Path) -> None:
    video = _video(tmp_path / "talk.mkv")
    vtt = (
        "WEBVTT\nKind: captions\n\nNOTE made by hand\n\n"
        "intro\n00:01.000 --> 00:02.000 align:start position:0%\n<v Bob>Hello &amp; <c.loud>welcome</c>\n\n"
        "00:02.000 --> 00:03.500\nHello &amp; <c.loud>welcome</c>\nto the <00:00:02.500>recipe\n\n"
        "STYLE\n::cue { color: yellow }\n"
    )
    (tmp_path / "talk.en.vtt").write_bytes(b"\xef\xbb\xbf" + vtt.replace("\n", "\r\n").encode())

    transcript = read_subtitles(video)

    assert transcript is not None and transcript.language == "en"
    # the second cue repeats the first one's line (rolling captions): only the new words are kept
    assert [(line.start, line.text) for line in transcript.lines] == [(1.0, "Hello & welcome"), (2.0, "to the recipe")]


def test_legacy_encodings_and_missing_blank_lines_are_read(tmp_path: Path) -> None:
    # no blank line between the cues, and Windows-1252 bytes
    text = "1\n00:00:01,000 --> 00:00:02,000\nCafé au lait\n2\n00:00:03,000 --> 00:00:04,000\nNaïve\n"
    (tmp_path / "a.srt").write_bytes(text.encode("cp1252"))
    utf16 = "1\r\n00:00:05,000 --> 00:00:06,000\r\nGrüße\r\n".encode("utf-16")
    (tmp_path / "b.srt").write_bytes(utf16)

    assert _texts(read_sidecar(tmp_path / "a.srt")) == ["Café au lait", "Naïve"]
    assert [(x.start, x.text) for x in read_sidecar(tmp_path / "b.srt").lines] == [(5.0, "Grüße")]


def test_ass_sidecar_is_read_through_ffmpeg(tmp_path: Path) -> None:
    video = _video(tmp_path / "karaoke.mkv")
    (tmp_path / "karaoke.ass").write_text(
        "[Script Info]\nScriptType: v4.00+\n\n[V4+ Styles]\n"
        "Format: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n[Events]\n"
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
        "Dialogue: 0,0:00:02.00,0:00:04.50,Default,,0,0,0,,{\\k20}Happy {\\k30}birthday\\Nto you\n"
    )
    transcript = read_subtitles(video)
    assert transcript is not None and transcript.source == "sidecar"
    assert [(x.start, x.end, x.text) for x in transcript.lines] == [(2.0, 4.5, "Happy birthday to you")]


def test_sidecar_choice_prefers_language_then_untagged_and_never_forced_first(tmp_path: Path) -> None:
    video = _video(tmp_path / "Movie.mp4")
    for name in ("movie.forced.srt", "Movie.de.srt", "Movie.srt", "Movie.eng.srt", "Movie.part2.srt", "other.srt"):
        (tmp_path / name).write_text(SRT)

    english = [os.path.basename(s.path) for s in find_sidecars(video, languages=("en",))]
    german = [os.path.basename(s.path) for s in find_sidecars(video, languages=("de", "en"))]
    french = [os.path.basename(s.path) for s in find_sidecars(video, languages=("fr",))]

    assert english == ["Movie.eng.srt", "Movie.srt", "Movie.de.srt", "movie.forced.srt"]
    assert german[0] == "Movie.de.srt"
    assert french[0] == "Movie.srt"  # untagged before another language
    assert read_subtitles(video, languages=("de",)).origin.endswith("Movie.de.srt")  # type: ignore[union-attr]


def test_language_tags_mean_the_same_language() -> None:
    assert {normalise_language(t) for t in ("en", "eng", "EN-us", "English", "en_GB")} == {"en"}
    assert normalise_language("ger") == normalise_language("deu") == "de"
    assert normalise_language("und") is None
    assert normalise_language("part2") is None


def test_sidecar_signature_changes_with_the_sidecar_only(tmp_path: Path) -> None:
    video = _video(tmp_path / "clip.mp4")
    assert sidecar_signature(video) == ""
    srt = tmp_path / "clip.en.srt"
    srt.write_text(SRT)
    first = sidecar_signature(video)
    assert first and sidecar_signature(video) == first  # stable while nothing changes

    (tmp_path / "unrelated.srt").write_text(SRT)
    assert sidecar_signature(video) == first

    srt.write_text(SRT + "3\n00:00:07,000 --> 00:00:08,000\nand cake\n")
    edited = sidecar_signature(video)
    assert edited != first

    srt.unlink()
    assert sidecar_signature(video) == ""


# ------------------------------------------------------------------------------------------- streams


@pytest.mark.parametrize(
    ("suffix", "codec"), [(".mp4", "mov_text"), (".mkv", "subrip"), (".mkv", "ass"), (".mkv", "webvtt")]
)
def test_embedded_subtitle_stream_is_found_with_its_times(tmp_path: Path, suffix: str, codec: str) -> None:
    video = write_talking_video(
        tmp_path / f"clip{suffix}",
        8,
        audio=False,
        subtitles=[(1.5, 3.0, "Happy {\\i1}birthday{\\i0}\\Ngrandpa"), (5.0, 6.25, "Make a wish")],
        subtitle_codec=codec,
    )

    streams = subtitle_streams(video)
    transcript = read_subtitles(video)

    assert [s.language for s in streams] == ["en"]
    assert transcript is not None and transcript.source == "stream"
    assert [(x.start, x.end, x.text) for x in transcript.lines] == [
        (1.5, 3.0, "Happy birthday grandpa"),
        (5.0, 6.25, "Make a wish"),
    ]


def test_stream_subtitles_are_timed_from_the_first_picture(tmp_path: Path) -> None:
    # the picture starts 1 s into the file; a cue at 3.5 s into the file shows 2.5 s into the video
    video = write_talking_video(
        tmp_path / "clip.mkv", 6, audio=False, video_offset=1.0, subtitles=[(3.5, 4.5, "Make a wish")]
    )
    transcript = read_subtitles(video)
    assert transcript is not None
    assert [(x.start, x.end) for x in transcript.lines] == [(2.5, 3.5)]


def test_a_sidecar_wins_over_a_stream_and_a_broken_sidecar_falls_back_to_it(tmp_path: Path) -> None:
    video = write_talking_video(tmp_path / "clip.mkv", 6, audio=False, subtitles=[(1.0, 2.0, "from the stream")])
    sidecar = tmp_path / "clip.srt"
    sidecar.write_text("1\n00:00:03,000 --> 00:00:04,000\nfrom the sidecar\n")
    assert _texts(read_subtitles(video)) == ["from the sidecar"]

    sidecar.write_bytes(bytes(range(256)) * 8)  # not text
    transcript = read_subtitles(video)

    assert _texts(transcript) == ["from the stream"]
    assert transcript is not None and len(transcript.warnings) == 1 and "clip.srt" in transcript.warnings[0]


def test_broken_subtitle_file_is_a_typed_error_naming_the_file(tmp_path: Path) -> None:
    video = _video(tmp_path / "clip.mp4")
    broken = tmp_path / "clip.srt"
    broken.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(SubtitleError, match="clip.srt"):
        read_sidecar(broken)

    broken.write_text("this is a shopping list, not subtitles\nmilk\neggs\n")
    with pytest.raises(SubtitleError, match="no subtitle cues") as caught:
        read_speech(video, None)
    assert caught.value.path == str(video)

    broken.write_text("")
    with pytest.raises(SubtitleError, match="empty"):
        read_sidecar(broken)


def test_a_missing_stream_is_a_typed_error(tmp_path: Path) -> None:
    video = _video(tmp_path / "clip.mp4")
    with pytest.raises(SubtitleError, match="no subtitle stream 3"):
        read_stream(video, 3)


def test_video_without_subtitles_and_without_transcriber_has_no_words(tmp_path: Path) -> None:
    assert read_speech(_video(tmp_path / "clip.mp4"), None) is None


def test_parse_timed_text_tolerates_odd_timings() -> None:
    lines = parse_timed_text(
        "00:01.5 --> 00:02.0\nshort hours\n\n1:00:00,000 --> 1:00:01,000\nan hour in\n\n"
        "garbage --> more garbage\nnot a cue\n\n00:00:09,000 --> 00:00:08,000\nend before start\n"
    )
    assert [(x.start, x.end, x.text) for x in lines] == [
        (1.5, 2.0, "short hours"),
        (9.0, 9.0, "end before start"),
        (3600.0, 3601.0, "an hour in"),
    ]


# --------------------------------------------------------------------------------------------- audio


def test_no_audio_stream_is_a_typed_error(tmp_path: Path) -> None:
    video = _video(tmp_path / "timelapse.mp4")
    with pytest.raises(NoAudioError, match="no audio stream") as caught:
        list(iter_audio(video))
    assert caught.value.path == str(video)
    assert str(caught.value) == "the file has no audio stream"  # the indexer prefixes the path itself


@needs_espeak
def test_undecodable_audio_is_a_typed_error(tmp_path: Path) -> None:
    video = corrupt_audio(write_talking_video(tmp_path / "clip.mkv", 4, said=[(1.0, "hello there")]))
    with pytest.raises(AudioDecodeError):
        list(iter_audio(video))


@needs_espeak
@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
@pytest.mark.parametrize(
    ("audio_offset", "video_offset", "first", "spoken"),
    [
        (2.0, 0.0, 2.0, 5.0),  # the sound starts 2 s after the picture: its 3 s mark is at 5 s
        (0.0, 1.0, -1.0, 2.0),  # the picture starts 1 s into the file: times count from the picture
    ],
)
def test_audio_is_timed_on_the_video_clock(
    tmp_path: Path, suffix: str, audio_offset: float, video_offset: float, first: float, spoken: float
) -> None:
    video = write_talking_video(
        tmp_path / f"offset{suffix}",
        10,
        said=[(3.0, "happy birthday")],
        audio_offset=audio_offset,
        video_offset=video_offset,
    )
    assert next(iter_frames(video, 1.0, 32)).time == 0.0  # the picture's clock starts at its first frame

    blocks = list(iter_audio(video, block_seconds=1.0))
    samples = np.concatenate([b.samples for b in blocks])
    loud = blocks[0].start + np.argmax(np.abs(samples) > 0.05) / SAMPLE_RATE

    assert blocks[0].start == pytest.approx(first, abs=0.05)
    assert blocks[-1].end == pytest.approx(10.0 - video_offset, abs=0.1)  # no sound lost at the end
    assert all(abs(a.end - b.start) < 1e-6 for a, b in zip(blocks, blocks[1:], strict=False))  # contiguous
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert loud == pytest.approx(spoken, abs=0.15)


@needs_espeak
def test_a_jump_in_audio_timestamps_is_kept_as_silence(tmp_path: Path) -> None:
    # 3 s of audio missing after the first 2 s: the voice 4 s into the sound plays at 7 s
    video = write_talking_video(tmp_path / "gap.mkv", 12, said=[(4.0, "happy birthday")], audio_gap=(2.0, 3.0))
    blocks = list(iter_audio(video, block_seconds=1.0))
    samples = np.concatenate([b.samples for b in blocks])
    loud = blocks[0].start + np.argmax(np.abs(samples) > 0.05) / SAMPLE_RATE
    assert loud == pytest.approx(7.0, abs=0.15)


def test_speech_windows_cut_in_the_quiet_and_lose_no_sample() -> None:
    rng = np.random.default_rng(0)
    sound = rng.normal(0, 0.3, 30 * SAMPLE_RATE).astype(np.float32)
    sound[int(8.5 * SAMPLE_RATE) : int(8.8 * SAMPLE_RATE)] = 0  # the pause to cut at
    blocks = [AudioBlock(1.0 + i, sound[i * SAMPLE_RATE : (i + 1) * SAMPLE_RATE]) for i in range(30)]

    windows = list(speech_windows(blocks, window_seconds=10, search_seconds=3))

    assert windows[0].start == 1.0
    assert 9.5 <= windows[0].end <= 9.8  # inside the pause (1 s offset + 8.5..8.8)
    assert np.array_equal(np.concatenate([w.samples for w in windows]), sound)
    assert all(abs(a.end - b.start) < 1e-6 for a, b in zip(windows, windows[1:], strict=False))
    assert max(len(w.samples) for w in windows) <= 10 * SAMPLE_RATE


def test_reading_ahead_keeps_order_raises_where_the_source_failed_and_stops_with_the_caller() -> None:
    made: list[int] = []
    closed: list[int] = []

    def source(fail_at: int | None = None, length: int = 5):
        try:
            for i in range(length):
                if i == fail_at:
                    raise AudioDecodeError("clip.mp4", "a run of bad packets")
                made.append(i)
                yield i
        finally:
            closed.append(len(made))

    assert list(read_ahead(source())) == [0, 1, 2, 3, 4]
    got = []
    with pytest.raises(AudioDecodeError, match="bad packets"):
        for item in read_ahead(source(fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]  # everything before the failure, then the failure itself

    made.clear()
    stopped = read_ahead(source(length=1000))
    assert next(stopped) == 0
    stopped.close()  # the caller gives up (a cancelled run): reading stops, and the source is closed
    assert len(made) <= 3 and closed[-1] == len(made)


# -------------------------------------------------------------------------------------------- model


def test_bundled_model_is_found_offline_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = bundled_model_folder()
    assert folder is not None
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    assert resolve_speech_model() == (folder, BUNDLED_SPEECH_MODEL)


def test_a_model_not_on_this_machine_fails_clearly_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailableError, match="HF_HUB_OFFLINE") as caught:
        resolve_speech_model("Systran/faster-whisper-small")
    assert str(tmp_path / "empty-cache") in str(caught.value)
    with pytest.raises(ModelUnavailableError, match="HF_HUB_OFFLINE"):
        resolve_speech_model("large-v3")
    with pytest.raises(ModelUnavailableError, match="unknown speech model"):
        resolve_speech_model("enormous")
    (tmp_path / "not-a-model").mkdir()
    with pytest.raises(ModelUnavailableError, match="model.bin"):
        resolve_speech_model(str(tmp_path / "not-a-model"))


def _hub_cache_with(model_folder: Path, cache: Path, repo: str) -> Path:
    """A Hugging Face cache laid out as a download leaves it, holding ``model_folder``'s files."""
    snapshot = cache / f"models--{repo.replace('/', '--')}" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    for f in model_folder.iterdir():
        (snapshot / f.name).symlink_to(f)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0" * 40)
    return snapshot


def test_a_hub_id_resolves_from_the_cache_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = bundled_model_folder()
    assert folder is not None
    cache = tmp_path / "hub"
    snapshot = _hub_cache_with(folder, cache, "someone/whisper-ct2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert resolve_speech_model("someone/whisper-ct2") == (snapshot, "someone/whisper-ct2")


# ------------------------------------------------------------------------------------------- moments


def _line(start: float, end: float, text: str) -> SpeechLine:
    return SpeechLine(start, end, text)


def test_lines_go_to_the_moments_they_are_said_in() -> None:
    spans = [(0.0, 5.0), (5.0, 10.0), (10.0, 15.0)]
    across = _line(4.0, 6.5, "said across the cut")
    tail = _line(9.9, 12.0, "a syllable before the cut")  # 0.1 s in the second moment: not said there
    short = _line(7.0, 7.2, "yes")
    lines = [tail, _line(1.0, 2.0, "hello"), across, short]

    moments = speech_by_moment(spans, lines)

    assert [m.text for m in moments] == [
        "hello said across the cut",
        "said across the cut yes",
        "a syllable before the cut",
    ]
    assert moments[1].lines[0] is across  # lines keep their own times
    assert [(m.start, m.end) for m in moments] == spans


def test_a_line_between_moments_goes_to_the_nearest_and_far_lines_are_dropped() -> None:
    spans = [(10.0, 20.0), (0.0, 4.0)]  # any order: results follow the spans' order
    moments = speech_by_moment(spans, [_line(4.5, 5.0, "in the gap"), _line(30.0, 31.0, "long after")])
    assert [m.text for m in moments] == ["", "in the gap"]


def test_every_line_near_a_moment_is_kept() -> None:
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.uniform(0, 100, 20))
    edges = [0.0, *cuts.tolist(), 100.0]
    spans = [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]
    starts = rng.uniform(0, 99, 200)
    lines = [_line(s, s + rng.uniform(0, 4), f"line {i}") for i, s in enumerate(starts)]

    moments = speech_by_moment(spans, lines)

    kept = {line.text for m in moments for line in m.lines}
    assert kept == {line.text for line in lines}
    for m in moments:
        assert [x.start for x in m.lines] == sorted(x.start for x in m.lines)
        for x in m.lines:
            assert min(m.end, x.end) - max(m.start, x.start) > 0 or x.start == x.end


# -------------------------------------------------------------------------------- transcription (slow)


@pytest.fixture(scope="module")
def transcriber():
    from vidsearch.speech.transcribe import Transcriber

    return Transcriber(threads=2)


def _said_at(transcript: Transcript, phrase: str) -> float | None:
    """When ``phrase`` starts in the transcript: the first of its words, else its line."""
    words = [w for line in transcript.lines for w in line.words]
    first = phrase.split()[0]
    for i, word in enumerate(words):
        joined = " ".join(_plain(w.text) for w in words[i : i + len(phrase.split())])
        if joined == phrase and _plain(word.text) == first:
            return word.start
    for line in transcript.lines:
        if phrase in _plain(line.text):
            return line.start
    return None


@pytest.fixture
def windows_of(monkeypatch: pytest.MonkeyPatch):
    """Sets the seconds of sound the transcriber reads, and gathers speech over, at once (ten minutes
    by default: short windows make a short test file behave like a long one)."""
    from vidsearch.speech import transcribe

    return lambda seconds: monkeypatch.setattr(transcribe, "WINDOW_SECONDS", seconds)


@contextlib.contextmanager
def _whisper_passes():
    """Counts the 30-s listens of Whisper's encoder (one per pass over the audio) while it is open."""
    from faster_whisper import WhisperModel

    passes: list[int] = []
    encode = WhisperModel.encode

    def counted(self, features):
        passes.append(1)
        return encode(self, features)

    WhisperModel.encode = counted  # type: ignore[method-assign]
    try:
        yield passes
    finally:
        WhisperModel.encode = encode  # type: ignore[method-assign]


def _plain(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


@pytest.mark.slow
@needs_espeak
def test_transcription_finds_happy_birthday_when_it_was_said(tmp_path: Path, transcriber) -> None:
    video = write_talking_video(
        tmp_path / "party.mp4",
        16,
        said=[(1.0, "Welcome to the garden party."), (9.0, "Happy birthday, grandpa!")],
    )

    transcript = transcriber.transcribe(video)

    assert transcript.source == "speech" and transcript.origin == "tiny.en" and transcript.language == "en"
    when = _said_at(transcript, "happy birthday")
    assert when is not None, transcript
    assert abs(when - 9.0) <= 2.0
    assert _said_at(transcript, "garden party") is not None
    # the two sentences are heard as two lines, each at its own time, though VAD joined them
    starts = [line.start for line in transcript.lines if "birthday" in _plain(line.text)]
    assert len(starts) == 1 and abs(starts[0] - 9.0) <= 2.0, transcript
    assert all(line.end - line.start < 5 for line in transcript.lines)
    # voice-activity detection passed on the speech, not the whole 16 s
    assert 2.0 < transcript.speech_seconds < 12.0
    assert transcript.audio_seconds == pytest.approx(16.0, abs=0.2)


@pytest.mark.slow
@needs_espeak
def test_silence_room_noise_and_music_give_no_text(tmp_path: Path, transcriber) -> None:
    quiet = write_talking_video(tmp_path / "quiet.mp4", 12, sound=np.zeros(12 * 22050, np.float32))
    room = write_talking_video(
        tmp_path / "room.mkv", 12, sound=np.random.default_rng(0).normal(0, 0.003, 12 * 22050).astype(np.float32)
    )
    music = write_talking_video(tmp_path / "music.mp4", 12, sound=tune(12))
    for video in (quiet, room, music):
        with _whisper_passes() as passes:
            transcript = transcriber.transcribe(video)
        assert transcript.lines == (), (video, transcript)
        assert transcript.speech_seconds < 1.5  # voice-activity detection let (almost) nothing through
        if video != music:  # (a note of the tune may sound like a voice to it)
            assert passes == [], video  # nothing for Whisper to listen to: it never ran


@pytest.mark.slow
@needs_espeak
def test_speech_across_a_window_boundary_keeps_its_time(tmp_path: Path, transcriber, windows_of) -> None:
    # windows of 12 s: "happy birthday" at 20 s is in the second window, timed from the file's start
    windows_of(12.0)
    video = write_talking_video(
        tmp_path / "long.mkv", 30, said=[(2.0, "Good morning everyone."), (20.0, "Happy birthday, grandpa!")]
    )
    progress: list[float] = []

    transcript = transcriber.transcribe(video, progress=progress.append)

    when = _said_at(transcript, "happy birthday")  # the time of the word "happy"
    assert when is not None and abs(when - 20.0) <= 2.0, transcript
    words = [w for line in transcript.lines for w in line.words]
    assert words and all(isinstance(w, Word) for w in words)
    assert all(line.start - 0.5 <= w.start <= w.end <= line.end + 0.5 for line in transcript.lines for w in line.words)
    assert len(progress) >= 3 and progress == sorted(progress)


@pytest.mark.slow
@needs_espeak
def test_sentences_minutes_apart_are_two_lines_at_their_times_and_share_whisper(
    tmp_path: Path, transcriber, windows_of
) -> None:
    # windows of a minute: each sentence in a window of its own, with room noise in between
    windows_of(60.0)
    said = [(5.0, "Good morning everyone."), (125.0, "Happy birthday, grandpa!")]
    video = write_talking_video(tmp_path / "garden.mkv", 150, sound=soundtrack(150, said, noise=0.003), fps=1)

    with _whisper_passes() as passes:
        transcript = transcriber.transcribe(video)

    assert len(transcript.lines) == 2, transcript
    morning, birthday = transcript.lines
    assert "morning" in _plain(morning.text) and abs(morning.start - 5.0) <= 2.0, transcript
    assert "birthday" in _plain(birthday.text) and abs(birthday.start - 125.0) <= 2.0, transcript
    assert all(line.end - line.start < 5 for line in transcript.lines)
    # two sentences in three windows are one 30-s listen, not one per window that has speech
    assert len(passes) == 1


@pytest.mark.slow
@needs_espeak
def test_talk_longer_than_a_window_is_heard_whole_and_in_time(tmp_path: Path, transcriber, windows_of) -> None:
    # windows of 8 s against speech all the way through: Whisper hears it a window at a time
    windows_of(8.0)
    said = [(1.0, "Good morning everyone."), (9.0, "Blow out the candles."), (17.0, "Happy birthday, grandpa!"),
            (25.0, "Thank you all for coming.")]  # fmt: skip
    video = write_talking_video(tmp_path / "talk.mkv", 30, said=said)

    with _whisper_passes() as passes:
        transcript = transcriber.transcribe(video)

    for (when, _), word in zip(said, ("morning", "candles", "birthday", "coming"), strict=True):
        heard = _said_at(transcript, word)
        assert heard is not None and abs(heard - when) <= 2.0, (word, transcript)
    assert len(passes) >= 2  # never more than a window of speech held at once
    assert [line.start for line in transcript.lines] == sorted(line.start for line in transcript.lines)


@pytest.mark.slow
@needs_espeak
def test_a_transcription_stopped_midway_stops_reading_the_file(tmp_path: Path, transcriber, windows_of) -> None:
    windows_of(4.0)
    video = write_talking_video(tmp_path / "long.mkv", 30, said=[(2.0, "Good morning everyone.")])

    class Stopped(Exception):
        pass

    def stop(done: float) -> None:
        raise Stopped  # what a cancelled indexing run does from its progress callback

    with pytest.raises(Stopped):
        transcriber.transcribe(video, progress=stop)
    assert not [t for t in threading.enumerate() if t.name == "vidsearch-audio"]


@pytest.mark.slow
@needs_espeak
def test_subtitles_are_preferred_to_transcription(tmp_path: Path, transcriber) -> None:
    video = write_talking_video(tmp_path / "party.mkv", 8, said=[(1.0, "Happy birthday, grandpa!")])
    (tmp_path / "party.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nCheers to grandpa\n")

    from_subtitles = read_speech(video, transcriber)
    (tmp_path / "party.srt").unlink()
    from_speech = read_speech(video, transcriber)

    assert from_subtitles is not None and from_subtitles.source == "sidecar"
    assert _texts(from_subtitles) == ["Cheers to grandpa"]
    assert from_speech is not None and from_speech.source == "speech"
    assert _said_at(from_speech, "happy birthday") is not None


@pytest.mark.slow
def test_no_audio_through_read_speech_is_typed(tmp_path: Path, transcriber) -> None:
    with pytest.raises(NoAudioError):
        read_speech(_video(tmp_path / "timelapse.mp4"), transcriber)


@pytest.mark.slow
def test_a_model_from_the_hub_cache_loads_through_the_same_code(tmp_path: Path, monkeypatch) -> None:
    from vidsearch.speech.transcribe import Transcriber

    folder = bundled_model_folder()
    assert folder is not None
    cache = tmp_path / "hub"
    _hub_cache_with(folder, cache, "someone/whisper-ct2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    loaded = Transcriber("someone/whisper-ct2", threads=1)

    assert loaded.name == "someone/whisper-ct2" and not loaded.multilingual
    with pytest.raises(UsageError, match="English only"):
        Transcriber("someone/whisper-ct2", language="de", threads=1)
