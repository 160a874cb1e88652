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
* int8 scan of probed rows   each vidsearch row again with the sign-bit pass off (every row of the
                             probed lists scored with its int8 code, as the index did before it)
* --since/--until, --near    the date and place filters as ``find`` runs them (options -> the videos
                             that pass, from the index's columns -> the same filtered search as --in),
                             each video given a recording time spread over ten years and a position
                             near one of 200 towns (town sizes follow Zipf's law, as real libraries
                             do: a home town and many places visited once); a span of days keeping
                             about 10 % and 0.5 % of the library, and 10 km around the town nearest
                             0.5 %; the time includes reading the filter's videos
* filter after the search    the 0.5 % date filter applied to an unfiltered top 150 instead (what a
                             filter outside the search would get; recall only)

Each row's median time is also printed as a ratio to two baselines of the same run, the exact
sqlite-vec scan and the unfiltered vidsearch search: timings vary with the machine's load, so figures
from different runs do not compare, ratios within one run do.

``benchmarks/find_latency.py`` times ``vidsearch find`` end to end (process start to exit).

    .venv/bin/python benchmarks/search.py                       # 10k, 100k, 1M (1M: 10 to 40 minutes, by load)
    .venv/bin/python benchmarks/search.py --sizes 10000,100000  # quick mode (a few minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from vidsearch.media.places import EARTH_RADIUS_KM
from vidsearch.query.filters import filtered_video_ids, read_search_filters
from vidsearch.query.options import SearchOptions
from vidsearch.store import Store, ivf
from vidsearch.types import VideoFacts

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


def timed_pair(fn, qs):  # type: ignore[no-untyped-def]
    """``fn`` over the queries as it is and with the sign-bit pass off, alternating query by query
    so that both meet the same load on a shared machine."""
    now, before = ([], []), ([], [])
    for q in qs:
        for times_results, off in ((now, False), (before, True)):
            with _without_sign_bits() if off else contextlib.nullcontext():
                t = time.perf_counter()
                times_results[1].append(fn(q))
                times_results[0].append(time.perf_counter() - t)
    return now, before


def pct(times: list[float], p: float) -> float:
    return float(np.percentile(np.asarray(times) * 1000, p))


def recall(found: list[set[int]], truth: list[set[int]]) -> float:
    return statistics.mean(len(f & t) / max(len(t), 1) for f, t in zip(found, truth, strict=True))


def run_size(n: int, n_queries: int, sqlite_queries: int, folder: Path, reuse: bool = False) -> None:
    t = time.perf_counter()
    vectors, vids, centres = library(n)
    gen = time.perf_counter() - t
    qs = queries(centres, n_queries)
    path = folder / f"lib{n}.db"
    if reuse and path.exists():
        store, insert_s = Store.open(path), float("nan")
        assert store.info().moments == n, f"{path} holds another library; leave out --reuse"
    else:
        store, insert_s = build_store(path, vectors, vids)
    # below Store.ann_min_moments (20k) vidsearch's path is sqlite-vec's exact scan, as in real use
    ids = np.arange(1, n + 1)
    # ground truth: numpy exact scan (moment ids are assigned 1..n in insertion order)
    np_times, np_res = timed(lambda q: ids[np.argsort(-(vectors @ q))[:10]], qs)
    truth = [set(int(i) for i in r) for r in np_res]

    t = time.perf_counter()
    store.refresh_search_index(rebuild=not reuse)  # reused: rebuilt only when out of date
    ann_build = time.perf_counter() - t
    db_bytes = sum(os.path.getsize(str(store.path) + s) for s in ("", "-wal") if os.path.exists(str(store.path) + s))
    ann_bytes = store.search_index_path.stat().st_size if store.search_index_path.exists() else 0
    raw = n * DIM * 4

    sq_times, sq_res = timed(lambda q: set(store.nearest_exact(q, 10)), qs[:sqlite_queries])
    store2 = Store.open(store.path)  # a fresh process-like store: cold caches, index file read from disk
    (vs_times, vs_res), (old_times, old_res) = timed_pair(
        lambda q: {c.moment_id for c in _uncached(store2).nearest(q, 10)}, qs
    )
    vk_times, _ = timed(lambda q: _uncached(store2).nearest(q, 100), qs)

    print(f"\n== {n} moments, {DIM}-d (generated in {gen:.1f} s; SQLite insert {insert_s:.1f} s,"
          f" {n / insert_s:.0f} moments/s; compact index build {ann_build:.1f} s)")
    print(f"   size: SQLite {db_bytes / n:.0f} B/moment + index file {ann_bytes / n:.0f} B/moment ="
          f" {(db_bytes + ann_bytes) / n:.0f} B/moment; raw float32 {DIM * 4} B/moment;"
          f" ratio {(db_bytes + ann_bytes) / raw:.2f}x ({store2.describe_search_index()[0]})")
    rows = [
        ("sqlite-vec exact (baseline)", sq_times, recall(sq_res, truth[: len(sq_res)])),
        ("numpy exact (reference)", np_times, 1.0),
        ("vidsearch nearest k=10 (unfiltered)", vs_times, recall(vs_res, truth)),
        ("  int8 scan of probed rows", old_times, recall(old_res, truth)),
        ("vidsearch nearest k=100", vk_times, float("nan")),
    ]
    for frac in (0.1, 0.005):
        chosen = _filter(store2, vids, frac)
        mask = np.isin(vids, chosen)
        sub_ids, sub_vecs = ids[mask], vectors[mask]
        f_truth = [set(int(i) for i in sub_ids[np.argsort(-(sub_vecs @ q))[:10]]) for q in qs]
        (f_times, f_res), (o_times, o_res) = timed_pair(
            lambda q, chosen=chosen: [c.moment_id for c in _uncached(store2).nearest(q, 10, chosen)], qs
        )
        full = statistics.mean(len(r) == min(10, len(sub_ids)) for r in f_res)
        rows.append((f"vidsearch --in {frac:.1%} of lib (full n: {full:.0%})", f_times,
                     recall([set(r) for r in f_res], f_truth)))
        rows.append(("  int8 scan of probed rows", o_times, recall([set(r) for r in o_res], f_truth)))
    rows += _metadata_rows(store, store2, vectors, vids, ids, qs)
    print_rows(rows)
    store.close()
    store2.close()


def print_rows(rows: list[tuple[str, list[float], float]]) -> None:
    """The table: latencies, and their ratio to the two baselines of the same run (the exact
    sqlite-vec scan, the first row; the unfiltered vidsearch search, the third)."""
    exact, unfiltered = pct(rows[0][1], 50), pct(rows[2][1], 50)
    print(f"   {'path':44s} {'p50 ms':>8s} {'p95 ms':>8s} {'/sqlite-vec':>11s} {'/unfiltered':>11s}"
          f" {'recall@10':>10s} {'queries':>8s}")  # fmt: skip
    for name, times, rec in rows:
        if all(np.isnan(times)):  # recall only
            print(f"   {name:44s} {'-':>8s} {'-':>8s} {'-':>11s} {'-':>11s} {rec:10.3f} {len(times):8d}")
            continue
        p50 = pct(times, 50)
        print(f"   {name:44s} {p50:8.1f} {pct(times, 95):8.1f} {p50 / exact:10.3f}x {p50 / unfiltered:10.2f}x"
              f" {rec:10.3f} {len(times):8d}")  # fmt: skip


def video_facts(videos: int, seed: int = 2) -> tuple[list[VideoFacts], np.ndarray]:
    """Per video: a recording time spread over 2015-2024 and a position a couple of km around one of
    200 towns (town sizes follow Zipf's law); and the towns' positions."""
    rng = np.random.default_rng(seed)
    lo = datetime(2015, 1, 1, tzinfo=timezone.utc).timestamp()
    hi = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    recorded = rng.uniform(lo, hi, videos)
    towns = np.column_stack([rng.uniform(-40, 60, 200), rng.uniform(-120, 140, 200)])
    weights = 1.0 / np.arange(1, 201)
    town = rng.choice(200, size=videos, p=weights / weights.sum())
    pos = towns[town] + rng.normal(0, 0.02, (videos, 2))
    facts = [
        VideoFacts(recorded=float(t), recorded_local=float(t), recorded_source="creation-time",
                   lat=float(a), lon=float(b), version=1)
        for t, (a, b) in zip(recorded, pos, strict=True)
    ]  # fmt: skip
    return facts, towns


def _days_holding(recorded: np.ndarray, share: float) -> tuple[str, str]:
    """--since and --until days whose span holds about ``share`` of the videos."""
    order = np.sort(recorded)
    first = order[int(len(order) * 0.37)]
    last = order[min(len(order) - 1, int(len(order) * (0.37 + share)))]
    day = lambda t: datetime.fromtimestamp(t, timezone.utc).date().isoformat()  # noqa: E731
    return day(first), day(last)


def _town_holding(lat: np.ndarray, lon: np.ndarray, towns: np.ndarray, share: float, km: float) -> str:
    """--near LAT,LON of the town whose ``km`` circle holds closest to ``share`` of the videos."""
    la, lo = np.radians(lat), np.radians(lon)
    best = (np.inf, "")
    for t_lat, t_lon in towns:
        p, q = np.radians(t_lat), np.radians(t_lon)
        h = np.sin((la - p) / 2) ** 2 + np.cos(p) * np.cos(la) * np.sin((lo - q) / 2) ** 2
        inside = int((2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(h)) <= km).sum())
        gap = abs(inside - share * len(lat))
        if gap < best[0]:
            best = (gap, f"{t_lat:.4f},{t_lon:.4f}")
    return best[1]


