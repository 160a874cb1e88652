"""The Qwen3-VL embedder, run on a tiny random-weight Qwen3-VL built offline (tests/tinymodel.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from tinymodel import build_tiny_qwen3vl, lowest_agreement

from vidsearch import hub
from vidsearch.embed.base import Embedder
from vidsearch.embed.budget import Budget
from vidsearch.errors import ModelError, ModelUnavailableError, UsageError
from vidsearch.types import Frame, Segment

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from vidsearch.embed import qwen3vl, qwen_load  # noqa: E402  (needs torch + transformers)

FRAME_SIDE = 32  # tiny model: 32x32 frames -> 2x2 merged patches -> 4 visual tokens per frame pair


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    # never reach for the network, never read the user's HF cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))


@pytest.fixture(scope="module")
def embedder(tiny_qwen_dir):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        emb = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", frame_side=FRAME_SIDE)
    yield emb
    emb.close()


def clip(seed: int, n: int = 8, size: tuple[int, int] = (48, 64), start: float = 0.0, step: float = 0.25):
    """A moment of ``n`` random frames, ``step`` seconds apart from ``start``."""
    rng = np.random.default_rng(seed)
    frames = tuple(
        Frame(start + i * step, rng.integers(0, 256, (*size, 3), dtype=np.uint8)) for i in range(n)
    )
    return Segment(start, start + n * step, frames)


def test_tiny_checkpoint_builds_fast(tiny_qwen_dir, tmp_path):
    # tiny_qwen_dir first, so the one-off import of transformers' model classes is not timed
    began = time.perf_counter()
    folder = build_tiny_qwen3vl(tmp_path / "m")
    assert time.perf_counter() - began < 5
    assert (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


@pytest.mark.slow
def test_embeds_moments_as_unit_vectors(embedder):
    assert isinstance(embedder, Embedder)
    vectors, costs = embedder.embed_moments([clip(1, step=1.0), clip(2, step=1.0), clip(3, n=5, step=1.0)])
    assert vectors.shape == (3, embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # different videos, different vectors
    assert float(vectors[0] @ vectors[1]) < 0.9999
    # 1 frame per second: 8 s -> 8 frames; 5 s -> 5, rounded down to even (frames are merged in pairs)
    assert [c.frames for c in costs] == [8, 8, 4]
    # 48x64 frames at the reference size: 160x224 (10 x 14 merged tokens) per frame pair
    assert [c.visual_tokens for c in costs] == [4 * 140, 4 * 140, 2 * 140]
    assert all(c.seconds > 0 and c.exit_layer is None for c in costs)


@pytest.mark.slow
def test_same_input_same_vector(embedder):
    first, _ = embedder.embed_moments([clip(7)])
    again, _ = embedder.embed_moments([clip(7)])
    np.testing.assert_array_equal(first, again)


@pytest.mark.slow
def test_batching_gives_the_same_vectors_as_one_at_a_time(embedder):
    moments = [clip(1), clip(2, size=(64, 48)), clip(3, n=4), clip(4), clip(5, n=12)]
    batched, _ = embedder.embed_moments(moments)
    single = np.concatenate([embedder.embed_moments([m])[0] for m in moments])
    np.testing.assert_allclose(batched, single, atol=1e-4)

    texts = ["a dog", "a dog jumps into a lake at night", "cooking pasta in a kitchen"]
    np.testing.assert_allclose(
        embedder.embed_queries(texts),
        np.concatenate([embedder.embed_queries([t]) for t in texts]),
        atol=1e-4,
    )


def test_more_frames_than_wanted_are_sampled_evenly(embedder):
    _, costs = embedder.embed_moments([clip(9, n=30)])
    assert costs[0].frames == 6  # 7.5 s at 1 frame per second, rounded down to even


def test_moment_vector_does_not_depend_on_where_it_sits_in_the_video(embedder):
    early, _ = embedder.embed_moments([clip(4, start=0.0)])
    late, _ = embedder.embed_moments([clip(4, start=3600.0)])
    np.testing.assert_allclose(early, late, atol=1e-5)


def test_video_prompt_has_frame_times_and_no_nested_markers(embedder):
    processor = embedder._processor
    pixels, metadata = embedder._clip(clip(1, step=1.0))
    prompt = embedder._prompt(qwen3vl.DOCUMENT_INSTRUCTION, video=True, text=None)
    inputs = processor(
        text=[prompt],
        videos=[pixels],
        video_metadata=[metadata],
        do_resize=False,
        do_sample_frames=False,
        return_tensors="pt",
    )
    text = processor.tokenizer.decode(inputs["input_ids"][0])
    # the reference layout: system instruction, then per frame pair "<t seconds><|vision_start|>..."
    assert text.startswith("<|im_start|>system\nRepresent the user's input.<|im_end|>\n<|im_start|>user\n")
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert text.count("<|vision_start|>") == 4  # 8 frames -> 4 temporal patches, not nested
    for seconds in ("0.5", "2.5", "4.5", "6.5"):  # mean time of frames (0, 1), (2, 3), ...
        assert f"<{seconds} seconds><|vision_start|>" in text


def test_queries_are_unit_vectors_and_differ(embedder):
    vectors = embedder.embed_queries(["a dog jumps into a lake", "cooking pasta"])
    assert vectors.shape == (2, embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) < 0.9999
    assert embedder.embed_queries([]).shape == (0, embedder.dim)


def test_composed_query_combines_clip_and_text(embedder):
    moment = clip(2)
    night = embedder.embed_composed([moment], ["but at night"])
    day = embedder.embed_composed([moment], ["but in the day"])
    plain, _ = embedder.embed_moments([moment])
    assert night.shape == (1, embedder.dim)
    assert float(night[0] @ day[0]) < 0.9999
    assert float(night[0] @ plain[0]) < 0.9999


@pytest.mark.slow
def test_matryoshka_dim_truncates_and_renormalises(tiny_qwen_dir, embedder):
    small = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="fp32", frame_side=FRAME_SIDE, dim=16)
    try:
        assert small.dim == 16 and small.model_id != embedder.model_id
        moments = [clip(1), clip(2)]
        full, _ = embedder.embed_moments(moments)
        cut, _ = small.embed_moments(moments)
        expected = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
        np.testing.assert_allclose(cut, expected, atol=1e-5)
        assert small.embed_queries(["a dog"]).shape == (1, 16)
    finally:
        small.close()
    with pytest.raises(UsageError, match="dim"):
        qwen3vl.load(str(tiny_qwen_dir), device="cpu", dim=10_000)


@pytest.mark.slow
def test_loads_by_hub_id_from_a_hugging_face_cache(tiny_qwen_dir, embedder, tmp_path, monkeypatch):
    # the layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<commit>/...}
    cache = tmp_path / "cache"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--tiny--qwen3vl"
    shutil.copytree(tiny_qwen_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    by_id = qwen3vl.load("tiny/qwen3vl", device="cpu", precision="fp32", frame_side=FRAME_SIDE)
    try:
        assert by_id.model_id == "tiny/qwen3vl"
        moments = [clip(1)]
        expected, _ = embedder.embed_moments(moments)
        np.testing.assert_allclose(by_id.embed_moments(moments)[0], expected, atol=1e-6)
    finally:
        by_id.close()
    # a snapshot folder given as a path is named by its hub id too, so both spellings share an index
    folder, name = hub.resolve_model_folder(str(repo / "snapshots" / commit))
    assert name == "tiny/qwen3vl"
    # cache_dir wins over the environment
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "elsewhere"))
    assert hub.resolve_model_folder("tiny/qwen3vl", cache_dir=str(cache))[0] == folder


def test_missing_hub_model_offline_fails_fast_and_says_where_it_looked(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    began = time.perf_counter()
    with pytest.raises(ModelUnavailableError) as caught:
        qwen3vl.load("nobody/no-such-model", device="cpu")
    assert time.perf_counter() - began < 5
    message = str(caught.value)
    assert "nobody/no-such-model" in message and str(hub) in message
    assert "--model lite" in message and "HF_HUB_OFFLINE" in message
    assert caught.value.exit_code == 4


def test_bogus_local_folder_fails_fast(tmp_path):
    missing = tmp_path / "models" / "not-here"
    began = time.perf_counter()
    with pytest.raises(ModelUnavailableError, match="not-here"):
        qwen3vl.load(str(missing), device="cpu")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelUnavailableError, match="no config.json"):
        qwen3vl.load(str(empty), device="cpu")
    assert time.perf_counter() - began < 5


def test_odd_frame_count_is_refused(tiny_qwen_dir):
    with pytest.raises(UsageError, match="even"):
        qwen3vl.load(str(tiny_qwen_dir), device="cpu", frames_per_moment=7)


@pytest.mark.slow
def test_closed_embedder_refuses_work(tiny_qwen_dir):
    emb = qwen3vl.load(str(tiny_qwen_dir), device="cpu", frame_side=FRAME_SIDE)
    emb.close()
    with pytest.raises(ModelError, match="closed"):
        emb.embed_queries(["a dog"])


def test_importing_vidsearch_does_not_load_torch_or_this_module():
    code = (
        "import sys, importlib, vidsearch, vidsearch.embed, vidsearch.device\n"
        "for name in ('vidsearch.cli',):\n"
        "    try: importlib.import_module(name)\n"
        "    except ImportError: pass\n"
        "print('torch' in sys.modules, 'vidsearch.embed.qwen3vl' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_cpu_bf16_is_close_to_fp32(tiny_qwen_dir, embedder):
    half = qwen3vl.load(str(tiny_qwen_dir), device="cpu", precision="bf16", frame_side=FRAME_SIDE)
    try:
        assert next(half._model.parameters()).dtype == torch.bfloat16
        moments = [clip(1), clip(2)]
        vectors, _ = half.embed_moments(moments)
        assert vectors.dtype == np.float32
        cosines = np.sum(vectors * embedder.embed_moments(moments)[0], axis=1)
        assert cosines.min() > 0.99, cosines
    finally:
        half.close()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_matches_cpu_fp32(tiny_qwen_dir, embedder):
    gpu = qwen3vl.load(str(tiny_qwen_dir), device="cuda", precision="auto", frame_side=FRAME_SIDE)
    try:
        assert next(gpu._model.parameters()).dtype in (torch.bfloat16, torch.float16)
        moments = [clip(1), clip(2), clip(3, n=6)]
        texts = ["a dog jumps into a lake", "cooking pasta"]
        assert lowest_agreement(gpu, embedder, moments, texts) > 0.99
    finally:
        gpu.close()


@pytest.mark.slow
def test_patch_embedding_runs_as_one_matmul_with_the_convolutions_result(tiny_qwen_dir, embedder):
    """The vision tower's patch convolution becomes a matmul (much faster on the CPU), same numbers."""
    from transformers import AutoModel

    plain = AutoModel.from_pretrained(str(tiny_qwen_dir), dtype=torch.float32).eval()
    patch_embed = plain.visual.patch_embed
    assert type(patch_embed.proj) is torch.nn.Conv3d
    config = plain.config.vision_config
    width = config.in_channels * config.temporal_patch_size * config.patch_size**2
    pixels = torch.randn(37, width)
    with torch.inference_mode():
        want = patch_embed(pixels)
        qwen_load.patches_as_matmul(plain)
        got = patch_embed(pixels)
    assert isinstance(patch_embed.proj, qwen_load.PatchMatmul)
    assert got.shape == want.shape == (37, config.hidden_size)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert isinstance(embedder._model.visual.patch_embed.proj, qwen_load.PatchMatmul)  # load() swaps it


