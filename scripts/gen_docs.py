#!/usr/bin/env python3
"""Regenerate the files that describe the CLI, from the CLI itself (typer's Click command tree).

    scripts/gen_docs.py           write completions/, man/ and README.md's usage section
    scripts/gen_docs.py --check   write nothing; exit 1 and name each stale file

Outputs: completions/vidsearch.bash, completions/_vidsearch (zsh), completions/vidsearch.fish;
man/vidsearch.1 and man/vidsearch-COMMAND.1 for each command; the `--help` of every command
between ``<!-- usage:start -->`` and ``<!-- usage:end -->`` in README.md. Nothing here depends on
the date, the terminal or the machine, so a regenerated file differs only when the CLI changed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROG = "vidsearch"
WIDTH = 100  # columns of the --help text in README.md
USAGE_START, USAGE_END = "<!-- usage:start -->", "<!-- usage:end -->"
COMPLETION_FILES = {"bash": "vidsearch.bash", "zsh": "_vidsearch", "fish": "vidsearch.fish"}

EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "": [
        ("vidsearch index ~/Videos", "Index a folder (again later: only what changed)."),
        ('vidsearch find "a dog jumping into a lake"', "The best moments, as a table."),
        ('vidsearch play "birthday cake"', "Play the best moments in mpv or VLC."),
    ],
    "index": [
        ("vidsearch index ~/Videos /media/usb/Camera", "Add two roots and index them."),
        ("vidsearch index", "Re-check every root already registered."),
        ("vidsearch index --model lite --rebuild", "Re-index everything with another model."),
        ("vidsearch index ~/Videos --no-speech", "Pictures and subtitle files only; no transcription."),
        ("vidsearch index --speech-model small", "Transcribe with a larger, multilingual Whisper."),
    ],
    "find": [
        ('vidsearch find "fireworks over a river" -n 5', "The five best moments."),
        ('vidsearch find "whiteboard" --json | jq -r .path | sort -u', "Files with a whiteboard, via jq."),
        ('vidsearch find "goal celebration" -f edl > goals.edl && mpv goals.edl',
         "Play exactly the found moments in mpv."),
        ('vidsearch find "sunset" -f m3u > sunset.m3u && vlc sunset.m3u', "The same with VLC."),
        ('vidsearch find "cat" -0 | xargs -0 ls -l', "Each matching file once, NUL-separated."),
        ('vidsearch find "snow, not skiing" --in ~/Videos/2024', "Clauses, negation, one folder."),
        ('vidsearch find "kids opening presents" -f html > hits.html', "A contact sheet of thumbnails."),
        ('vidsearch find "kids at the beach last summer"', "Time words in the query filter by date."),
        ("vidsearch find --near lisbon --since 2023 --sort date", "Every video filmed in Lisbon since 2023."),
        ('vidsearch find "someone says happy birthday"', "What was said, with the line in a column."),
        ('vidsearch find --said "the train leaves at seven"', "In speech and subtitles only."),
    ],
    "play": [
        ('vidsearch play "a dog on a beach"', "Play the moments in $VIDSEARCH_PLAYER, mpv or VLC."),
        ("VIDSEARCH_PLAYER='mpv --fs' vidsearch play -n 3 \"first steps\"", "Full screen, three moments."),
    ],
    "clip": [
        ("vidsearch clip 'trip.mp4@1:20-1:35' -o lisbon.mp4", "Cut 1:20 to 1:35 without re-encoding."),
        ('vidsearch find "toast" | head -1 | vidsearch clip - -o toast.mp4 --reencode',
         "Cut the best hit, frame-accurate."),
    ],
    "ui": [
        ("vidsearch ui", "Search in a web page on this machine; it opens in the browser."),
        ("vidsearch ui --no-browser --port 8765", "Print the page's address (with its token) only."),
    ],
    "status": [("vidsearch status --json | jq .moments", "How many moments the index holds.")],
    "roots": [
        ("vidsearch roots", "The roots, online or not, with their videos and moments."),
        ("vidsearch roots remove /media/old-drive --yes", "Forget a drive for good, and its moments."),
    ],
    "models": [("vidsearch models --device cpu", "Which models work on this machine's CPU.")],
}

ENVIRONMENT = [
    ("VIDSEARCH_DB", "The index file to use, as --db (which wins when both are given)."),
    ("VIDSEARCH_PLAYER", "The player for play and find --play: a command line; mpv and vlc are recognised by "
     "name and given the moments' times, any other command gets {path}, {start} and {end} replaced "
     "(or the files appended)."),
    ("VIDSEARCH_DEBUG", "Set to 1 to see Python tracebacks instead of one-line error messages."),
    ("NO_COLOR", "When set, output has no colour. Output is plain whenever stdout is not a terminal."),
    ("HF_HOME", "Where Hugging Face models are cached (the multimodal models' weights, speech models other "
     "than the bundled one)."),
    ("HF_HUB_OFFLINE", "Set to 1 to never contact the Hugging Face Hub; models must then be in the cache."),
]
EXIT_STATUS = [
    ("0", "Success; for find and play, something matched."),
    ("1", "Nothing matched (as grep)."),
    ("2", "A usage or input error: bad option, missing file, empty query, no video player found."),
    ("3", "Another failure (no video could be indexed, a player or encoder that failed)."),
    ("4", "A model's weights are neither on disk nor reachable."),
    ("5", "Another process is writing the index."),
    ("6", "The index's storage failed: the disk is full, the media read-only, the path not a file."),
    ("7", "The index file is damaged; index --rebuild keeps it aside and starts a new one."),
    ("70", "An unexpected internal error (a bug); VIDSEARCH_DEBUG=1 shows the traceback."),
    ("130", "Interrupted (Ctrl-C); the index stays consistent and the next run resumes."),
]
FILES = [
    ("~/.local/share/vidsearch/index.db",
     "The index on Linux ($XDG_DATA_HOME/vidsearch/index.db when set); "
     "~/Library/Application Support/vidsearch/index.db on macOS; %LOCALAPPDATA%\\vidsearch\\index.db on "
     "Windows. SQLite with WAL files beside it."),
]


# ---- the CLI as Click sees it --------------------------------------------------------------------
def cli() -> Any:
    """The Click group typer builds from vidsearch's app (what the shell and --help really see)."""
    import typer.main

    from vidsearch.cli import app

    return typer.main.get_command(app)


