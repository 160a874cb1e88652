"""Date and place filters inside the nearest-neighbour search: recall against exact search.

Dates, places and cameras belong to a video, so a filter becomes the set of video ids that pass it
and goes into the compact index's search the way ``--in`` does (``IvfIndex.search(video_ids=...)``):
a set that keeps under 5 % of the library is scanned exactly, a larger one widens the probed lists by
the share it keeps. This measures that path at 1M moments on the synthetic library of
benchmarks/search.py (videos of 40 moments), with each video given a recording time spread over ten
years and a position near one of 200 towns (town sizes follow Zipf's law, as real libraries do: a
home town and many places visited once):

* unfiltered                the index alone (the baseline for time)
* dates, ~10 % / ~0.5 %     a span of days ("in 2021", "last christmas")
* place, ~0.5 %             a circle around one town ("--near lisbon")
* filter after search       the same 0.5 % date filter applied to the unfiltered top 150 instead
                            (what a filter outside the search would get)

recall@10 is against the exact top 10 of the filtered library (numpy float scan). The index
shortlist is re-ranked by exact cosine, as ``Store.nearest`` does.

    .venv/bin/python benchmarks/filtered_search.py                 # 1M moments (a few minutes)
    .venv/bin/python benchmarks/filtered_search.py --moments 200000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from search import PER_VIDEO, library, queries  # noqa: E402

from vidsearch.media.places import haversine_km  # noqa: E402
from vidsearch.query.dates import DateRange  # noqa: E402
from vidsearch.store import ann  # noqa: E402

K = 10
SHORTLIST = K + 50  # as Store.nearest: k + max(k / 2, RERANK_EXTRA)


def video_metadata(videos: int, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per video: wall-clock recording seconds over 2015-2024, latitude, longitude."""
    rng = np.random.default_rng(seed)
    lo = datetime(2015, 1, 1, tzinfo=timezone.utc).timestamp()
    hi = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    recorded = rng.uniform(lo, hi, videos)
    towns = np.column_stack([rng.uniform(-40, 60, 200), rng.uniform(-120, 140, 200)])
    weights = 1.0 / np.arange(1, 201)
    town = rng.choice(200, size=videos, p=weights / weights.sum())
    jitter = rng.normal(0, 0.02, (videos, 2))  # a couple of km around the town
    pos = towns[town] + jitter
    return recorded, pos[:, 0], pos[:, 1]


def date_filter(recorded: np.ndarray, share: float) -> tuple[np.ndarray, DateRange]:
    """Video ids recorded inside a span of days holding about ``share`` of the videos."""
    order = np.sort(recorded)
    start_s = order[int(len(order) * 0.37)]
    end_s = order[min(len(order) - 1, int(len(order) * (0.37 + share)))]
    day = 86400.0
    start = datetime.fromtimestamp(start_s - start_s % day, timezone.utc).date()
    end = datetime.fromtimestamp(end_s - end_s % day, timezone.utc).date()
    rng = DateRange(start, end, "benchmark")
    low, high = rng.bounds()
    keep = np.flatnonzero((recorded >= low) & (recorded < high))  # type: ignore[operator]
    return keep + 1, rng


def place_filter(lat: np.ndarray, lon: np.ndarray, share: float) -> tuple[np.ndarray, str]:
    """Video ids within a radius of the town whose video count is closest to ``share``."""
    want = share * len(lat)
    best: tuple[float, np.ndarray, str] | None = None
    rounded = np.round(lat, 0) * 1000 + np.round(lon, 0)
    for key in np.unique(rounded)[:400]:
        members = np.flatnonzero(rounded == key)
        c_lat, c_lon = float(lat[members].mean()), float(lon[members].mean())
        dist = np.array([haversine_km(c_lat, c_lon, a, b) for a, b in zip(lat[members], lon[members], strict=True)])
        inside = members[dist <= 10.0]
        gap = abs(len(inside) - want)
        if best is None or gap < best[0]:
            best = (gap, inside, f"10 km around ({c_lat:.2f}, {c_lon:.2f})")
    assert best is not None
    return best[1] + 1, best[2]


def exact_top(kept: np.ndarray, rows: np.ndarray, q: np.ndarray) -> set[int]:
    """The ids of the ``K`` best rows; ``kept`` holds the vectors of ``rows``."""
    scores = kept @ q
    top = np.argpartition(-scores, min(K, len(rows)) - 1)[:K]
    return {int(rows[i]) for i in top}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--moments", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()

    t = time.perf_counter()
    vectors, vids, centres = library(args.moments)
    ids = np.arange(len(vectors), dtype=np.int64)
    index = ann.IvfIndex.build(ids, vids, vectors, seq=0, model_id="synthetic")
    built = time.perf_counter() - t
    print(f"{args.moments} moments, {int(vids.max())} videos of {PER_VIDEO}; library and index made in {built:.0f} s")
    recorded, lat, lon = video_metadata(int(vids.max()))
    qs = queries(centres, args.queries)

    cases: list[tuple[str, np.ndarray | None]] = [("unfiltered", None)]
    for share in (0.10, 0.005):
        keep, rng = date_filter(recorded, share)
        cases.append((f"dates {rng.describe()}", keep))
    keep, where = place_filter(lat, lon, 0.005)
    cases.append((f"place {where}", keep))

    print(f"{'filter':44s} {'videos':>7s} {'moments':>8s} {'recall@10':>9s} {'ms/query':>9s}")
    for name, keep in cases:
        rows = np.flatnonzero(np.isin(vids, keep)) if keep is not None else ids
        kept = vectors[rows] if keep is not None else vectors
        truths = [exact_top(kept, rows, q) for q in qs]
        recalls, times = [], []
        for q, truth in zip(qs, truths, strict=True):
            started = time.perf_counter()
            shortlist, _ = index.search(q, SHORTLIST, keep)
            exact = vectors[shortlist] @ q
            got = {int(shortlist[i]) for i in np.argsort(-exact)[:K]}
            times.append(time.perf_counter() - started)
            recalls.append(len(got & truth) / max(1, len(truth)))
        share = len(rows) / len(ids)
        print(
            f"{name:44s} {len(keep) if keep is not None else int(vids.max()):7d} {len(rows):8d}"
            f" {statistics.mean(recalls):9.3f} {1000 * statistics.median(times):9.1f}   ({share:.2%} of moments)"
        )
        if keep is not None and share < 0.01 and name.startswith("dates"):
            allowed = set(rows.tolist())
            post = []
            for q, truth in zip(qs, truths, strict=True):
                shortlist, _ = index.search(q, 150)
                got = [int(i) for i in shortlist if int(i) in allowed][:K]
                post.append(len(set(got) & truth) / max(1, len(truth)))
            print(f"{'  same, filter after an unfiltered top 150':44s} {'':7s} {'':8s} {statistics.mean(post):9.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
