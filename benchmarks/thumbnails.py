"""What moment thumbnails cost on real footage: bytes per moment in the index, and encoding time against
the decoding and embedding the same indexing run does (the baseline, measured in the same run).

Indexes the devclips (or the videos under PATH) with the bundled lite model into a temporary index and
prints moments, thumbnail bytes (per moment and in all), the index's size, and the seconds spent making
thumbnails as a share of decode + embed seconds. Then drops the thumbnails and makes them again the
way an index from before thumbnails gets them (decoding only, no model), and prints that time too.
Run: ``python benchmarks/thumbnails.py [PATH] [--model lite]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from vidsearch import Library

DEVCLIPS = Path("/work/shared/data/devclips")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path", nargs="?", default=str(DEVCLIPS), help="a folder of videos (default: the devclips)")
    parser.add_argument("--model", default="lite")
    args = parser.parse_args()
    folder = Path(args.path)
    if not folder.is_dir():
        print(f"no such folder: {folder}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.db"
        with Library.open(db, create=True, model=args.model, device="cpu") as library:
            t = time.perf_counter()
            stats = library.index([folder])
            wall = time.perf_counter() - t
            info = library.status()
            moments = info.moments
            base = stats.decode_seconds + stats.embed_seconds
            print(f"videos {stats.indexed}, moments {moments}, video {stats.video_seconds:.0f} s, "
                  f"indexing {wall:.1f} s")
            print(f"thumbnails: {info.thumbnail_bytes / 1024:.0f} KiB in all, "
                  f"{info.thumbnail_bytes / max(1, moments) / 1024:.1f} KiB per moment "
                  f"({info.thumbnail_bytes / max(1, info.size_bytes) * 100:.0f}% of the index file)")
            print(f"time: decode {stats.decode_seconds:.2f} s + embed {stats.embed_seconds:.2f} s (baseline); "
                  f"thumbnails {stats.thumbnail_seconds:.2f} s = {stats.thumbnail_seconds / max(base, 1e-9):.3f}x "
                  f"the baseline, {stats.thumbnail_seconds / max(1, moments) * 1000:.1f} ms per moment")
            library.store.db.execute("DELETE FROM moment_thumbnails")
            t = time.perf_counter()
            again = library.index([folder])
            later = time.perf_counter() - t
            print(f"made afterwards (an index from before thumbnails): {again.thumbnails_added} moments in "
                  f"{later:.1f} s = {later / max(base, 1e-9):.3f}x the first run's decode + embed, no model loaded")
    return 0


if __name__ == "__main__":
    sys.exit(main())
