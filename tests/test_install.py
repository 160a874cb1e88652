"""The documented install: the README's commands, what CI runs and what the package declares agree,
and each command works on a fresh machine as written (no system-wide pip, no missing folders)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The README's shell blocks before its Quick start: the set-up commands, one string each."""
    text = (ROOT / "README.md").read_text()
    head = text[: text.index("## Quick start")]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", head, flags=re.S)]


def pyproject() -> dict:  # type: ignore[type-arg]
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())  # type: ignore[no-any-return]


def test_first_command_needs_no_system_pip_and_puts_vidsearch_on_path() -> None:
    first = readme_commands()[0]
    # a system Python under PEP 668 refuses `pip install .`: the install goes into its own venv
    assert first.startswith("python3 -m venv ")
    assert not re.search(r"(^|&&\s*)pip3? install", first)
    assert "ln -sf" in first and 'PATH="$HOME/.local/bin:$PATH"' in first
    assert first.endswith("vidsearch index ~/Videos")


def test_ci_runs_exactly_the_readme_test_command_with_lint_and_types() -> None:
    test = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == test
    steps = [step.strip() for step in test.split("&&")]
    assert steps.index(".venv/bin/ruff check .") < steps.index(".venv/bin/mypy") < len(steps) - 1
    assert steps[-1].startswith(".venv/bin/python -m pytest")
    assert any(dep.startswith("mypy") for dep in pyproject()["project"]["optional-dependencies"]["test"])


def test_watch_is_part_of_the_default_install() -> None:
    project = pyproject()["project"]
    assert any(dep.startswith("watchdog") for dep in project["dependencies"])
    assert "watch" not in project.get("optional-dependencies", {})
    assert "[watch" not in (ROOT / "README.md").read_text()


def test_cpu_only_torch_is_shown_with_its_size() -> None:
    text = " ".join((ROOT / "README.md").read_text().split())
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in text
    assert "0.75 GiB installed" in text


def test_every_copy_into_the_home_folder_makes_its_folder_first() -> None:
    text = (ROOT / "README.md").read_text()
    lines = [ln for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S) for ln in block.splitlines()]
    copies = 0
    for i, line in enumerate(lines):
        for target in re.findall(r"\b(?:cp|ln -sf) \S+ (~/\S+)", line):
            folder = target if target.endswith("/") else target.rsplit("/", 1)[0] + "/"
            before = " ".join(lines[max(0, i - 1) : i + 1])
            assert f"mkdir -p {folder.rstrip('/')}" in before, line
            copies += 1
    assert copies >= 4  # completions (3), the systemd unit


@pytest.mark.skipif(sys.platform != "linux", reason="the unit file is for systemd")
def test_systemd_unit_runs_the_linked_command() -> None:
    unit = (ROOT / "contrib" / "systemd" / "vidsearch-watch.service").read_text()
    assert "ExecStart=%h/.local/bin/vidsearch watch" in unit
    assert "~/.local/bin/" in readme_commands()[0]
