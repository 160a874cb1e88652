"""Indexing throughput and unchanged-rescan time on a generated library.

Prints:
- throughput in seconds of video per wall second (the realtime factor), split into decode, embed
  and store, for the lite model (or --model NAME) over a generated library of mixed clips;
- the time to rescan an unchanged library of 10,000 files, against a bare os.walk + stat of the same
  tree measured in the same run (the floor any rescan must pay), and the same rescan when what is
  said is read too (as `vidsearch index` does: each folder listed for subtitle files, each video's
  recorded words checked), once every video's words are recorded.

usage: python benchmarks/index_speed.py [--videos 6] [--seconds 30] [--size 1280x720] [--files 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _library import no_model, register_fake_library  # noqa: E402
from videogen import Scene, moving_square, noise, solid, write_video  # noqa: E402

from vidsearch.index.indexer import update_index  # noqa: E402
from vidsearch.index.speech import SpeechReader, SpeechSettings  # noqa: E402
from vidsearch.models import load_embedder  # noqa: E402
from vidsearch.store import Store  # noqa: E402


def make_library(folder: Path, videos: int, seconds: float, size: tuple[int, int]) -> None:
    kinds = [
        lambda: [Scene(solid((40, 90, 160)), seconds)],  # static
        lambda: [Scene(moving_square((30, 30, 30), (240, 200, 40)), seconds)],  # one thing moving
        lambda: [Scene(solid((200, 40, 40)), seconds / 3), Scene(noise(1), seconds / 3),
                 Scene(solid((40, 200, 40)), seconds / 3)],  # cuts and busy motion
    ]
    for i in range(videos):
        write_video(folder / f"clip{i:02d}.mp4", kinds[i % len(kinds)](), fps=25, size=size)


def bench_index(args: argparse.Namespace, work: Path) -> None:
    lib = work / "lib"
    lib.mkdir()
    w, h = (int(x) for x in args.size.split("x"))
    t = time.perf_counter()
    make_library(lib, args.videos, args.seconds, (w, h))
    print(f"generated {args.videos} x {args.seconds:.0f} s clips at {w}x{h} in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    embedder = load_embedder(args.model)
    load_s = time.perf_counter() - t
    with Store.open(work / "bench.db") as store:
        stats = update_index(store, [str(lib)], lambda: embedder, model_name=args.model)
    total = stats.video_seconds
    wall = stats.elapsed
    print(f"model {args.model}: load {load_s:.1f} s (not counted below)")
    print(f"indexed {stats.indexed} files, {stats.moments} moments, {total:.0f} s of video in {wall:.1f} s")
    print(f"throughput: {total / wall:.2f} s of video per second (realtime factor)")
    for part, secs in (("decode", stats.decode_seconds), ("embed", stats.embed_seconds),
                       ("store", stats.store_seconds)):
        print(f"  {part:6s} {secs:7.2f} s  {100 * secs / wall:5.1f}% of wall  {total / max(secs, 1e-9):8.1f}x realtime")


def bench_rescan(args: argparse.Namespace, work: Path) -> None:
    lib = work / "big"
    with Store.open(work / "rescan.db") as store:
        register_fake_library(store, lib, args.files)
        t = time.perf_counter()
        n = sum(len([os.stat(os.path.join(dp, f)) for f in fs]) for dp, _, fs in os.walk(lib))
        floor = time.perf_counter() - t
        t = time.perf_counter()
        stats = update_index(store, [str(lib)], no_model, model_name="bench")
        rescan = time.perf_counter() - t
        assert stats.unchanged == n == args.files, (stats.unchanged, n)
        print(f"rescan of an unchanged library of {n} files: {rescan:.2f} s "
              f"(os.walk + stat alone: {floor:.2f} s; ratio {rescan / floor:.1f}x)")

        # The same files as indexed videos whose words were read once (the fake files have no sound:
        # each is recorded as such), then rescanned with speech on.
        store.db.execute("UPDATE videos SET status='indexed', error=NULL")
        reader = SpeechReader(SpeechSettings())
        first = update_index(store, [str(lib)], no_model, model_name="bench", speech=reader)
        assert first.speech_read == n, first.speech_read
        t = time.perf_counter()
        again = update_index(store, [str(lib)], no_model, model_name="bench", speech=reader)
        with_speech = time.perf_counter() - t
        t = time.perf_counter()
        update_index(store, [str(lib)], no_model, model_name="bench")
        without = time.perf_counter() - t
    assert again.unchanged == n and again.speech_read == 0, (again.unchanged, again.speech_read)
    print(f"  with speech on: {with_speech:.2f} s, against {without:.2f} s without in the same run "
          f"(ratio {with_speech / without:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--model", default="lite")
    parser.add_argument("--rescan-only", action="store_true", help="only the unchanged-library rescans")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if not args.rescan_only:
            bench_index(args, Path(tmp))
        bench_rescan(args, Path(tmp))


if __name__ == "__main__":
    main()
