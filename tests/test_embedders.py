"""One contract, every backend: each Embedder (the bundled lite model and the multimodal Qwen3-VL,
here as a tiny random checkpoint) is loaded through ``vidsearch.models`` and held to the same checks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from videogen import moving_square, solid

from vidsearch.embed.base import Embedder
from vidsearch.models import load_embedder
from vidsearch.types import Frame, MomentCost, Segment

BACKENDS = ["lite", "tiny-qwen3vl"]


@pytest.fixture(scope="module", params=BACKENDS)
def embedder(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Embedder]:
    if request.param == "lite":
        model = load_embedder("lite", device="cpu")
    else:
        folder = request.getfixturevalue("tiny_qwen_dir")
        model = load_embedder(str(folder), device="cpu", precision="fp32")
    yield model
    model.close()


def _segment(painter, start: float, seconds: float, side: int, fps: float = 2.0) -> Segment:  # type: ignore[no-untyped-def]
    frames = []
    w, h = side, max(32, side * 9 // 16)
    for i in range(int(seconds * fps)):
        t = start + i / fps
        frames.append(Frame(t, painter(i, t - start, w, h)))
    return Segment(start, start + seconds, tuple(frames))


def _unit_rows(vectors: np.ndarray, n: int, dim: int) -> None:
    assert vectors.shape == (n, dim)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_describes_itself(embedder: Embedder) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.model_id and embedder.dim > 0
    assert embedder.frame_side >= 32 and embedder.frames_per_moment >= 1


@pytest.mark.slow
def test_queries_are_repeatable_unit_rows(embedder: Embedder) -> None:
    texts = ["a dog on a beach", "a red car at night", "a dog on a beach"]
    first = embedder.embed_queries(texts)
    _unit_rows(first, 3, embedder.dim)
    np.testing.assert_allclose(first[0], first[2], atol=1e-5)  # same text, same vector
    assert float(first[0] @ first[1]) < 0.9999  # different texts, different vectors
    np.testing.assert_allclose(embedder.embed_queries(texts[:1])[0], first[0], atol=1e-4)  # batch-independent


@pytest.mark.slow
def test_moments_give_unit_rows_and_one_cost_each(embedder: Embedder) -> None:
    side = embedder.frame_side
    segments = [
        _segment(solid((200, 30, 30)), 0.0, 2.0, side),
        _segment(moving_square((10, 10, 10), (250, 250, 250)), 2.0, 3.0, side),
    ]
    vectors, costs = embedder.embed_moments(segments)
    _unit_rows(np.asarray(vectors), 2, embedder.dim)
    assert len(costs) == 2 and all(isinstance(c, MomentCost) for c in costs)
    assert all(c.frames >= 1 for c in costs)
    again, _ = embedder.embed_moments(segments[:1])
    np.testing.assert_allclose(np.asarray(again)[0], np.asarray(vectors)[0], atol=1e-3)


@pytest.mark.slow
def test_queries_and_moments_share_one_space(embedder: Embedder) -> None:
    moment, _ = embedder.embed_moments([_segment(solid((20, 120, 20)), 0.0, 2.0, embedder.frame_side)])
    query = embedder.embed_queries(["green"])
    assert np.asarray(moment).shape[1] == query.shape[1] == embedder.dim


def test_unknown_folder_is_refused(tmp_path: Path) -> None:
    from vidsearch.errors import UsageError

    with pytest.raises(UsageError, match="not found"):
        load_embedder(str(tmp_path / "no" / "such" / "model"))