def _metadata_rows(
    store: Store, searcher: Store, vectors: np.ndarray, vids: np.ndarray, ids: np.ndarray, qs: np.ndarray
) -> list[tuple[str, list[float], float]]:
    """The date and place filter rows: options read as ``find`` reads them, the videos that pass read
    from the index, then the filtered search; recall@10 against an exact scan of what passes."""
    videos = int(vids.max())
    facts, towns = video_facts(videos)
    with store.transaction():  # the store assigned video ids 1..n in the order they were saved
        store.facts.write_many((v + 1, f) for v, f in enumerate(facts))
    recorded = np.array([f.recorded_local for f in facts])
    lat, lon = np.array([f.lat for f in facts]), np.array([f.lon for f in facts])
    cases = []
    for share in (0.10, 0.005):
        since, until = _days_holding(recorded, share)
        cases.append((f"--since/--until {share:.1%} of lib", SearchOptions(since=since, until=until)))
    at = _town_holding(lat, lon, towns, 0.005, 10.0)
    cases.append(("--near 10 km, ~0.5% of lib", SearchOptions(near=at, radius_km=10.0)))
    rows: list[tuple[str, list[float], float]] = []
    for name, options in cases:
        def passing(options: SearchOptions = options) -> list[int]:
            return filtered_video_ids(searcher, read_search_filters(searcher, "", options)) or []

        chosen = passing()
        mask = np.isin(vids, chosen)
        sub_ids, sub_vecs = ids[mask], vectors[mask]
        truth = [set(int(i) for i in sub_ids[np.argsort(-(sub_vecs @ q))[:10]]) for q in qs]
        times, found = timed(lambda q: {c.moment_id for c in _uncached(searcher).nearest(q, 10, passing())}, qs)
        rows.append((f"{name} ({mask.mean():.2%})", times, recall(found, truth)))
        if name.startswith("--since") and mask.mean() < 0.01:
            allowed = set(sub_ids.tolist())
            post = [{c.moment_id for c in searcher.nearest(q, 150) if c.moment_id in allowed} for q in qs]
            rows.append(("  filter after an unfiltered top 150", [float("nan")] * len(qs), recall(
                [set(sorted(p, key=lambda m: -float(vectors[m - 1] @ q))[:10]) for p, q in zip(post, qs, strict=True)],
                truth)))  # fmt: skip
    return rows


