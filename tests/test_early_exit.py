"""Reading embeddings at an earlier decoder layer (VidVec-style layer exit) in the Qwen3-VL embedder."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.errors import UsageError
from vidsearch.types import Frame, Segment

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from vidsearch.embed import qwen3vl  # noqa: E402

DEPTH = 6  # decoder layers of the deeper tiny model; its vision tower feeds layers 1 and 2 (deepstack)
SIDE = 32


@pytest.fixture(scope="module")
def deep_dir(deep_qwen_dir):
    """The tiny checkpoint with 6 decoder layers (conftest), so there are layers to exit at."""
    assert DEPTH == 6
    return deep_qwen_dir


@pytest.fixture(scope="module")
def full(deep_dir):
    emb = qwen3vl.load(str(deep_dir), device="cpu", precision="fp32", frame_side=SIDE)
    yield emb
    emb.close()


def clip(seed: int, n: int = 8) -> Segment:
    rng = np.random.default_rng(seed)
    frames = tuple(Frame(i * 0.5, rng.integers(0, 256, (48, 64, 3), np.uint8)) for i in range(n))
    return Segment(0.0, n * 0.5, frames)


def normalised_state_at(emb, layer: int, segment: Segment) -> np.ndarray:
    """Independently: the full model's hidden state after ``layer`` layers, final-normed, last token."""
    pixels, metadata = emb._clip(segment)
    inputs = emb._processor(
        text=[emb._prompt(qwen3vl.DOCUMENT_INSTRUCTION, video=True, text=None)],
        videos=[pixels],
        video_metadata=[metadata],
        do_resize=False,
        do_sample_frames=False,
        return_tensors="pt",
    )
    with torch.inference_mode():
        out = emb._model(**inputs, use_cache=False, output_hidden_states=True)
        state = emb._model.language_model.norm(out.hidden_states[layer])[0, -1]
    return torch.nn.functional.normalize(state, dim=-1).numpy()


@pytest.mark.slow
@pytest.mark.parametrize("layer", [3, 5])
def test_exit_at_layer_k_equals_the_full_models_normed_state_at_k(deep_dir, full, layer):
    early = qwen3vl.load(str(deep_dir), device="cpu", precision="fp32", frame_side=SIDE, exit_layer=layer)
    try:
        # the layers after K are never built (their weights are not even loaded)
        assert len(early._model.language_model.layers) == layer
        moments = [clip(1), clip(2)]
        vectors, costs = early.embed_moments(moments)
        for row, moment in zip(vectors, moments, strict=True):
            np.testing.assert_allclose(row, normalised_state_at(full, layer, moment), atol=1e-4)
        assert all(c.exit_layer == layer for c in costs)
        # the full model read at several layers in one pass gives the same vectors
        at = full.embed_moments_at_layers(moments, [layer, DEPTH])
        np.testing.assert_allclose(at[layer], vectors, atol=1e-4)
        np.testing.assert_allclose(at[DEPTH], full.embed_moments(moments)[0], atol=1e-5)
        texts = ["a dog jumps into a lake", "cooking pasta"]
        np.testing.assert_allclose(
            full.embed_queries_at_layers(texts, [layer])[layer], early.embed_queries(texts), atol=1e-4
        )
        # an earlier layer is a different space than the full depth
        assert float(np.sum(vectors[0] * full.embed_moments(moments)[0][0])) < 0.9999
    finally:
        early.close()


@pytest.mark.slow
def test_exit_layer_is_part_of_the_model_id(deep_dir, full):
    early = qwen3vl.load(str(deep_dir), device="cpu", frame_side=SIDE, exit_layer=4, dim=16)
    try:
        assert early.model_id == f"{full.model_id}:exit4:dim16"
        assert early.exit_layer == 4 and early.depth == 4
    finally:
        early.close()
    # the id's spelling loads the same model (so an index can record it as its model name)
    named = qwen3vl.load(f"{deep_dir}:exit4", device="cpu", frame_side=SIDE)
    try:
        assert named.exit_layer == 4 and named.model_id == f"{full.model_id}:exit4"
    finally:
        named.close()
    # exiting at the last layer is the full model: same space, same id, no exit recorded
    same = qwen3vl.load(str(deep_dir), device="cpu", frame_side=SIDE, exit_layer=DEPTH)
    try:
        assert same.model_id == full.model_id and same.exit_layer is None
        assert all(c.exit_layer is None for c in same.embed_moments([clip(1)])[1])
    finally:
        same.close()


