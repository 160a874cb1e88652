"""Search at scale: latency, recall@10, index size and build time on synthetic libraries.

Synthetic moments are 384-d (the lite model's size) unit vectors with realistic structure: a shared
mean direction (sentence spaces are anisotropic), 1000 topics, videos of 40 moments that each drift
around one topic, and per-moment noise. Queries lie near a topic but are not stored points, so the
top 10 are near-ties inside a cluster (the hard case for approximate search).

For each size it builds an index through the Store API (moments + sqlite-vec vectors, the change log
triggers included), then measures, all in one run:

* sqlite-vec   exact float scan inside SQLite (the baseline; few queries at large sizes, it is slow)
* numpy        exact float scan of all vectors in memory (the reference and the ground truth)
* vidsearch    ``Store.nearest``: the compact IVF-int8 index + exact re-rank from SQLite + row load
* vidsearch --in   the same with a video filter keeping about 10 % and 0.5 % of the library

    .venv/bin/python benchmarks/search.py                       # 10k, 100k, 1M (about 8 minutes)
    .venv/bin/python benchmarks/search.py --sizes 10000,100000  # quick mode (under a minute)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from vidsearch.store import Store

DIM = 384
TOPICS = 1000
PER_VIDEO = 40


def library(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vectors (n, DIM) unit float32, video id per moment, topic centres)."""
    rng = np.random.default_rng(seed)
    mean = _unit(rng.standard_normal(DIM))
    topics = _unit(rng.standard_normal((TOPICS, DIM)))
    videos = -(-n // PER_VIDEO)
    video_topic = rng.integers(0, TOPICS, videos)
    video_dev = _unit(rng.standard_normal((videos, DIM)))
    vid = np.arange(n) // PER_VIDEO
    out = np.empty((n, DIM), np.float32)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        v = vid[lo:hi]
        noise = _unit(rng.standard_normal((hi - lo, DIM)))
        x = 0.5 * mean + 0.8 * topics[video_topic[v]] + 0.5 * video_dev[v] + 0.45 * noise
        out[lo:hi] = _unit(x)
    return out, vid + 1, np.concatenate([mean[None], topics])


def queries(centres: np.ndarray, count: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mean, topics = centres[0], centres[1:]
    pick = topics[rng.integers(0, len(topics), count)]
    return _unit(0.5 * mean + 0.8 * pick + 0.6 * _unit(rng.standard_normal((count, DIM)))).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def build_store(path: Path, vectors: np.ndarray, vids: np.ndarray) -> tuple[Store, float]:
    store = Store.open(path)
    store.bind_model("lite", "synthetic-384", DIM)
    started = time.perf_counter()
    for v in range(int(vids.max())):
        rows = slice(v * PER_VIDEO, min(len(vectors), (v + 1) * PER_VIDEO))
        n = rows.stop - rows.start
        store.save_video(
            path=f"/library/{v % 20:02d}/{v % 200:03d}/video{v}.mp4",
            root_id=None,
            size=1,
            mtime_ns=1,
            fingerprint=str(v),
            info=None,
            moments=[(float(i), float(i + 1)) for i in range(n)],
            vectors=vectors[rows],
        )
    return store, time.perf_counter() - started


def timed(fn, qs):  # type: ignore[no-untyped-def]
    times, results = [], []
    for q in qs:
        t = time.perf_counter()
        results.append(fn(q))
        times.append(time.perf_counter() - t)
    return times, results


def pct(times: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000, p))


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return statistics.mean(len(f & t) / max(len(t), 1) for f, t in zip(found, truth, strict=True))


def run_size(n: int, n_queries: int, sqlite_queries: int, folder: Path) -> None:
    t = time.perf_counter()
    vectors, vids, centres = library(n)
    gen = time.perf_counter() - t
    qs = queries(centres, n_queries)
    store, insert_s = build_store(folder / f"lib{n}.db", vectors, vids)
    # below Store.ann_min_moments (20k) vidsearch's path is sqlite-vec's exact scan, as in real use
    ids = np.arange(1, n + 1)
    # ground truth: numpy exact scan (moment ids are assigned 1..n in insertion order)
    np_times, np_res = timed(lambda q: ids[np.argsort(-(vectors @ q))[:10]], qs)
    truth = [set(int(i) for i in r) for r in np_res]

    t = time.perf_counter()
    store.refresh_search_index(rebuild=True)
    ann_build = time.perf_counter() - t
    db_bytes = sum(os.path.getsize(str(store.path) + s) for s in ("", "-wal") if os.path.exists(str(store.path) + s))
    ann_bytes = store.search_index_path.stat().st_size if store.search_index_path.exists() else 0
    raw = n * DIM * 4

    sq_times, sq_res = timed(lambda q: set(store.nearest_exact(q, 10)), qs[:sqlite_queries])
    store2 = Store.open(store.path)  # a fresh process-like store: cold caches, index file read from disk
    vs_times, vs_res = timed(lambda q: {c.moment_id for c in _uncached(store2).nearest(q, 10)}, qs)
    vk_times, _ = timed(lambda q: _uncached(store2).nearest(q, 100), qs)

    print(f"\n== {n} moments, {DIM}-d (generated in {gen:.1f} s; SQLite insert {insert_s:.1f} s,"
          f" {n / insert_s:.0f} moments/s; compact index build {ann_build:.1f} s)")
    print(f"   size: SQLite {db_bytes / n:.0f} B/moment + index file {ann_bytes / n:.0f} B/moment ="
          f" {(db_bytes + ann_bytes) / n:.0f} B/moment; raw float32 {DIM * 4} B/moment;"
          f" ratio {(db_bytes + ann_bytes) / raw:.2f}x ({store2.describe_search_index()[0]})")
    print(f"   {'path':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'recall@10':>10s} {'queries':>8s}")
    rows = [
        ("sqlite-vec exact (baseline)", sq_times, recall(sq_res, truth[: len(sq_res)])),
        ("numpy exact (reference)", np_times, 1.0),
        ("vidsearch nearest k=10", vs_times, recall(vs_res, truth)),
        ("vidsearch nearest k=100", vk_times, float("nan")),
    ]
    for frac in (0.1, 0.005):
        chosen = _filter(store2, vids, frac)
        mask = np.isin(vids, chosen)
        sub_ids, sub_vecs = ids[mask], vectors[mask]
        f_truth = [set(int(i) for i in sub_ids[np.argsort(-(sub_vecs @ q))[:10]]) for q in qs]
        f_times, f_res = timed(
            lambda q, chosen=chosen: [c.moment_id for c in _uncached(store2).nearest(q, 10, chosen)], qs
        )
        full = statistics.mean(len(r) == min(10, len(sub_ids)) for r in f_res)
        rows.append((f"vidsearch --in {frac:.1%} of lib", f_times, recall([set(r) for r in f_res], f_truth)))
        rows[-1] = (rows[-1][0] + f" (full n: {full:.0%})", f_times, rows[-1][2])
    for name, times, rec in rows:
        print(f"   {name:28s} {pct(times, 50):8.1f} {pct(times, 95):8.1f} {rec:10.3f} {len(times):8d}")
    store.close()
    store2.close()


def _uncached(store: Store) -> Store:
    store._vector_cache.clear()  # measure every query reading its shortlist from SQLite
    return store


def _filter(store: Store, vids: np.ndarray, fraction: float) -> list[int]:
    """Video ids of a folder-like subset holding about ``fraction`` of the library."""
    videos = int(vids.max())
    want = max(1, int(videos * fraction))
    return list(range(1, videos + 1, max(1, videos // want)))[:want]


_COLD_PARTS = r"""
import sys, time
t0 = time.perf_counter()
import typer  # noqa: F401
import vidsearch.cli  # noqa: F401
t1 = time.perf_counter()
import torch  # noqa: F401
t2 = time.perf_counter()
from vidsearch.models import load_embedder as load_model
from vidsearch.query.search import SearchOptions, find
from vidsearch.store import Store
model = load_model("lite", "auto", "auto")
t3 = time.perf_counter()
vec = model.embed_queries(["a dog jumping into a lake"])
t4 = time.perf_counter()
with Store.open(sys.argv[1], create=False) as store:
    hits = find(store, model, "a dog jumping into a lake", SearchOptions(limit=10))
t5 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f} {t3 - t2:.3f} {t4 - t3:.3f} {t5 - t4:.3f}")
"""


def time_find(n: int, folder: Path, repeats: int = 5) -> None:
    """``vidsearch find`` as a user runs it, cold (loads the lite model) and warm (a service holds it)."""
    import subprocess
    import sys

    vectors, vids, _ = library(n, seed=3)
    db = folder / f"find{n}.db"
    store, _ = build_store(db, vectors, vids)
    store.db.execute("UPDATE meta SET value='vidsearch-lite-1' WHERE key='model_id'")  # as the lite model
    store.refresh_search_index(rebuild=True)
    store.close()
    env = dict(os.environ, VIDSEARCH_SOCKET=str(Path(tempfile.mkdtemp(dir="/tmp")) / "s.sock"))
    cmd = [sys.executable, "-m", "vidsearch", "find", "a dog jumping into a lake", "--db", str(db), "-f", "tsv"]

    def wall(fresh_cache: bool = False) -> float:
        run_env = dict(env, XDG_CACHE_HOME=tempfile.mkdtemp()) if fresh_cache else env
        t = time.perf_counter()
        subprocess.run(cmd, env=run_env, check=True, capture_output=True)
        return time.perf_counter() - t

    cold = [wall(fresh_cache=True) for _ in range(repeats)]  # a new query: the model must load
    wall()
    cached = [wall() for _ in range(repeats)]  # a repeated query: its vector is cached, no model
    parts = [
        [float(x) for x in subprocess.run([sys.executable, "-c", _COLD_PARTS, str(db)], env=env,
                                          check=True, capture_output=True, text=True).stdout.split()]
        for _ in range(repeats)
    ]
    med = np.median(np.asarray(parts), axis=0)
    server = subprocess.Popen([sys.executable, "-m", "vidsearch", "serve", "--idle", "120"], env=env,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        wall()  # the service loads the model on its first query
        warm = [wall() for _ in range(repeats * 2)]
    finally:
        server.terminate()
        server.wait()
    print(f"\n== vidsearch find, end to end, {n} moments, lite model (median of {repeats})")
    print(f"   cold (model loaded by the command): {np.median(cold):.2f} s; parts: imports {med[0]:.2f} s,"
          f" torch import {med[1]:.2f} s, model load {med[2]:.2f} s, embed {med[3]:.3f} s, search {med[4]:.3f} s")
    print(f"   cold, repeated query (vector from the query cache, no model load): {np.median(cached):.2f} s")
    print(f"   warm (vidsearch serve holds the model): p50 {np.median(warm):.3f} s,"
          f" p95 {np.percentile(warm, 95):.3f} s (process start to exit)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="library sizes ('' for none)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--sqlite-queries", type=int, default=0, help="default: 100 / 30 / 10 by size")
    parser.add_argument("--keep", help="keep the generated databases in this folder")
    parser.add_argument("--find-size", type=int, default=100_000, help="library for the find timing (0: skip)")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsearch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for n in (int(s) for s in args.sizes.split(",") if s):
            sq = args.sqlite_queries or (100 if n <= 10_000 else 30 if n <= 100_000 else 10)
            run_size(n, args.queries, min(sq, args.queries), folder)
        if args.find_size:
            time_find(args.find_size, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
