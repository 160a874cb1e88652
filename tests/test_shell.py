"""The shell side: generated docs are current, completion answers (through the real scripts), fast."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv's bin: holds the `vidsearch` entry point


def gen_docs():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_generated_files_are_current() -> None:
    docs = gen_docs()
    stale = docs.stale()
    assert not stale, f"stale: {[str(p.relative_to(ROOT)) for p in stale]}; run scripts/gen_docs.py"
    readme = (ROOT / "README.md").read_text()
    assert "<!-- usage:start -->" in readme and "vidsearch find --help" in readme


def test_man_pages_cover_every_command_option_and_the_environment() -> None:
    docs = gen_docs()
    group = docs.cli()
    main = (ROOT / "man" / "vidsearch.1").read_text()
    for word in (
        "VIDSEARCH_DB",
        "VIDSEARCH_PLAYER",
        "VIDSEARCH_DEBUG",
        "NO_COLOR",
        "HF_HOME",
        "HF_HUB_OFFLINE",
        ".SH EXIT STATUS",
        ".SH FILES",
        "index.db",
        ".SH EXAMPLES",
    ):
        assert word in main
    for name, command in group.commands.items():
        page = (ROOT / "man" / f"vidsearch-{name}.1").read_text()
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt.replace("-", "\\-") in page, (name, opt)
    if shutil.which("man") and shutil.which("groff"):
        shown = subprocess.run(
            ["man", "-l", str(ROOT / "man" / "vidsearch-find.1")],
            capture_output=True,
            text=True,
            env={**os.environ, "MANWIDTH": "100"},
        )
        assert "--print0" in shown.stdout and "EXIT STATUS" in shown.stdout


def bash_complete(*words: str) -> list[str]:
    """What bash offers for ``words`` (the last one being completed), through completions/vidsearch.bash."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    script = ROOT / "completions" / "vidsearch.bash"
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source '{script}'\n"
        f'COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMP_LINE="${{COMP_WORDS[*]}}"\n'
        "_vidsearch_completion vidsearch\n"
        "printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True, env=env, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line]


@pytest.mark.slow
def test_bash_completes_commands_options_formats_and_models() -> None:
    assert bash_complete("vidsearch", "fi") == ["find"]
    assert bash_complete("vidsearch", "find", "--fo") == ["--format"]
    assert set(bash_complete("vidsearch", "cl")) == {"clip"}
    assert bash_complete("vidsearch", "find", "--format", "") == [
        "table",
        "jsonl",
        "tsv",
        "paths",
        "m3u",
        "edl",
        "html",
    ]
    models = bash_complete("vidsearch", "find", "--model", "")
    assert {"auto", "lite", "qwen3-vl-2b", "Qwen/Qwen3-VL-Embedding-8B"} <= set(models)
    assert bash_complete("vidsearch", "play", "-m", "li") == ["lite"]


@pytest.mark.slow
def test_roots_are_completed_for_in_and_index(tmp_path: Path) -> None:
    from vidsearch.store import Store

    a, b = tmp_path / "Videos", tmp_path / "Camera"
    a.mkdir(), b.mkdir()
    with Store.open(None, create=True) as store:  # VIDSEARCH_DB points into tmp_path (conftest)
        store.add_root(a)
        store.add_root(b)
    assert bash_complete("vidsearch", "find", "--in", "") == [str(b), str(a)]
    assert bash_complete("vidsearch", "index", str(tmp_path / "V")) == [str(a)]
    # a path that is no root: nothing from vidsearch, so bash falls back to its file completion
    assert bash_complete("vidsearch", "find", "--in", "/nonexistent/x") == []


def test_root_completion_reads_the_index_the_store_uses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer.main

    from vidsearch.cli import app
    from vidsearch.cli.options import _index_path
    from vidsearch.config import db_path as default_db_path

    ctx = typer.main.get_command(app).make_context("vidsearch", [], resilient_parsing=True)
    assert _index_path(ctx) == default_db_path()
    monkeypatch.delenv("VIDSEARCH_DB")
    assert _index_path(ctx) == default_db_path()


@pytest.mark.slow
def test_zsh_and_fish_protocols_answer() -> None:
    env = {
        **os.environ,
        "_VIDSEARCH_COMPLETE": "complete_fish",
        "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        "_TYPER_COMPLETE_ARGS": "vidsearch find --format e",
    }
    fish = subprocess.run([str(BIN / "vidsearch")], capture_output=True, text=True, env=env)
    assert fish.stdout.splitlines() == ["edl\tmpv EDL: mpv plays exactly the found moments, in order"]
    env.update(_VIDSEARCH_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="vidsearch mo")
    zsh = subprocess.run([str(BIN / "vidsearch")], capture_output=True, text=True, env=env)
    assert '"models"' in zsh.stdout and zsh.stdout.startswith("_arguments")
    for name, shell in (("_vidsearch", "zsh"), ("vidsearch.fish", "fish")):
        assert "_VIDSEARCH_COMPLETE=complete_" + shell in (ROOT / "completions" / name).read_text()


@pytest.mark.slow
def test_completion_is_fast_and_imports_nothing_heavy() -> None:
    probe = (
        "import sys, vidsearch.cli; print(sorted(m for m in ('torch', 'av', 'numpy', 'transformers') "
        "if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert loaded.stdout.strip() == "[]"
    t0 = time.perf_counter()
    assert bash_complete("vidsearch", "find", "--model", "q")
    assert time.perf_counter() - t0 < 2.0  # typically ~0.2 s; torch alone would take several seconds
