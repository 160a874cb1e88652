"""The per-moment visual budget (vidsearch.embed.budget) on generated videos, and its use by Qwen3-VL."""

from __future__ import annotations

import numpy as np
import pytest
import videogen as vg

from vidsearch.embed.budget import DEFAULT_POLICY, Budget, Policy, choose_budget, escalate, measure, visual_drift
from vidsearch.media import decode
from vidsearch.media.segment import segment_frames
from vidsearch.types import Frame, Segment

SIZE = (160, 96)
COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (250, 250, 0)]


def dissolve(seconds: float) -> vg.Painter:
    """One picture dissolving into another: neighbouring frames barely differ, first and last do."""
    rng = np.random.default_rng(1)
    first = rng.integers(100, 160, (6, 10, 3), dtype=np.uint8).repeat(16, 0).repeat(16, 1)
    last = rng.integers(100, 160, (3, 5, 3), dtype=np.uint8).repeat(32, 0).repeat(32, 1)

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        mix = min(1.0, t / seconds)
        return (first[:h, :w] * (1 - mix) + last[:h, :w] * mix).astype(np.uint8)

    return paint


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
        "dissolve": [vg.Scene(dissolve(4), 4)],
    }
    out = {}
    for name, scenes in kinds.items():
        moments = moments_of(vg.write_video(folder / f"{name}.mp4", scenes, size=SIZE, fps=10))
        assert len(moments) == 1, (name, moments)  # 4 s is one moment; rapid cuts merge into one
        out[name] = moments[0]
    return out


@pytest.mark.slow
def test_static_costs_less_than_moving_less_than_text_less_than_busy(library):
    budgets = {name: choose_budget(moment, 8, 256) for name, moment in library.items()}
    assert budgets["static"] == Budget(2, 128, budgets["static"].reason)
    assert budgets["moving"].frames == 4 and budgets["moving"].side < 256
    assert budgets["text"].frames == 2 and budgets["text"].side == 256  # text needs pixels, not frames
    assert budgets["busy"] == Budget(8, 256, budgets["busy"].reason)
    assert budgets["cuts"].frames == 8
    pixels = {k: b.frames * b.side * b.side for k, b in budgets.items()}
    order = [pixels[k] for k in ("static", "moving", "text", "busy")]
    assert order == sorted(order) and len(set(order)) == 4
    # a static shot costs a fraction of a busy one
    assert pixels["static"] * 10 < pixels["busy"]


@pytest.mark.slow
def test_without_a_side_the_budget_keeps_the_reference_size_and_saves_frames(library):
    budgets = {name: choose_budget(moment, 8, None) for name, moment in library.items()}
    assert {b.side for b in budgets.values()} == {None}
    assert [budgets[k].frames for k in ("static", "moving", "text", "busy", "cuts")] == [2, 4, 2, 8, 8]


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


@pytest.mark.slow
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


@pytest.mark.slow
def test_qwen_embedder_spends_per_moment_and_groups_equal_budgets(tiny_qwen_dir, library, monkeypatch):
    pytest.importorskip("transformers")
    from vidsearch.embed import qwen3vl

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # the fast setting: frame sizes as well as frame counts per moment
    adaptive = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", budget="fast", frame_side=64)
    fixed = qwen3vl.load(
        str(tiny_qwen_dir), device="cpu", precision="fp32", budget="fast", frame_side=64, adaptive=False
    )
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


def test_a_slow_dissolve_gets_frame_pairs_though_neighbouring_frames_barely_differ(library):
    signals = measure(library["dissolve"].frames)
    assert signals.cuts == 0 and signals.changed < DEFAULT_POLICY.moving_changed
    assert signals.motion < DEFAULT_POLICY.moving_motion  # frame to frame it looks still ...
    assert signals.span >= DEFAULT_POLICY.moving_span  # ... but it ends somewhere else
    budget = choose_budget(library["dissolve"], 8, 256)
    assert (budget.frames, budget.side) == (4, 160) and budget.reason.startswith("slow change")
    assert measure(library["static"].frames).span < 0.001  # compression noise only


