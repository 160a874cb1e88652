"""Subtitles as text with times: sidecar files beside a video and text streams inside it.

A sidecar belongs to ``movie.mp4`` when it is named ``movie.srt`` / ``movie.vtt`` (also ``.ass`` and
``.ssa``), optionally with tags between stem and extension: a language (``movie.en.srt``,
``movie.eng.srt``, ``movie.pt-BR.vtt``, ``movie.English.srt``) and flags (``forced``, ``sdh``, ``cc``,
``default``). Names are compared without regard to case. Streams are the text subtitle streams
inside mkv/mp4/mov files (mov_text, subrip, ass/ssa, webvtt, read through PyAV); picture-based
subtitles (DVD, Blu-ray PGS) carry no text and are passed over.

When a video has several, the one read is chosen in this order: not "forced" (forced subtitles only
translate the odd sign or foreign line), then in one of the preferred languages (the user's locale
first, then English), then untagged, then any other; sidecars before streams. A sidecar that cannot be
read is reported and the next candidate is tried.

SRT and WebVTT are parsed here, tolerantly: byte-order marks, CRLF, UTF-16, Windows-1252 files,
missing blank lines, HTML-ish tags (``<i>``, ``<font>``, ``<v Speaker>``), ASS override codes
(``{\\an8}``) and repeated lines of rolling captions.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from vidsearch.speech.errors import SpeechError, SubtitleError
from vidsearch.speech.types import SpeechLine, Transcript

SIDECAR_EXTENSIONS = (".srt", ".vtt", ".ass", ".ssa")

# Largest sidecar read; subtitle files of a feature film are well under a megabyte.
MAX_SIDECAR_BYTES = 20 * 1024 * 1024

# Common languages: ISO 639-1 code, the ISO 639-2 codes (bibliographic and terminological) and the
# English name, so ``en``, ``eng`` and ``English`` all mean the same language.
_LANGUAGES: dict[str, tuple[str, ...]] = {
    "ar": ("ara", "arabic"),
    "bg": ("bul", "bulgarian"),
    "cs": ("cze", "ces", "czech"),
    "da": ("dan", "danish"),
    "de": ("ger", "deu", "german", "deutsch"),
    "el": ("gre", "ell", "greek"),
    "en": ("eng", "english"),
    "es": ("spa", "spanish", "espanol"),
    "fa": ("per", "fas", "persian"),
    "fi": ("fin", "finnish"),
    "fr": ("fre", "fra", "french", "francais"),
    "he": ("heb", "hebrew"),
    "hi": ("hin", "hindi"),
    "hu": ("hun", "hungarian"),
    "id": ("ind", "indonesian"),
    "it": ("ita", "italian"),
    "ja": ("jpn", "japanese"),
    "ko": ("kor", "korean"),
    "nl": ("dut", "nld", "dutch"),
    "no": ("nor", "nob", "nb", "norwegian"),
    "pl": ("pol", "polish"),
    "pt": ("por", "portuguese"),
    "ro": ("rum", "ron", "romanian"),
    "ru": ("rus", "russian"),
    "sv": ("swe", "swedish"),
    "th": ("tha", "thai"),
    "tr": ("tur", "turkish"),
    "uk": ("ukr", "ukrainian"),
    "vi": ("vie", "vietnamese"),
    "zh": ("chi", "zho", "chinese"),
}
_LANGUAGE_OF = {alias: code for code, aliases in _LANGUAGES.items() for alias in (code, *aliases)}
_FLAGS = {"forced", "sdh", "cc", "hi", "default", "full", "normal"}
# "hi" is Hindi or "hearing impaired"; as the only tag it is read as the language, beside another as the flag.
_CODE = re.compile(r"([a-z]{2,3})(?:[-_][a-z0-9]{2,4})?")


def normalise_language(tag: str | None) -> str | None:
    """``"eng"``, ``"en-US"``, ``"English"`` -> ``"en"``; an unknown 2-3 letter code as itself; else None."""
    if not tag:
        return None
    tag = tag.strip().lower()
    if tag in _LANGUAGE_OF:
        return _LANGUAGE_OF[tag]
    match = _CODE.fullmatch(tag)
    if match is None or tag in ("und", "unk", "mul", "zxx", "mis"):
        return None
    return _LANGUAGE_OF.get(match.group(1), match.group(1))


def preferred_languages() -> tuple[str, ...]:
    """The user's languages from the locale variables (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), then English."""
    found: list[str] = []
    for variable in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        for part in os.environ.get(variable, "").split(":"):
            language = normalise_language(part.split(".")[0].split("@")[0]) if part not in ("C", "POSIX") else None
            if language and language not in found:
                found.append(language)
    if "en" not in found:
        found.append("en")
    return tuple(found)