@pytest.mark.slow
def test_a_forward_pass_holds_at_most_its_share_of_patches(embedder, monkeypatch):
    """On the CPU big moments go one per pass (bounded memory); small ones still share passes."""
    assert embedder.patches_per_forward == qwen3vl.CPU_PATCHES_PER_FORWARD  # load() on the CPU sets it
    big = [clip(i, n=8, size=(32, 32)) for i in range(3)]  # 4 frame pairs x 16 patches = 64 each
    small = [clip(10 + i, n=2, size=(32, 32)) for i in range(5)]  # 16 patches each
    full = Budget(8, FRAME_SIDE, "test")
    budgets = [full] * len(big + small)
    free, _ = embedder._embed_videos(big + small, qwen3vl.DOCUMENT_INSTRUCTION, [None] * 8, budgets)
    passes, forward = [], embedder._forward

    def counted(inputs, layers=None):
        passes.append([int(grid.prod()) for grid in inputs["video_grid_thw"]])  # patches per moment
        return forward(inputs, layers)

    monkeypatch.setattr(embedder, "_forward", counted)
    monkeypatch.setattr(embedder, "patches_per_forward", 40)
    capped, _ = embedder._embed_videos(big + small, qwen3vl.DOCUMENT_INSTRUCTION, [None] * 8, budgets)
    assert sorted(map(len, passes)) == [1, 1, 1, 1, 2, 2]  # 64-patch moments alone; 16-patch ones in twos
    assert all(sum(p) <= 40 or len(p) == 1 for p in passes)
    np.testing.assert_allclose(capped, free, atol=1e-5)  # same vectors, however they were grouped