def _invoke(args: list[str]) -> str:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    result = CliRunner().invoke(app, args, prog_name=PROG, terminal_width=WIDTH, env={"COLUMNS": str(WIDTH)})
    if result.exit_code != 0:
        raise SystemExit(f"gen_docs: vidsearch {' '.join(args)} failed: {result.output}")
    return result.output


def completion_scripts() -> dict[Path, str]:
    """Each shell's completion script: what ``vidsearch --show-completion`` prints in that shell
    (and ``--install-completion`` installs), made by the same typer function."""
    from typer.completion import get_completion_script

    var = f"_{PROG.upper()}_COMPLETE"  # the variable Click derives from the program name
    return {
        ROOT / "completions" / name: get_completion_script(prog_name=PROG, complete_var=var, shell=shell)
        + "\n"
        for shell, name in COMPLETION_FILES.items()
    }


def usage_text() -> str:
    """The README's usage section: ``vidsearch --help`` and each command's ``--help``."""
    parts = []
    for name in ["", *cli().commands]:
        args = [name, "--help"] if name else ["--help"]
        parts.append(f"### `vidsearch {' '.join(args)}`\n\n```text\n{_invoke(args).rstrip()}\n```\n")
    return "\n".join(parts)


def readme_with_usage(readme: str) -> str:
    """README.md with the text between the usage markers regenerated (section added at the end if absent)."""
    block = f"{USAGE_START}\n{usage_text()}{USAGE_END}"
    if USAGE_START in readme and USAGE_END in readme:
        head, rest = readme.split(USAGE_START, 1)
        return head + block + rest.split(USAGE_END, 1)[1]
    intro = "## Usage\n\nGenerated by `scripts/gen_docs.py` from the CLI itself.\n\n"
    return readme.rstrip("\n") + "\n\n" + intro + block + "\n"