@dataclass(frozen=True)
class Sidecar:
    """A subtitle file beside a video: its path, language (normalised, None when untagged) and flags."""

    path: str
    language: str | None
    forced: bool
    size: int
    mtime_ns: int


def _sidecar_tags(stem: str, name: str) -> tuple[str | None, bool] | None:
    """(language, forced) when ``name`` is a subtitle file of a video with ``stem``; else None."""
    lowered = name.lower()
    root, ext = os.path.splitext(lowered)
    if ext not in SIDECAR_EXTENSIONS:
        return None
    stem = stem.lower()
    if root == stem:
        return None, False
    if not root.startswith(stem + "."):
        return None
    tags = root[len(stem) + 1 :].split(".")
    language: str | None = None
    forced = False
    for tag in tags:
        if tag in _FLAGS and not (tag == "hi" and len(tags) == 1):
            forced = forced or tag == "forced"
            continue
        code = normalise_language(tag)
        if code is None or language is not None:
            return None  # "movie.part2.srt" belongs to "movie.part2.mp4", not to "movie.mp4"
        language = code
    return language, forced


def is_sidecar_of(video_name: str, name: str) -> bool:
    """Whether a subtitle file called ``name`` belongs to the video called ``video_name`` (same folder)."""
    return _sidecar_tags(Path(video_name).stem, name) is not None


def find_sidecars(
    video_path: str | os.PathLike[str],
    *,
    languages: Sequence[str] | None = None,
    names: Iterable[str] | None = None,
) -> list[Sidecar]:
    """The subtitle files beside ``video_path``, the one to read first first.

    ``names`` is the listing of the video's folder when the caller has it (indexing a folder lists
    it once, not once a video). ``languages`` are the preferred languages (default:
    ``preferred_languages()``).
    """
    video = Path(os.fsdecode(video_path))
    folder = video.parent
    if names is None:
        try:
            names = os.listdir(folder)
        except OSError:
            return []
    found: list[Sidecar] = []
    for name in names:
        tags = _sidecar_tags(video.stem, name)
        if tags is None:
            continue
        path = folder / name
        try:
            st = path.stat()
        except OSError:
            continue
        if not path.is_file():
            continue
        found.append(Sidecar(str(path), tags[0], tags[1], st.st_size, st.st_mtime_ns))
    order = tuple(languages) if languages is not None else preferred_languages()
    return sorted(found, key=lambda s: _rank(s.language, s.forced, order) + (_ext_rank(s.path), s.path))


def _rank(language: str | None, forced: bool, order: Sequence[str], default: bool = False) -> tuple[int, ...]:
    """Sort key of a candidate: not forced, preferred language (in order), untagged, others; default first."""
    if language in order:
        place = order.index(language)
    elif language is None:
        place = len(order)
    else:
        place = len(order) + 1
    return (int(forced), place, int(not default))


def _ext_rank(path: str) -> int:
    return SIDECAR_EXTENSIONS.index(os.path.splitext(path)[1].lower())


def sidecar_signature(video_path: str | os.PathLike[str], *, names: Iterable[str] | None = None) -> str:
    """A short text that changes when a subtitle file beside the video appears, changes or goes.

    Built from each sidecar's name, size and modification time (no file is read), so the indexer
    can keep it with the video and read the subtitles again, without touching the pictures, when it
    differs. Empty when the video has no sidecar.
    """
    sidecars = find_sidecars(video_path, languages=(), names=names)
    return ";".join(f"{os.path.basename(s.path)}:{s.size}:{s.mtime_ns}" for s in sorted(sidecars, key=lambda s: s.path))


