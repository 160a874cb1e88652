"""The reference's video preprocessing (vidsearch.embed.qwen_frames), checked against the rule worked
out by hand, not against the code under test.

The rule (qwen-vl-utils ``fetch_video`` -> ``smart_resize``, with Qwen3-VL-Embedding's settings):
factor f = 32 (patch 16 x merge 2); per frame at least 128 * 32^2 = 131,072 pixels and at most
768 * 32^2 = 786,432 (a video of n frames: at most 7,864,320 / n * 2, never below 1.05 x 131,072 =
137,625). First round each side to the nearest multiple of 32; if that grid holds more than the
maximum, b = sqrt(h*w / max) and each side becomes floor(side / b / 32) * 32; if fewer than the
minimum, b = sqrt(min / (h*w)) and each side becomes ceil(side * b / 32) * 32.
"""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.embed import qwen_frames

# (height, width) of a source frame -> the grid the reference gives it in a video of 8 frames
# (7,864,320 / 8 * 2 = 1,966,080 > 786,432, so the per-frame maximum is 786,432).
REFERENCE_GRIDS = [
    # 256x256: 256*256 = 65,536 < 131,072 -> b = sqrt(131072/65536) = 1.41421;
    # 256*1.41421 = 362.04 -> /32 = 11.31 -> ceil 12 -> 384 (both sides)
    ((256, 256), (384, 384)),
    # 1920 wide x 1080 high: rounded 1088x1920 = 2,088,960 > 786,432 -> b = sqrt(1080*1920/786432)
    # = sqrt(2.63672) = 1.62380; 1080/1.62380 = 665.1 -> /32 = 20.78 -> 20 -> 640;
    # 1920/1.62380 = 1182.4 -> /32 = 36.95 -> 36 -> 1152
    ((1080, 1920), (640, 1152)),
    # 1080 wide x 1920 high: the same with the sides swapped
    ((1920, 1080), (1152, 640)),
    # 3000 wide x 200 high: 200/32 = 6.25 -> 6 -> 192; 3000/32 = 93.75 -> 94 -> 3008;
    # 192*3008 = 577,536, between the limits -> kept
    ((200, 3000), (192, 3008)),
    # 100x100: 100/32 = 3.125 -> 96; 96*96 = 9,216 < 131,072 -> b = sqrt(131072/10000) = 3.62039;
    # 100*3.62039 = 362.04 -> /32 = 11.31 -> ceil 12 -> 384
    ((100, 100), (384, 384)),
    # 4000 wide x 3000 high: rounded 3008x4000 > 786,432 -> b = sqrt(12,000,000/786,432) = 3.90625;
    # 3000/3.90625 = 768.0 -> /32 = 24 -> 768; 4000/3.90625 = 1024.0 -> /32 = 32 -> 1024
    ((3000, 4000), (768, 1024)),
]


@pytest.mark.parametrize(("source", "grid"), REFERENCE_GRIDS)
def test_default_frame_grid_is_the_references(source, grid):
    assert qwen_frames.frame_grid(*source, frames=8) == grid


def test_grid_is_within_the_trained_token_range_and_on_the_32_pixel_grid():
    for (h, w), _ in REFERENCE_GRIDS:
        gh, gw = qwen_frames.frame_grid(h, w, 8)
        assert gh % 32 == 0 and gw % 32 == 0
        assert 128 <= (gh // 32) * (gw // 32) <= 768


def test_many_frames_share_the_total_pixels():
    # 64 frames: at most 7,864,320 / 64 * 2 = 245,760 pixels per frame. 1920x1080: b = sqrt(2,073,600 /
    # 245,760) = 2.90474; 1080/2.90474 = 371.8 -> /32 = 11.62 -> 11 -> 352; 1920/2.90474 = 661.0 ->
    # /32 = 20.66 -> 20 -> 640
    assert qwen_frames.frame_grid(1080, 1920, 64) == (352, 640)


def test_a_test_model_with_smaller_patches_keeps_the_token_counts():
    # factor 16 (patch 8): minimum 128 * 16^2 = 32,768 pixels; 64x64 = 4,096 -> b = sqrt(8) = 2.82843;
    # 64 * 2.82843 = 181.02 -> /16 = 11.31 -> ceil 12 -> 192
    assert qwen_frames.frame_grid(64, 64, 8, factor=16) == (192, 192)


@pytest.mark.parametrize(
    ("duration", "available", "frames"),
    [
        (10.0, 20, 10),  # 1 per second
        (2.0, 4, 4),  # at least 4
        (5.0, 10, 4),  # 5 rounded down to even
        (7.0, 14, 6),
        (10.0, 5, 4),  # no more than there are (5), rounded down to even
        (100.0, 200, 64),  # at most 64
        (0.5, 1, 2),  # a single frame is repeated into a pair
    ],
)
def test_frame_count_follows_one_per_second_between_4_and_64(duration, available, frames):
    assert qwen_frames.frame_count(duration, available) == frames


def test_resampling_is_bicubic_with_antialiasing():
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (90, 160, 3), dtype=np.uint8)
    out = qwen_frames.resize_bicubic([frame], (64, 96))
    chw = torch.from_numpy(frame).permute(2, 0, 1)[None].float()
    expected = F.interpolate(chw, size=(64, 96), mode="bicubic", antialias=True, align_corners=False)
    expected = expected.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    bilinear = F.interpolate(chw, size=(64, 96), mode="bilinear", antialias=True, align_corners=False)
    bilinear = bilinear.round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()
    assert out.shape == (1, 64, 96, 3) and out.dtype == np.uint8
    assert np.abs(out[0].astype(int) - expected.astype(int)).max() <= 1  # rounding of the last bit only
    assert np.abs(out[0].astype(int) - bilinear.astype(int)).max() > 1  # and it is not bilinear