# ---- man pages -----------------------------------------------------------------------------------
def _roff(text: str) -> str:
    """Text safe in a roff paragraph: backslashes, hyphens of options, leading dots and quotes."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line[:1] in (".", "'") else line for line in text.split("\n"))


def _paragraphs(text: str) -> str:
    paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n.PP\n".join(_roff(p) for p in paras)


def _tagged(items: list[tuple[str, str]], bold: bool = True) -> str:
    out = []
    for tag, body in items:
        out += [".TP", f"\\fB{_roff(tag)}\\fR" if bold else _roff(tag), _roff(body)]
    return "\n".join(out)


def _options(command: Any, ctx: Any) -> list[str]:
    """ARGUMENTS and OPTIONS sections, with the help text --help shows."""
    sections: dict[str, list[tuple[str, str]]] = {"ARGUMENTS": [], "OPTIONS": []}
    for param in command.params:
        record = None if getattr(param, "hidden", False) else param.get_help_record(ctx)
        if record:
            kind = "ARGUMENTS" if param.param_type_name == "argument" else "OPTIONS"
            sections[kind].append((record[0], record[1] or ""))
    return [line for title, items in sections.items() if items for line in (f".SH {title}", _tagged(items))]


def _header(title: str, summary: str) -> list[str]:
    from vidsearch import __version__

    return [
        f'.TH {title.upper()} 1 "" "vidsearch {__version__}" "User Commands"',
        ".SH NAME",
        f"{_roff(title)} \\- {_roff(summary)}",
    ]


def _examples(key: str) -> list[str]:
    out = [".SH EXAMPLES"]
    for line, why in EXAMPLES.get(key, []):
        out += [".PP", _roff(why), ".PP", ".RS 4", ".nf", f"\\fB{_roff(line)}\\fR", ".fi", ".RE"]
    return out


def _command_page(group: Any, name: str) -> str:
    command = group.commands[name]
    root = group.make_context(PROG, [], resilient_parsing=True)
    ctx = command.make_context(name, [], parent=root, resilient_parsing=True)
    summary = command.get_short_help_str(limit=200).rstrip(".")
    lines = _header(f"{PROG}-{name}", summary)
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines += [".SH SYNOPSIS", f"\\fB{PROG} {name}\\fR {_roff(usage)}"]
    lines += [".SH DESCRIPTION", _paragraphs(command.help or "")]
    lines += _options(command, ctx)
    lines += _examples(name)
    lines += [".SH EXIT STATUS", _tagged(EXIT_STATUS[:3] + [("3-7, 70", "See vidsearch(1).")])]
    lines += [".SH SEE ALSO", f"\\fB{PROG}\\fR(1)"]
    return "\n".join(lines) + "\n"


def _main_page(group: Any) -> str:
    ctx = group.make_context(PROG, [], resilient_parsing=True)
    lines = _header(PROG, "search your videos by meaning, locally")
    lines += [".SH SYNOPSIS", f"\\fB{PROG}\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]..."]
    lines += [".SH DESCRIPTION", _paragraphs(
        (group.help or "") + "\n\nThe index is one SQLite file of moments (spans of a video with start and "
        "end times, in seconds) and their vectors. Results go to stdout, one per line when piped; progress, "
        "warnings and skipped files go to stderr."
    )]
    lines += [*_options(group, ctx), ".SH COMMANDS"]
    commands = [(name, cmd.get_short_help_str(limit=200)) for name, cmd in group.commands.items()]
    lines.append(_tagged([(f"{PROG} {n}", f"{h} See {PROG}-{n}(1).") for n, h in commands]))
    lines += _examples("")
    lines += [".SH ENVIRONMENT", _tagged(ENVIRONMENT), ".SH FILES", _tagged(FILES)]
    lines += [".SH EXIT STATUS", _tagged(EXIT_STATUS)]
    see = [f"\\fB{PROG}\\-{n}\\fR(1)" for n in group.commands] + ["\\fBmpv\\fR(1)", "\\fBvlc\\fR(1)"]
    lines += [".SH SEE ALSO", ", ".join(see)]
    return "\n".join(lines) + "\n"


def man_pages() -> dict[Path, str]:
    """vidsearch(1) and one page per command."""
    group = cli()
    pages = {ROOT / "man" / f"{PROG}.1": _main_page(group)}
    for name in group.commands:
        pages[ROOT / "man" / f"{PROG}-{name}.1"] = _command_page(group, name)
    return pages


# ---- all of it -----------------------------------------------------------------------------------
def generated() -> dict[Path, str]:
    """Every generated file and its expected content."""
    readme = ROOT / "README.md"
    files = {**completion_scripts(), **man_pages()}
    files[readme] = readme_with_usage(readme.read_text(encoding="utf-8"))
    return files


def stale(files: dict[Path, str] | None = None) -> list[Path]:
    """The generated files whose content on disk differs from what the CLI gives now."""
    files = generated() if files is None else files
    return [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]


def main(argv: list[str]) -> int:
    check = "--check" in argv
    files = generated()
    old = stale(files)
    if check:
        for path in old:
            print(f"stale: {path.relative_to(ROOT)} (run scripts/gen_docs.py)", file=sys.stderr)
        return 1 if old else 0
    for path in old:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path], encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