@contextlib.contextmanager
def _without_sign_bits() -> Iterator[None]:
    """The search as it was before the sign-bit pass: every probed row scored with its int8 code.

    The same index and the same run, so the ratio to the rows above is the pass's own effect.
    """
    kept = ivf.SHORTLIST_MIN
    ivf.SHORTLIST_MIN = 1 << 62
    try:
        yield
    finally:
        ivf.SHORTLIST_MIN = kept


def _uncached(store: Store) -> Store:
    store._vector_cache.clear()  # measure every query reading its shortlist from SQLite
    return store


def _filter(store: Store, vids: np.ndarray, fraction: float) -> list[int]:
    """Video ids of a folder-like subset holding about ``fraction`` of the library."""
    videos = int(vids.max())
    want = max(1, int(videos * fraction))
    return list(range(1, videos + 1, max(1, videos // want)))[:want]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="library sizes ('' for none)")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--sqlite-queries", type=int, default=0, help="default: 100 / 30 / 10 by size")
    parser.add_argument("--keep", help="keep the generated databases in this folder")
    parser.add_argument("--reuse", action="store_true", help="with --keep: reuse a kept library of the same size")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="vidsearch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        for n in (int(s) for s in args.sizes.split(",") if s):
            sq = args.sqlite_queries or (100 if n <= 10_000 else 30 if n <= 100_000 else 10)
            run_size(n, args.queries, min(sq, args.queries), folder, reuse=args.reuse)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
