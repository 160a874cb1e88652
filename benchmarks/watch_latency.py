"""How quickly `watch` makes a new file searchable, and what a watcher costs while nothing happens.

Prints:
- latency: for each of --files clips copied into a watched folder in chunks (like a slow copy), the
  seconds from the file's last write to it being searchable (a row in the index, read from another
  connection, as `find` would), split into the settle wait and the indexing itself; the model is
  loaded before the clock starts (it loads once per watcher);
- idle CPU: the CPU time a watcher uses per wall second over a library of --library tiny fake .mp4
  files pre-registered in the index (as in index_speed.py's rescan part), with change events and, for
  comparison, in --poll mode; plus the time its start-up catch-up takes over that library.

usage: python benchmarks/watch_latency.py [--model lite] [--files 5] [--seconds 10] [--settle 2]
                                          [--library 10000] [--idle 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from _library import no_model, register_fake_library  # noqa: E402
from videogen import Scene, moving_square, solid, write_video  # noqa: E402

from vidsearch.index.watch import Watcher, WatchEvent  # noqa: E402
from vidsearch.store import Store  # noqa: E402


def start(watcher: Watcher) -> threading.Thread:
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    return thread


def wait_for(condition, timeout: float = 300.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)


def bench_latency(args: argparse.Namespace, work: Path) -> None:
    from vidsearch.models import load_embedder

    lib = work / "lib"
    lib.mkdir()
    sources = []
    for i in range(args.files):
        src = work / f"src{i}.mp4"
        write_video(src, [Scene(solid((40 * i % 255, 90, 160)), args.seconds / 2),
                          Scene(moving_square((30, 30, 30), (240, 200, 40)), args.seconds / 2)],
                    fps=25, size=(640, 360))
        sources.append(src)
    t = time.perf_counter()
    embedder = load_embedder(args.model)
    print(f"model {args.model}: loaded in {time.perf_counter() - t:.1f} s (before the clock starts)")
    events: list[tuple[float, WatchEvent]] = []
    db = work / "latency.db"
    watcher = Watcher(db, [str(lib)], lambda: embedder, model_name=args.model, settle=args.settle,
                      on_event=lambda e: events.append((time.monotonic(), e)))
    thread = start(watcher)
    wait_for(lambda: any(e.kind == "caught-up" for _, e in events))
    reader = Store.open(db)
    rows = []
    for src in sources:
        dest = lib / src.name
        data = src.read_bytes()
        with open(dest, "wb") as fh:  # a copy in 4 chunks, 0.2 s apart
            for k in range(4):
                fh.write(data[k * len(data) // 4 : (k + 1) * len(data) // 4])
                fh.flush()
                time.sleep(0.2)
        last_write = time.monotonic()

        def searchable(path: Path = dest) -> bool:
            video = reader.video_by_path(path)
            return video is not None and video.status == "indexed"

        wait_for(searchable)
        found = time.monotonic()
        started = next(at for at, e in events if e.kind == "indexing" and e.path == str(dest))
        rows.append((found - last_write, started - last_write, found - started))
    watcher.request_stop()
    thread.join()
    reader.close()
    total = [r[0] for r in rows]
    print(f"latency from last write to searchable, {len(rows)} clips of {args.seconds:.0f} s at 640x360, "
          f"settle {args.settle:g} s:")
    print(f"  median {statistics.median(total):.2f} s, max {max(total):.2f} s")
    print(f"  of which waiting to settle (last write -> indexing starts): "
          f"median {statistics.median(r[1] for r in rows):.2f} s")
    indexing = statistics.median(r[2] for r in rows)
    print(f"  of which indexing (decode + embed + store): median {indexing:.2f} s")


def bench_idle(args: argparse.Namespace, work: Path) -> None:
    lib = work / "big"
    db = work / "idle.db"
    with Store.open(db) as store:
        n = register_fake_library(store, lib, args.library)

    for poll in (False, True):
        events: list[WatchEvent] = []
        watcher = Watcher(db, [str(lib)], no_model, model_name="bench", settle=args.settle, poll=poll,
                          on_event=events.append)
        t = time.perf_counter()
        thread = start(watcher)
        wait_for(lambda seen=events: any(e.kind == "caught-up" for e in seen))
        startup = time.perf_counter() - t
        time.sleep(1.0)  # let the observers finish their first scan
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(args.idle)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        watcher.request_stop()
        thread.join()
        mode = "polling every 2 s" if poll else "change events"
        print(f"idle watcher over {n} files ({mode}): {100 * cpu / wall:.2f}% of one core "
              f"({cpu:.3f} s CPU in {wall:.0f} s); start-up catch-up {startup:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="lite")
    parser.add_argument("--files", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--library", type=int, default=10_000)
    parser.add_argument("--idle", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_latency(args, Path(tmp))
        bench_idle(args, Path(tmp))


if __name__ == "__main__":
    main()