# ---------------------------------------------------------------------------------------------- text


def _decode_text(data: bytes, path: str) -> str:
    """Subtitle bytes -> text: UTF-8/16/32 by byte-order mark, else UTF-8, UTF-16 or Windows-1252."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as e:
                raise SubtitleError(path, f"{os.path.basename(path)} is not valid {codec} text ({e.reason})") from e
    head = data[:4096]
    if head.count(b"\x00") > len(head) // 4:
        # UTF-16 without a mark: every other byte of ASCII text is zero.
        for codec in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                continue
            if "-->" in text or "[Events]" in text:
                return text
        raise SubtitleError(path, f"{os.path.basename(path)} is not a text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        # Older subtitle files are often Windows-1252; of its 256 byte values only 5 are undefined.
        return data.decode("cp1252")
    except UnicodeDecodeError as e:
        raise SubtitleError(path, f"{os.path.basename(path)} is neither UTF-8 nor Windows-1252 text") from e


_TIME = r"(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?"
_TIMING = re.compile(rf"^\s*{_TIME}\s*-->\s*{_TIME}")
_TAG = re.compile(r"<[^>]*>")
_ASS_CODE = re.compile(r"\{[^}]*\}")
_SPACE = re.compile(r"\s+")


def _seconds(hours: str | None, minutes: str, seconds: str, fraction: str | None) -> float:
    value = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
    if fraction:
        value += int(fraction) / 10 ** len(fraction)
    return float(value)


def clean_cue_text(text: str) -> str:
    """Markup out, entities decoded, whitespace collapsed: what a viewer reads, as one line."""
    text = text.replace("\\N", " ").replace("\\n", " ").replace("\\h", " ")
    text = _ASS_CODE.sub("", _TAG.sub("", text))
    return _SPACE.sub(" ", html.unescape(text)).strip()


def parse_timed_text(text: str) -> list[SpeechLine]:
    """Cues of SRT or WebVTT text, in time order, with markup removed.

    Tolerant: a cue is any timing line (``00:01:02,500 --> 00:01:04,000``, hours optional, comma or
    dot) followed by its text up to a blank line; numbering, WebVTT headers, NOTE and STYLE blocks,
    cue settings and malformed blocks are passed over. Lines repeated from the cue before (rolling
    captions) are dropped, and cues left empty by that are skipped.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    cues: list[tuple[float, float, list[str]]] = []
    current: list[str] | None = None
    closed = True
    for raw in text.split("\n"):
        match = _TIMING.match(raw)
        if match:
            if current is not None and current and current[-1].strip().isdigit():
                current.pop()  # the next cue's number, where the blank line before it is missing
            g = match.groups()
            start, end = _seconds(*g[:4]), _seconds(*g[4:])
            current = []
            cues.append((start, max(start, end), current))
            closed = False
            continue
        if current is None or closed:
            continue
        if not raw.strip():
            closed = True
            continue
        current.append(raw)
    lines: list[SpeechLine] = []
    previous: list[str] = []
    for start, end, rows in sorted(cues, key=lambda c: c[0]):
        cleaned = [clean_cue_text(row) for row in rows]
        kept = [row for row in cleaned if row and row not in previous]
        previous = [row for row in cleaned if row]
        if kept:
            lines.append(SpeechLine(start=start, end=end, text=" ".join(kept)))
    return _merge_repeats(lines)


def _merge_repeats(lines: list[SpeechLine]) -> list[SpeechLine]:
    """Join consecutive cues with the same text that touch (one line split across cues)."""
    merged: list[SpeechLine] = []
    for line in lines:
        if merged and merged[-1].text == line.text and line.start <= merged[-1].end + 0.05:
            merged[-1] = replace(merged[-1], end=max(merged[-1].end, line.end))
        else:
            merged.append(line)
    return merged