@pytest.mark.slow
@pytest.mark.parametrize("layer", [0, 2, DEPTH + 1])
def test_impossible_exit_layers_are_refused(deep_dir, full, layer):
    # layers 1-2 get visual features from the vision tower; exiting there would drop them
    with pytest.raises(UsageError, match="exit layer must be between 3 and 6"):
        qwen3vl.load(str(deep_dir), device="cpu", exit_layer=layer)
    with pytest.raises(UsageError, match="between 3 and 6"):
        full.embed_moments_at_layers([clip(1)], [layer])


# -- check_exit on an indexed library ------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed(deep_dir, full, tmp_path_factory):
    """An index of three short generated videos embedded with the 6-layer tiny model."""
    import videogen as vg

    from vidsearch.index.indexer import update_index
    from vidsearch.store import Store

    folder = tmp_path_factory.mktemp("exit-library")
    videos = folder / "videos"
    videos.mkdir()
    vg.write_video(videos / "square.mp4", [vg.Scene(vg.moving_square((0, 0, 0), (255, 0, 0), 0.3), 6)])
    vg.write_video(videos / "noise.mp4", [vg.Scene(vg.noise(4), 4)])
    title = [vg.Scene(vg.title_card("HELLO"), 3), vg.Scene(vg.solid((0, 90, 0)), 3)]
    vg.write_video(videos / "title.mp4", title)
    db = folder / "index.db"
    with Store.open(db) as store:
        update_index(store, [str(videos)], lambda: full, model_name=str(deep_dir))
    return db


@pytest.mark.slow
def test_check_exit_reports_agreement_per_layer(indexed, deep_dir, full):
    from vidsearch.embed.agreement import check_exit
    from vidsearch.store import Store

    with Store.open(indexed, create=False) as store:
        report = check_exit(store, str(deep_dir), [3, 5], ["a red square", "white text"], embedder=full)
        moments = store.info().moments
    assert report.depth == DEPTH and report.moments == moments and report.queries == 2
    # re-decoding the sample gives the vectors indexing stored
    assert report.stored_cosine is not None and report.stored_cosine > 0.999
    assert [a.layer for a in report.layers] == [3, 5]
    for agreement in report.layers:
        assert -1.0 <= agreement.moment_cosine_min <= agreement.moment_cosine_mean < 0.9999
        assert 0.0 <= agreement.top10_overlap <= 1.0
    text = "\n".join(report.lines())
    assert "top-10 overlap" in text and f"{DEPTH} layers" in text
    with Store.open(indexed, create=False) as store, pytest.raises(UsageError, match="between 3 and 6"):
        check_exit(store, str(deep_dir), [1], ["a dog"], embedder=full)


@pytest.mark.slow
def test_models_check_exit_command_prints_a_row_per_layer(indexed):
    import json

    from typer.testing import CliRunner

    from vidsearch.cli import app

    args = ["models", "--check-exit", "3,4", "--db", str(indexed), "-q", "a dog", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert [row["layer"] for row in report["layers"]] == [3, 4] and report["queries"] == 1
    bad = CliRunner().invoke(app, ["models", "--check-exit", "three", "--db", str(indexed)])
    assert bad.exit_code != 0


@pytest.mark.slow
@pytest.mark.skipif(not __import__("vidsearch.device", fromlist=["x"]).cpu_int8_available(),
                    reason="this torch has no quantized CPU engine")  # fmt: skip
def test_models_check_precision_compares_int8_with_the_float_model(indexed):
    import json

    from typer.testing import CliRunner

    from vidsearch.cli import app

    args = ["models", "--check-precision", "int8", "--db", str(indexed), "-q", "a dog", "-q", "text", "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["candidate"] == "int8" and report["reference"] in ("bf16", "fp32")
    assert report["queries"] == 2 and report["moments"] >= 3
    # int8 weights move the vectors a little, not a lot (tiny random model)
    assert 0.95 < report["moment_cosine_min"] <= report["moment_cosine_mean"] < 1.0
    assert 0.95 < report["query_cosine_mean"] < 1.0
    assert 0.0 <= report["top10_overlap"] <= 1.0
    text = CliRunner().invoke(app, ["models", "--check-precision", "int8", "--db", str(indexed)])
    assert text.exit_code == 0 and "int8 against" in text.stdout and "top-10 overlap" in text.stdout
    bad = CliRunner().invoke(app, ["models", "--check-precision", "int3", "--db", str(indexed)])
    assert bad.exit_code != 0 and "unknown precision 'int3'" in str(bad.exception)  # main() makes it exit 2
