"""The multimodal LLM path end to end on a tiny random Qwen3-VL: index through the CLI by folder
name, find, and a composed query that goes into the model as one video + text input.

Random weights say nothing about quality; these tests check the path a user's model takes works.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from videogen import Scene, moving_square, solid, write_video

pytest.importorskip("transformers", reason="the multimodal backend is not installed ('.[qwen]')")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)
    assert out.returncode == 0, (out.stdout, out.stderr)
    return out


@pytest.mark.slow
def test_index_and_find_with_a_local_qwen_folder(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "a.mp4", [Scene(solid((200, 30, 30)), 3), Scene(moving_square((0, 0, 0), (250, 250, 250)), 3)],
                fps=8, size=(96, 64))
    write_video(lib / "b.mp4", [Scene(solid((30, 30, 200)), 4)], fps=8, size=(96, 64))
    db = str(tmp_path / "q.db")
    out = run("index", str(lib), "--db", db, "--model", str(tiny_qwen_dir), "--device", "cpu", "--precision", "fp32")
    assert "indexed 2 new or changed" in out.stderr
    status = json.loads(run("status", "--json", "--db", db).stdout)
    assert status["model"] == str(tiny_qwen_dir) and status["moments"] >= 3
    # each moment's budget decision is kept: status counts them, find --json says why per moment
    assert sum(status["budgets"].values()) == status["moments"] and "static" in status["budgets"]
    assert "budgets:  static" in run("status", "--db", db).stdout
    hits = [json.loads(line) for line in run("find", "a red square", "--json", "--db", db).stdout.splitlines()]
    assert {Path(h["path"]).name for h in hits} == {"a.mp4", "b.mp4"}
    assert all(h["cost"]["frames"] >= 2 and h["cost"]["visual_tokens"] > 0 for h in hits)
    assert all("motion" in h["cost"]["budget"] and "span" in h["cost"]["budget"] for h in hits)
    composed = run("find", "--like", f"{lib / 'a.mp4'}@0:01", "but blue", "--json", "--db", db, "--explain")
    rows = [json.loads(line) for line in composed.stdout.splitlines()]
    assert rows and all(not (Path(r["path"]).name == "a.mp4" and r["start"] < 1 < r["end"]) for r in rows)
    assert "like the reference, blue" in json.dumps(rows[0]["explain"])  # one composed input, not a mix


@pytest.mark.slow
def test_exit_layer_is_recorded_and_fixed_for_the_index(tmp_path: Path, deep_qwen_dir: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "a.mp4", [Scene(solid((200, 30, 30)), 3)], fps=8, size=(96, 64))
    db = str(tmp_path / "q.db")
    run("index", str(lib), "--db", db, "--model", str(deep_qwen_dir), "--exit-layer", "4", "--device", "cpu",
        "--precision", "fp32")
    status = json.loads(run("status", "--json", "--db", db).stdout)
    assert status["model"] == f"{deep_qwen_dir}:exit4" and status["model_id"].endswith(":exit4")
    hit = json.loads(run("find", "red", "--json", "--db", db).stdout.splitlines()[0])
    assert hit["cost"]["exit_layer"] == 4


@pytest.mark.slow
def test_what_was_said_is_embedded_and_found_with_the_multimodal_model(tmp_path: Path, tiny_qwen_dir: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "a.mp4", [Scene(solid((200, 30, 30)), 4)], fps=8, size=(96, 64))
    write_video(lib / "b.mp4", [Scene(solid((30, 30, 200)), 4)], fps=8, size=(96, 64))
    (lib / "b.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nThe lighthouse keeper waves\n")
    db = str(tmp_path / "q.db")
    run("index", str(lib), "--db", db, "--model", str(tiny_qwen_dir), "--device", "cpu", "--precision", "fp32",
        "--no-speech")
    status = json.loads(run("status", "--json", "--db", db).stdout)
    assert status["speech"]["moments_with_speech"] >= 1 and status["speech"]["videos_with_subtitles"] == 1

    found = run("find", "--said", "lighthouse keeper", "--json", "--db", db).stdout
    hits = [json.loads(line) for line in found.splitlines()]

    assert [Path(h["path"]).name for h in hits] == ["b.mp4"]
    assert hits[0]["speech"]["text"] == "The lighthouse keeper waves"
    from vidsearch.store import Store

    with Store.open(Path(db), create=False) as store:  # the speech vectors are the model's, of its size
        said = store.text.speech_vectors([m for (m,) in store.db.execute("SELECT moment_id FROM moment_text")])
        assert said and all(v.shape == (store.dim,) for v in said.values())
