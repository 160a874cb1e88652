"""Test isolation: no test touches the real user's index, cache or Hugging Face cache."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # so tests can import videogen / tinymodel

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache folder for the whole run (the lite model caches its class vectors there)."""
    return tmp_path_factory.mktemp("xdg-cache")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_cache: Path) -> Path:
    """Point the user data folder and the index at a temp folder for every test."""
    data = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(data))
    monkeypatch.setenv("XDG_CACHE_HOME", str(shared_cache))
    monkeypatch.setenv("VIDSEARCH_DB", str(tmp_path / "index.db"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.delenv("VIDSEARCH_PLAYER", raising=False)
    monkeypatch.setenv("VIDSEARCH_NO_SERVICE", "1")  # a developer's running query service never answers tests
    return tmp_path


@pytest.fixture(scope="session")
def tiny_qwen_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-VL checkpoint folder (model + processor), built once per test session."""
    pytest.importorskip("transformers", reason="the multimodal backend is not installed ('.[qwen]')")
    from tinymodel import build_tiny_qwen3vl

    return build_tiny_qwen3vl(tmp_path_factory.mktemp("tiny-qwen3vl"))


@pytest.fixture(scope="session")
def deep_qwen_dir(tiny_qwen_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny checkpoint with 6 decoder layers (random, seeded), so there are layers to exit at.

    Its vision tower feeds layers 1 and 2 (deepstack), so exits 3-6 are possible.
    """
    import shutil

    import torch
    from transformers import AutoConfig, Qwen3VLForConditionalGeneration

    folder = tmp_path_factory.mktemp("deep-qwen3vl")
    shutil.copytree(tiny_qwen_dir, folder, dirs_exist_ok=True)
    config = AutoConfig.from_pretrained(folder)
    config.text_config.num_hidden_layers = 6
    if getattr(config.text_config, "layer_types", None):
        config.text_config.layer_types = [config.text_config.layer_types[0]] * 6
    torch.manual_seed(3)
    Qwen3VLForConditionalGeneration(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture
def running(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A query service answering on a private socket of its own for one test; its socket path."""
    from vidsearch import service

    folder = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp"))  # AF_UNIX paths must stay short
    sock = folder / "run" / "service.sock"
    monkeypatch.setenv(service.ENV_SOCKET, str(sock))
    monkeypatch.delenv("VIDSEARCH_NO_SERVICE", raising=False)  # turned off for every other test
    ready = threading.Event()
    thread = threading.Thread(target=service.serve, args=(sock, 30.0, ready.set), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield sock
    service.request({"op": "stop"}, sock, timeout=5)
    thread.join(10)
    assert not thread.is_alive()