# ------------------------------------------------------------------------------------------- reading


def read_sidecar(sidecar: Sidecar | str | os.PathLike[str]) -> Transcript:
    """The cues of one subtitle file as a ``Transcript`` (source ``"sidecar"``, origin its path).

    Raises ``SubtitleError`` for a file that cannot be read, is not text, or holds no cue.
    """
    if not isinstance(sidecar, Sidecar):
        sidecar = Sidecar(os.fsdecode(sidecar), None, False, 0, 0)
    path = sidecar.path
    name = os.path.basename(path)
    if _ext_rank(path) >= SIDECAR_EXTENSIONS.index(".ass"):
        lines, _ = _read_ass_file(path)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_SIDECAR_BYTES + 1)
        except OSError as e:
            raise SubtitleError(path, f"cannot read {name}: {e.strerror or e}") from e
        if len(data) > MAX_SIDECAR_BYTES:
            raise SubtitleError(path, f"{name} is larger than {MAX_SIDECAR_BYTES // 2**20} MiB: not a subtitle file")
        if not data.strip():
            raise SubtitleError(path, f"{name} is empty")
        lines = parse_timed_text(_decode_text(data, path))
    if not lines:
        raise SubtitleError(path, f"{name} holds no subtitle cues (not SRT or WebVTT?)")
    return Transcript(lines=tuple(lines), source="sidecar", origin=path, language=sidecar.language)


def _read_ass_file(path: str) -> tuple[list[SpeechLine], str | None]:
    """An .ass/.ssa file through FFmpeg's demuxer (its format is FFmpeg's business, not ours)."""
    from vidsearch.speech.audio import open_media

    try:
        container = open_media(path)
    except SpeechError as e:
        raise SubtitleError(path, f"{os.path.basename(path)} is not a readable subtitle file ({e})") from e
    with container:
        if not container.streams.subtitles:
            raise SubtitleError(path, f"{os.path.basename(path)} is not a subtitle file")
        return _read_stream_lines(container, container.streams.subtitles[0], path, origin=0.0)


@dataclass(frozen=True)
class SubtitleStream:
    """A text subtitle stream inside a video."""

    index: int
    codec: str
    language: str | None
    forced: bool
    default: bool

    @property
    def origin(self) -> str:
        return f"stream {self.index}" + (f" ({self.language})" if self.language else "")


def subtitle_streams(
    video_path: str | os.PathLike[str], *, languages: Sequence[str] | None = None
) -> list[SubtitleStream]:
    """The text subtitle streams of a video, the one to read first first (header only, no decoding)."""
    import av

    from vidsearch.speech.audio import open_media

    path = os.fsdecode(video_path)
    order = tuple(languages) if languages is not None else preferred_languages()
    found: list[SubtitleStream] = []
    with open_media(path) as container:
        for stream in container.streams.subtitles:
            codec = stream.codec
            if codec is None or not codec.text_sub:
                continue  # picture subtitles (DVD, PGS) or a codec this FFmpeg does not know
            flags = stream.disposition
            found.append(
                SubtitleStream(
                    index=stream.index,
                    codec=codec.name,
                    language=normalise_language(stream.metadata.get("language")),
                    forced=bool(flags & av.stream.Disposition.forced),
                    default=bool(flags & av.stream.Disposition.default),
                )
            )
    return sorted(found, key=lambda s: _rank(s.language, s.forced, order, s.default) + (s.index,))


