"""The per-moment visual budget (vidsearch.embed.budget) on generated videos, and its use by Qwen3-VL."""

from __future__ import annotations

import numpy as np
import pytest
import videogen as vg

from vidsearch import decode
from vidsearch.embed.budget import Budget, choose_budget, measure
from vidsearch.segment import segment_frames
from vidsearch.types import Frame, Segment

SIZE = (160, 96)
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 0)]


def moments_of(path) -> list[Segment]:
    info = decode.probe(path)
    return segment_frames(decode.iter_frames(path, 0.5, 256, info), info.duration)


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict[str, Segment]:
    """One 4-second moment of each kind of content, decoded with PyAV like indexing does."""
    folder = tmp_path_factory.mktemp("budget-videos")
    kinds = {
        "static": [vg.Scene(vg.solid((40, 120, 60)), 4)],
        "moving": [vg.Scene(vg.moving_square((0, 0, 0), (255, 0, 0), 0.3), 4)],
        "text": [vg.Scene(vg.title_card("MEETING NOTES"), 4)],
        "busy": [vg.Scene(vg.noise(1), 4)],
        "cuts": [vg.Scene(vg.solid(c), 0.5) for c in COLOURS * 2],
    }
    out = {}
    for name, scenes in kinds.items():
        moments = moments_of(vg.write_video(folder / f"{name}.mp4", scenes, size=SIZE, fps=10))
        assert len(moments) == 1, (name, moments)  # 4 s is one moment; rapid cuts merge into one
        out[name] = moments[0]
    return out


def test_static_costs_less_than_moving_less_than_text_less_than_busy(library):
    budgets = {name: choose_budget(moment, 8, 256) for name, moment in library.items()}
    assert budgets["static"] == Budget(2, 128, budgets["static"].reason)
    assert budgets["moving"].frames == 4 and budgets["moving"].side < 256
    assert budgets["text"].frames == 2 and budgets["text"].side == 256  # text needs pixels, not frames
    assert budgets["busy"] == Budget(8, 256, budgets["busy"].reason)
    assert budgets["cuts"].frames == 8
    order = [budgets[k].pixels for k in ("static", "moving", "text", "busy")]
    assert order == sorted(order) and len(set(order)) == 4
    # a static shot costs a fraction of a busy one
    assert budgets["static"].pixels * 10 < budgets["busy"].pixels


def test_reasons_name_the_deciding_signal(library):
    reasons = {name: choose_budget(moment).reason for name, moment in library.items()}
    assert reasons["static"].startswith("static")
    assert reasons["moving"].startswith("some motion")
    assert "text" in reasons["text"]
    assert reasons["busy"].startswith("busy")
    assert reasons["cuts"].startswith("shot changes")
    for reason in reasons.values():
        assert "motion" in reason and "detail" in reason  # the measured numbers are shown


def test_budget_never_exceeds_the_full_budget_and_frame_counts_are_even(library):
    for moment in library.values():
        for frames, side in ((8, 256), (6, 448), (2, 64)):
            budget = choose_budget(moment, frames, side)
            assert 2 <= budget.frames <= frames and budget.frames % 2 == 0
            assert budget.side <= side


def test_bigger_source_video_decides_the_same(tmp_path):
    # decode scales frames to 256; a 640x360 noise video is still busy, a still one still static
    big = (640, 360)
    busy = moments_of(vg.write_video(tmp_path / "b.mp4", [vg.Scene(vg.noise(2), 4)], size=big))[0]
    still = moments_of(vg.write_video(tmp_path / "s.mp4", [vg.Scene(vg.solid((9, 9, 9)), 4)], size=big))[0]
    assert choose_budget(busy).frames == 8
    assert choose_budget(still).frames == 2


def test_signals_of_few_frames_are_safe():
    image = np.zeros((48, 64, 3), np.uint8)
    assert measure(()).motion == 0.0
    one = Segment(0.0, 1.0, (Frame(0.0, image),))
    assert choose_budget(one).frames == 2
    resized = Segment(0.0, 1.0, (Frame(0.0, image), Frame(0.5, np.zeros((32, 32, 3), np.uint8))))
    assert measure(resized.frames).cuts == 1


def test_qwen_embedder_spends_per_moment_and_groups_equal_budgets(tiny_qwen_dir, library, monkeypatch):
    pytest.importorskip("transformers")
    from vidsearch.embed import qwen3vl

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    adaptive = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", frame_side=64)
    fixed = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", frame_side=64, adaptive=False)
    try:
        names = ["static", "busy", "static", "moving", "text"]
        moments = [library[n] for n in names]
        vectors, costs = adaptive.embed_moments(moments)
        assert [b.frames for b in adaptive.last_budgets] == [2, 8, 2, 4, 2]
        assert [c.frames for c in costs] == [2, 8, 2, 4, 2]
        tokens = {n: c.visual_tokens for n, c in zip(names, costs, strict=True)}
        assert tokens["static"] < tokens["moving"] < tokens["busy"]
        assert tokens["static"] < tokens["text"]
        # grouping by budget does not change what a moment embeds to
        for i, moment in enumerate(moments):
            alone, _ = adaptive.embed_moments([moment])
            np.testing.assert_allclose(vectors[i], alone[0], atol=1e-4)
        # the fixed budget spends the most on every moment; the model space (id) is the same
        _, full = fixed.embed_moments(moments)
        assert all(c.frames == 8 for c in full)
        assert sum(c.visual_tokens for c in costs) < sum(c.visual_tokens for c in full) / 2
        assert adaptive.model_id == fixed.model_id
    finally:
        adaptive.close()
        fixed.close()