def test_visual_drift_measures_what_later_frames_add():
    a, b = np.eye(2)
    assert visual_drift(np.ones((4, 8))) == pytest.approx(0.0, abs=1e-12)
    assert visual_drift(np.ones((1, 8))) is None  # one frame pair: nothing to compare
    assert visual_drift(np.zeros((2, 8))) == 0.0
    assert visual_drift(np.stack([a, b])) == pytest.approx(1 - 2**-0.5)
    # the later the content changes, the less the whole moment moves away from its first half ...
    assert visual_drift(np.stack([a, a, a, b])) < visual_drift(np.stack([a, a, b, b]))
    # ... and content that alternates (a mouth opening and closing) has settled by the first half
    assert visual_drift(np.stack([a, b, a, b])) == pytest.approx(0.0, abs=1e-12)


def test_only_cheap_budgets_that_did_not_settle_escalate():
    full = Budget(8, 256, "full budget")
    cheap = Budget(4, 160, "some motion (motion 0.020)")
    assert escalate(cheap, None, full) is None
    assert escalate(cheap, 0.009, full) is None
    higher = escalate(cheap, 0.02, full)
    assert higher is not None and (higher.frames, higher.side) == (8, 256)
    assert higher.reason.startswith("some motion (motion 0.020); visual drift 0.020 >= 0.01 at 4x160")
    assert escalate(Budget(8, 256, "busy"), 0.5, full) is None  # already the full budget
    assert escalate(cheap, 0.5, full, Policy(settle_drift=None)) is None  # the check switched off
    assert escalate(cheap, 0.02, full, Policy(settle_drift=0.05)) is None


@pytest.mark.slow
def test_qwen_embeds_again_where_the_visual_features_kept_moving(tiny_qwen_dir, library, monkeypatch):
    pytest.importorskip("transformers")
    from vidsearch.embed import qwen3vl

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    options = {"device": "cpu", "precision": "fp32", "frame_side": 64, "budget": "fast"}
    adaptive = qwen3vl.load(str(tiny_qwen_dir), **options)
    fixed = qwen3vl.load(str(tiny_qwen_dir), adaptive=False, **options)
    never = qwen3vl.load(str(tiny_qwen_dir), policy=Policy(settle_drift=None), **options)
    try:
        names = ["dissolve", "moving", "static"]
        vectors, costs = adaptive.embed_moments([library[n] for n in names])
        # the dissolve and the moving square both start at 4 frames in one forward pass; only the
        # dissolve's features move from its first half to the whole
        assert [c.frames for c in costs] == [8, 4, 2]
        assert costs[0].budget.startswith("slow change")
        assert costs[0].budget.endswith("at 4x40: embedded again at the full budget")
        moved = float(costs[0].budget.split("visual drift ")[1].split()[0])
        still = float(costs[1].budget.split("visual drift ")[1])
        assert moved >= 0.01 * 2 and still <= 0.01 / 2  # far from the threshold either way
        assert "visual drift" not in costs[2].budget  # one frame pair: nothing to compare
        assert [b.reason for b in adaptive.last_budgets] == [c.budget for c in costs]
        # a check that embeds stored moments again (models --check-exit) gives each its indexing budget
        assert (adaptive.budget_for(library["dissolve"], costs[0].budget).frames, adaptive.budget_for(
            library["dissolve"]).frames) == (8, 4)
        # the moment embedded again is what the full budget gives it
        full, full_costs = fixed.embed_moments([library["dissolve"]])
        np.testing.assert_allclose(vectors[0], full[0], atol=1e-4)
        assert costs[0].visual_tokens == full_costs[0].visual_tokens
        # the drift read from a shared pass is the one read alone (the tower's output is split right)
        _, alone = adaptive.embed_moments([library["moving"]])
        assert alone[0].budget == costs[1].budget
        # drift is read per frame pair in time order: pairs (A, B) then (A, B) show the same thing,
        # while (A, A) then (B, B) changes half-way
        a, b = library["static"].frames[0].image, library["busy"].frames[0].image
        pictures = {"ABAB": (a, b, a, b), "AABB": (a, a, b, b)}
        _, paired = adaptive.embed_moments(
            [Segment(0.0, 4.0, tuple(Frame(float(t), im) for t, im in enumerate(ims))) for ims in pictures.values()]
        )
        assert [c.frames for c in paired] == [4, 4]
        assert paired[0].budget.endswith("visual drift 0.000")
        assert float(paired[1].budget.split("visual drift ")[1]) >= 0.01
        # with the check switched off the dissolve keeps its cheap budget
        _, off = never.embed_moments([library["dissolve"]])
        assert off[0].frames == 4 and off[0].budget.endswith(f"visual drift {moved:.3f}")
    finally:
        for embedder in (adaptive, fixed, never):
            embedder.close()
