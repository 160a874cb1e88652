"""Option aliases shared by the commands (one definition, same help everywhere), and the shell
completion callbacks for option values.

Completion runs on every TAB, so the callbacks import nothing heavy: model names come from the
registry's table, roots from the index read with APSW (only when the index file exists).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """``--model`` candidates: auto, the known models and their aliases, with what each is."""
    from vidsearch.models import KNOWN_MODELS

    names = [("auto", "the GPU model when usable here, else lite")]
    for spec in KNOWN_MODELS:
        names.append((spec.name, spec.kind))
        names += [(alias, spec.name) for alias in spec.aliases]
    return [(n, h) for n, h in names if n.lower().startswith(incomplete.lower())]


def complete_format(incomplete: str) -> list[tuple[str, str]]:
    """``find --format`` candidates with a short description of each."""
    from vidsearch.output.present import FORMAT_DESCRIPTIONS

    return [(f, h) for f, h in FORMAT_DESCRIPTIONS.items() if f.startswith(incomplete)]


def _index_path(ctx: typer.Context) -> Path:
    from vidsearch.config import db_path  # light: no numpy, no store

    return db_path(ctx.params.get("db"))


def library_roots(index: Path) -> list[str]:
    """The library roots recorded in the index file at ``index`` ([] when it is missing or unreadable)."""
    if not index.is_file():
        return []
    import apsw

    try:
        conn = apsw.Connection(str(index), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            rows = conn.execute("SELECT path FROM roots ORDER BY path").fetchall()
        finally:
            conn.close()
    except apsw.Error:
        return []  # no index yet, another schema, locked: complete files instead
    return [os.fsdecode(bytes(p)) if isinstance(p, (bytes, memoryview)) else str(p) for (p,) in rows]


def complete_root(ctx: typer.Context, incomplete: str) -> list[str]:
    """Library roots starting with what was typed (``~`` understood); none means the shell lists
    files and folders itself (the completion scripts fall back to path completion)."""
    typed = os.path.expanduser(incomplete)
    home = os.path.expanduser("~")
    out = []
    for root in library_roots(_index_path(ctx)):
        if root.startswith(typed):
            if incomplete.startswith("~") and root.startswith(home):
                root = "~" + root[len(home) :]
            out.append(root)
    return out


DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="VIDSEARCH_DB",
        help="Index file to use [default: index.db in the user data folder].",
        show_default=False,
        dir_okay=False,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model: auto, lite, qwen3-vl-2b, qwen3-vl-8b, a Hugging Face id or a local folder. "
        "A new index uses auto; an existing one keeps the model it was built with.",
        show_default=False,
        autocompletion=complete_model,
    ),
]
DeviceOption = Annotated[
    str,
    typer.Option("--device", help="Where the model runs: auto (CUDA, then MPS, then CPU), cuda, mps, cpu."),
]
PrecisionOption = Annotated[
    str,
    typer.Option(
        "--precision",
        help="Model precision: auto, bf16, fp16, fp32, int8, int4. auto: bf16 on CUDA (int8/int4 with "
        "bitsandbytes when the GPU is short of memory), fp16 on MPS, bf16 on CPUs with AMX/AVX512-BF16, "
        "else int8 weights. int8 on a CPU with AMX int8: the language model in oneDNN int8 (less memory, "
        "a little faster).",
    ),
]
# find and play: which files to search and what to leave out
WithinOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--in",
        help="Only search files at or under this path (repeatable).",
        show_default=False,
        autocompletion=complete_root,
    ),
]
ExcludeOption = Annotated[
    list[str] | None,
    typer.Option("--not", help="Leave out moments showing this (repeatable).", show_default=False),
]
# find and play: when, where and with what the videos were filmed
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Only videos filmed on or after this day: YYYY, YYYY-MM, YYYY-MM-DD or words ('last summer'). "
        "Dates come from the file's tags, else its name, else its modification time.",
        show_default=False,
        metavar="DATE",
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="Only videos filmed on or before this day (2021 means to the end of 2021).",
        show_default=False,
        metavar="DATE",
    ),
]
NearOption = Annotated[
    str | None,
    typer.Option(
        "--near",
        help="Only videos filmed near a place: a city ('lisbon', 'paris, texas'), a region or country "
        "('portugal'), or LAT,LON. Places come from the position phones write into their videos.",
        show_default=False,
        metavar="PLACE",
    ),
]
RadiusOption = Annotated[
    float | None,
    typer.Option(
        "--radius",
        help="Kilometres around --near [default: by the city's size, 10 km round a town or a LAT,LON].",
        show_default=False,
        metavar="KM",
    ),
]
CameraOption = Annotated[
    str | None,
    typer.Option(
        "--camera",
        help="Only videos from a camera whose make or model holds this text ('gopro', 'iphone 13').",
        show_default=False,
        metavar="TEXT",
    ),
]
SortOption = Annotated[
    str,
    typer.Option(
        "--sort",
        help="Order of the hits shown: score (best first), date (as they were filmed), path. "
        "Which hits are shown is decided by score.",
        autocompletion=lambda incomplete: [s for s in ("score", "date", "path") if s.startswith(incomplete)],
    ),
]
# index and watch: what is said in the videos
NoSpeechOption = Annotated[
    bool,
    typer.Option(
        "--no-speech",
        help="Do not transcribe speech (subtitle files and streams are still read). Videos indexed this way "
        "get their speech transcribed by a later run without it.",
    ),
]
SpeechModelOption = Annotated[
    str | None,
    typer.Option(
        "--speech-model",
        help="Speech model: tiny.en (the default, installed with vidsearch: English only), another "
        "faster-whisper size (base, small, large-v3, ...: any language, downloaded once), a Hub id of a "
        "CTranslate2 Whisper model, or a local folder holding one. Videos another model transcribed are "
        "transcribed again, their pictures kept; subtitles still come first.",
        show_default=False,
    ),
]
