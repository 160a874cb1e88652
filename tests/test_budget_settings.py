"""Budget settings of the multimodal embedder: faithful by default (never below the frame size the
model was trained on), fast as a stored, shown opt-in, and `models --check-budget` measuring it.

Run on the tiny random Qwen3-VL (patch 8, so a merged token is 16 x 16 pixels and the reference's
per-frame minimum of 128 tokens is 32,768 pixels).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from videogen import Scene, image, moving_square, noise, solid, write_video

from vidsearch.embed.budget import FAITHFUL, FAST, BudgetSetting
from vidsearch.embed.qwen_frames import MIN_TOKENS
from vidsearch.errors import UsageError
from vidsearch.types import Frame, Segment

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from vidsearch.embed import qwen3vl  # noqa: E402

MERGED = 16  # pixels per merged token side in the tiny model (patch 8 x merge 2)


@pytest.fixture(scope="module")
def embedder(tiny_qwen_dir):
    emb = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32")
    yield emb
    emb.close()


def still(seed: int, seconds: float = 4.0, size=(48, 64), noise_level: int = 0) -> Segment:
    """A moment of one still picture (small frames, below the minimum before resizing)."""
    rng = np.random.default_rng(seed)
    picture = rng.integers(0, 256, (size[0] // 8, size[1] // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    frames = []
    for i in range(int(seconds * 2)):
        jitter = rng.integers(-noise_level, noise_level + 1, picture.shape) if noise_level else 0
        frames.append(Frame(i * 0.5, np.clip(picture.astype(int) + jitter, 0, 255).astype(np.uint8)))
    return Segment(0.0, seconds, tuple(frames))


def busy(seed: int, seconds: float = 4.0, size=(48, 64)) -> Segment:
    rng = np.random.default_rng(seed)
    frames = tuple(Frame(i * 0.5, rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for i in range(int(seconds * 2)))
    return Segment(0.0, seconds, frames)


def tokens_per_frame_pair(cost) -> float:
    return cost.visual_tokens / (cost.frames // 2)


@pytest.mark.slow
def test_faithful_budgets_never_go_below_the_minimum_and_fast_does(embedder):
    moments = [still(1), busy(2), still(3, seconds=2.0), busy(4, seconds=10.0, size=(32, 40))]
    _, faithful = embedder.embed_moments(moments)
    _, fast = embedder.embed_moments(moments, FAST)
    assert all(c.setting == "faithful" for c in faithful) and all(c.setting == "fast" for c in fast)
    # every frame pair at least 128 merged tokens (the reference's minimum), whatever the budget decided
    assert min(tokens_per_frame_pair(c) for c in faithful) >= MIN_TOKENS
    # the budget still saves: the still moment gets fewer frames than the busy one of the same length
    assert faithful[0].frames < faithful[1].frames
    # fast goes below the minimum for every moment here
    assert max(tokens_per_frame_pair(c) for c in fast) < MIN_TOKENS
    # the busy 10 s moment gets the reference's frame count: 1 per second
    assert faithful[3].frames == 10


@pytest.mark.slow
def test_frames_of_the_reference_size_reach_the_model(embedder):
    # 48x64 frames, tiny model (factor 16): 48*64 = 3,072 < 32,768 -> b = sqrt(32768/3072) = 3.26599;
    # 48*3.26599 = 156.8 -> /16 = 9.8 -> ceil 10 -> 160; 64*3.26599 = 209.0 -> /16 = 13.06 -> 14 -> 224
    pixels, metadata = embedder._clip(busy(5))
    assert pixels.shape[1:3] == (160, 224)
    # real frame times, relative to the moment's first frame
    assert list(metadata.frames_indices) == [0, 1000, 2500, 3500]  # 4 of 8 frames 0.5 s apart: 0, 2, 5, 7


@pytest.mark.slow
def test_a_still_moment_showing_the_same_picture_shares_the_earlier_vector(embedder):
    first, again, other = still(7), still(7, noise_level=2), still(8)
    again = Segment(4.0, 8.0, tuple(Frame(f.time + 4.0, f.image) for f in again.frames))
    vectors, costs = embedder.embed_moments([first, again, other])
    assert np.array_equal(vectors[0], vectors[1]) and not np.allclose(vectors[1], vectors[2])
    assert costs[1].visual_tokens == 0 and costs[1].frames == 0
    assert costs[1].budget.startswith("same picture as 0.0-4.0 s")
    assert costs[2].visual_tokens > 0
    no_sharing = BudgetSetting("faithful", share=False)
    _, unshared = embedder.embed_moments([first, again], no_sharing)
    assert unshared[1].visual_tokens > 0


@pytest.mark.slow
def test_unknown_budget_setting_lists_the_choices(tiny_qwen_dir):
    with pytest.raises(UsageError, match="faithful .*fast"):
        qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", budget="cheap")


@pytest.mark.slow
def test_check_budget_agrees_with_itself_and_not_with_an_absurd_budget(embedder, indexed, tiny_qwen_dir):
    from vidsearch.embed.agreement import check_budget
    from vidsearch.store import Store

    queries = ["a red square", "white text", "noise"]
    with Store.open(indexed, create=False) as store:
        same = check_budget(store, str(tiny_qwen_dir), "full", queries, embedder=embedder)
        absurd_setting = BudgetSetting("absurd", adaptive=False, side=32, frames=2, share=False)
        absurd = check_budget(store, str(tiny_qwen_dir), absurd_setting, queries, embedder=embedder)
        moments = store.info().moments
    assert same.moments == moments and same.queries == 3
    assert same.moment_cosine_min > 0.99999 and same.top10_overlap == 1.0
    assert same.candidate_tokens == same.reference_tokens
    assert absurd.moment_cosine_mean < 0.99 and absurd.candidate == "absurd" and absurd.reference == "full"
    assert absurd.candidate_tokens < absurd.reference_tokens


@pytest.mark.slow
def test_models_check_budget_command_reports_fast_against_the_reference(indexed):
    from typer.testing import CliRunner

    from vidsearch.cli import app

    args = ["models", "--check-budget", "fast", "--db", str(indexed), "-q", "a dog", "-q", "text", "--json"]
    result = CliRunner().invoke(app, args, env={"HF_HUB_OFFLINE": "1"})
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["candidate"] == "fast" and report["reference"] == "full" and report["queries"] == 2
    assert -1.0 <= report["moment_cosine_min"] <= report["moment_cosine_mean"] < 0.9999
    assert report["candidate_tokens"] < report["reference_tokens"]
    text = CliRunner().invoke(app, ["models", "--check-budget", "fast", "--db", str(indexed)])
    assert text.exit_code == 0 and "fast against full" in text.stdout and "visual tokens per moment" in text.stdout
    bad = CliRunner().invoke(app, ["models", "--check-budget", "cheap", "--db", str(indexed)])
    assert bad.exit_code != 0 and "unknown budget 'cheap'" in str(bad.exception)


# -- the setting through the command line: stored per moment, shown by find --json and status -----


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    folder = tmp_path_factory.mktemp("budget-library")
    gradient = np.tile(np.linspace(30, 200, 96, dtype=np.uint8)[None, :, None], (64, 1, 3))
    write_video(folder / "still.mp4", [Scene(image(gradient), 4)], fps=8, size=(96, 64))
    write_video(folder / "square.mp4", [Scene(moving_square((0, 0, 0), (255, 0, 0), 0.3), 4)], fps=8, size=(96, 64))
    write_video(folder / "noise.mp4", [Scene(noise(4), 3), Scene(solid((0, 90, 0)), 2)], fps=8, size=(96, 64))
    return folder


@pytest.fixture(scope="module")
def indexed(library, tiny_qwen_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("budget-index") / "index.db"
    run("index", str(library), "--db", str(db), "--model", str(tiny_qwen_dir), "--device", "cpu", "--precision", "fp32")
    return db


def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=600)  # fmt: skip
    assert (out.returncode == 0) == ok, (out.stdout, out.stderr)
    return out


@pytest.mark.slow
def test_default_index_is_faithful_and_fast_is_stored_and_shown(indexed, library, tiny_qwen_dir, tmp_path):
    found = run("find", "a red square", "--json", "--db", str(indexed)).stdout
    hits = [json.loads(line) for line in found.splitlines()]
    assert hits and {h["cost"]["setting"] for h in hits} == {"faithful"}
    status = json.loads(run("status", "--json", "--db", str(indexed)).stdout)
    assert status["budget_settings"] == {"faithful": status["moments"]}
    assert "below the model's minimum" not in run("status", "--db", str(indexed)).stdout

    fast_db = str(tmp_path / "fast.db")
    run("index", str(library), "--db", fast_db, "--model", str(tiny_qwen_dir), "--device", "cpu", "--precision",
        "fp32", "--budget", "fast")  # fmt: skip
    fast_found = run("find", "a red square", "--json", "--db", fast_db).stdout
    fast_hits = [json.loads(line) for line in fast_found.splitlines()]
    assert {h["cost"]["setting"] for h in fast_hits} == {"fast"}
    faithful_tokens = {Path(h["path"]).name: h["cost"]["visual_tokens"] for h in hits}
    assert all(h["cost"]["visual_tokens"] < faithful_tokens[Path(h["path"]).name] for h in fast_hits)
    fast_status = json.loads(run("status", "--json", "--db", fast_db).stdout)
    assert fast_status["budget_settings"] == {"fast": fast_status["moments"]}
    text = run("status", "--db", fast_db).stdout
    assert f"settings: fast {fast_status['moments']} (frames below the model's minimum size)" in text


@pytest.mark.slow
def test_fast_budget_is_refused_for_the_lite_model(library, tmp_path):
    out = run("index", str(library), "--db", str(tmp_path / "l.db"), "--model", "lite", "--budget", "fast", ok=False)
    assert "--budget fast applies to multimodal models" in out.stderr


def test_settings_differ_only_where_they_say():
    assert not FAITHFUL.below_minimum and FAST.below_minimum
    assert FAITHFUL.side is None and FAST.side == 256