def read_stream(video_path: str | os.PathLike[str], stream: SubtitleStream | int) -> Transcript:
    """The cues of one text subtitle stream, timed on the video's clock (source ``"stream"``).

    Demuxes the file's subtitle packets (the pictures are not decoded). Raises ``SubtitleError`` when
    the stream is missing, not text, or more than ``audio.DECODE_FAILURE_BUDGET`` packets in a row fail.
    """
    from vidsearch.speech.audio import clock_origin, open_media

    path = os.fsdecode(video_path)
    index = stream.index if isinstance(stream, SubtitleStream) else stream
    with open_media(path) as container:
        matching = [s for s in container.streams.subtitles if s.index == index]
        if not matching:
            raise SubtitleError(path, f"the file has no subtitle stream {index}")
        av_stream = matching[0]
        lines, language = _read_stream_lines(container, av_stream, path, origin=clock_origin(container, av_stream))
    info = stream if isinstance(stream, SubtitleStream) else None
    origin = info.origin if info else f"stream {index}"
    return Transcript(
        lines=tuple(lines),
        source="stream",
        origin=origin,
        language=info.language if info else language,
    )


def _read_stream_lines(container, stream, path: str, *, origin: float) -> tuple[list[SpeechLine], str | None]:
    from vidsearch.speech.audio import BudgetedDecoder

    if stream.codec is None or not stream.codec.text_sub:
        raise SubtitleError(path, f"subtitle stream {stream.index} holds pictures, not text")
    tb = stream.time_base
    cues: list[tuple[float, float | None, str]] = []

    def give_up(failures: int, error: Exception) -> Exception:
        return SubtitleError(path, f"{failures} subtitle packets in a row failed to decode (last: {error})")

    for packet, rects in BudgetedDecoder(container, stream, give_up):
        text = " ".join(t for t in (_rect_text(r) for r in rects) if t)
        if not text or packet.pts is None:
            continue
        start = float(packet.pts * tb) - origin
        end = start + float(packet.duration * tb) if packet.duration else None
        cues.append((start, end, text))
    cues.sort(key=lambda c: c[0])
    lines = []
    for i, (start, end, text) in enumerate(cues):
        if end is None:  # no duration: shown until the next cue, at most a few seconds
            following = cues[i + 1][0] if i + 1 < len(cues) else start + 3.0
            end = min(following, start + 5.0)
        lines.append(SpeechLine(start=max(0.0, start), end=max(0.0, start, end), text=text))
    return _merge_repeats(lines), normalise_language(stream.metadata.get("language"))


def _rect_text(rect) -> str:
    """The words of one decoded text subtitle (FFmpeg hands text subtitles over as ASS events)."""
    ass = bytes(getattr(rect, "ass", b"") or b"").decode("utf-8", "replace")
    if not ass:
        return clean_cue_text(bytes(getattr(rect, "text", b"") or b"").decode("utf-8", "replace"))
    # FFmpeg's events are "ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text" (the text
    # after the eighth comma); before FFmpeg 3 they were whole "Dialogue:" lines with nine fields.
    fields = 9 if ass.startswith("Dialogue:") else 8
    parts = ass.split(",", fields)
    return clean_cue_text(parts[-1]) if len(parts) > fields else ""


def read_subtitles(
    video_path: str | os.PathLike[str],
    *,
    languages: Sequence[str] | None = None,
    names: Iterable[str] | None = None,
) -> Transcript | None:
    """The video's subtitles: the best sidecar, else the best text stream; None when it has none.

    A candidate that cannot be read is passed over and its reason kept in ``Transcript.warnings``;
    an empty stream is passed over silently (some cameras and editors write one). Raises
    ``SubtitleError`` when every candidate failed, with each reason.
    """
    path = os.fsdecode(video_path)
    problems: list[str] = []
    for sidecar in find_sidecars(path, languages=languages, names=names):
        try:
            return replace(read_sidecar(sidecar), warnings=tuple(problems))
        except SubtitleError as e:
            problems.append(e.reason)
    try:
        streams = subtitle_streams(path, languages=languages)
    except SpeechError as e:  # the video itself does not open: the picture stage reports that
        if problems:
            raise SubtitleError(path, "; ".join(problems)) from e
        return None
    for stream in streams:
        try:
            transcript = read_stream(path, stream)
        except SubtitleError as e:
            problems.append(f"{stream.origin}: {e.reason}")
            continue
        if transcript.lines:
            return replace(transcript, warnings=tuple(problems))
    if problems:
        raise SubtitleError(path, "; ".join(problems))
    return None
