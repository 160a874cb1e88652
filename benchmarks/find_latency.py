"""`vidsearch find` as a user runs it: a new process per query, timed from start to exit, with its peak memory.

For each library size (default 1k, 100k and 1M moments: generated 384-d vectors bound to the bundled
lite model, whose sentence model is real and embeds every new query), and for two versions of the code
measured in the same run and interleaved (this checkout, and a baseline: the source of another git
revision, ``main`` by default, extracted to a temporary folder), it runs

    python -m vidsearch find QUERY --db LIBRARY -f tsv

and reports p50/p95 wall time and the p50 of the process's peak resident memory for

* new query        a text never asked before: the query encoder loads and embeds it
* repeated query   a text asked before: its vectors come from the query cache
* service, new / service, repeated   the same through a running ``vidsearch serve`` (the figures
  are the ``find`` process's; the service's own peak memory is printed beside them)
* --version        process start and the command line alone (the floor under every row)

Each version gets its own copy of each library and its own cache folder, since the compact index
file and the cache may differ between versions. Python bytecode is cached in a temporary folder
(as in an installed package) and one untimed run per version comes first. Libraries are generated
once into ``--keep DIR`` when given and reused from there (the 1M library takes several minutes).

    .venv/bin/python benchmarks/find_latency.py                           # 1k, 100k, 1M
    .venv/bin/python benchmarks/find_latency.py --sizes 1000,100000 --repeats 5
    .venv/bin/python benchmarks/find_latency.py --baseline ''              # this checkout only
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from search import PER_VIDEO, library  # benchmarks/search.py: the same generated library

import vidsearch
from vidsearch.embed import lite

SUBJECTS = ["a dog", "two children", "an old man", "a red car", "a cat", "a cyclist", "a sailboat", "a chef",
            "a horse", "a street band", "a skier", "a kite", "a train", "a woman with an umbrella"]
ACTIONS = ["running", "jumping into a lake", "crossing a bridge", "at night", "in the snow", "near the sea",
           "closing a door", "laughing", "under heavy rain", "on a mountain road", "in a kitchen"]
EXTRA_PATH: list[str] = []  # --extra-path: folders put before every version's source (other package versions)
THIS_PATH: list[str] = []  # --this-path: folders put before this checkout's source only
BASELINE_PATH: list[str] = []  # --baseline-path: folders put before the baseline's source only
# Every version's process starts here: `python -m` and `-c` put the working folder first on the path,
# which in a checkout would import that checkout's vidsearch whatever PYTHONPATH says.
NEUTRAL = tempfile.gettempdir()


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    errors: int = 0


@dataclass
class Version:
    name: str
    path: Path  # what goes on PYTHONPATH
    cache: Path = Path()
    socket: Path = Path()


def write_vectors(path: Path, n: int) -> None:
    """The generated library's vectors and video numbers (benchmarks/search.py), saved for the builders."""
    vectors, vids, _ = library(n)
    np.savez(path, vectors=vectors, vids=vids)


# Run with each version's code (PYTHONPATH), so each index file is in the schema its version writes:
# the arguments are the saved vectors, the index file and the moments per video.
BUILD = """
import sys
import numpy as np
from vidsearch.embed import lite
from vidsearch.store import Store

data = np.load(sys.argv[1])
vectors, vids, per_video = data["vectors"], data["vids"], int(sys.argv[3])
n = len(vectors)
with Store.open(sys.argv[2]) as store:
    store.bind_model("lite", lite.MODEL_ID, lite.DIM)
    videos = int(vids.max())
    for lo in range(0, videos, 500):  # one transaction per 500 videos: far fewer syncs
        with store.transaction():
            for v in range(lo, min(videos, lo + 500)):
                rows = slice(v * per_video, min(n, (v + 1) * per_video))
                store.save_video(
                    path=f"/library/{v % 20:02d}/{v % 200:03d}/video{v}.mp4", root_id=None, size=1,
                    mtime_ns=1, fingerprint=str(v), info=None,
                    moments=[(float(i), float(i + 1)) for i in range(rows.stop - rows.start)],
                    vectors=vectors[rows],
                )
    store.refresh_search_index()
"""


def source_of(revision: str, into: Path) -> Path:
    """The source folder of ``revision`` of this repository (for PYTHONPATH), extracted under ``into``."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "-C", str(repo), "archive", revision], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src" if (into / "src" / "vidsearch").is_dir() else into


def environment(version: Version, pycache: Path, service: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "VIDSEARCH_NO_SERVICE")}
    own = THIS_PATH if version.name == "this" else BASELINE_PATH
    env.update(PYTHONPATH=os.pathsep.join([*EXTRA_PATH, *own, str(version.path)]),
               PYTHONPYCACHEPREFIX=str(pycache / version.name), XDG_CACHE_HOME=str(version.cache),
               VIDSEARCH_SOCKET=str(version.socket))
    if not service:
        env["VIDSEARCH_NO_SERVICE"] = "1"
    return env


def run_once(args: list[str], env: dict[str, str], runs: Runs) -> None:
    """Run ``python -m vidsearch ARGS`` to its end; record its wall time and peak resident memory."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "vidsearch", *args], env=env, cwd=NEUTRAL,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        runs.wall.append(time.perf_counter() - started)
        proc.returncode = os.waitstatus_to_exitcode(status)
        runs.rss.append(usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024))
        if proc.returncode not in (0, 1):  # 1: nothing matched, still a search
            runs.errors += 1
            err.seek(0)
            print(f"   ! exit {proc.returncode}: {err.read().decode(errors='replace')[-400:]}", file=sys.stderr)


def start_service(env: dict[str, str], socket: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "vidsearch", "serve", "--idle", "900"], env=env, cwd=NEUTRAL,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not socket.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc


def peak_rss_of(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure(db_of: dict[str, Path], versions: list[Version], pycache: Path, repeats: int,
            with_service: bool) -> tuple[dict[tuple[str, str], Runs], dict[str, int]]:
    texts = (f"{s} {a}" for s, a in itertools.product(SUBJECTS, ACTIONS))
    results: dict[tuple[str, str], Runs] = {}
    service_rss: dict[str, int] = {}

    def runs(row: str, version: Version) -> Runs:
        return results.setdefault((row, version.name), Runs())

    repeated = next(texts)
    for version in versions:  # untimed: compiles bytecode, opens the index, caches the repeated query
        run_once(["find", repeated, "--db", str(db_of[version.name]), "-f", "tsv"],
                 environment(version, pycache, False), Runs())
    for _ in range(repeats):
        for version in versions:  # interleaved, so both versions meet the same noise
            env = environment(version, pycache, False)
            db = ["--db", str(db_of[version.name]), "-f", "tsv"]
            run_once(["find", next(texts), *db], env, runs("new query", version))
            run_once(["find", repeated, *db], env, runs("repeated query", version))
            run_once(["--version"], env, runs("--version", version))
    if with_service:
        for version in versions:
            env = environment(version, pycache, True)
            db = ["--db", str(db_of[version.name]), "-f", "tsv"]
            server = start_service(env, version.socket)
            try:
                run_once(["find", repeated, *db], env, Runs())  # the service loads the model
                for _ in range(repeats):
                    run_once(["find", next(texts), *db], env, runs("service, new query", version))
                    run_once(["find", repeated, *db], env, runs("service, repeated", version))
                service_rss[version.name] = peak_rss_of(server.pid)
            finally:
                server.terminate()
                server.wait()
    return results, service_rss


def report(n: int, results: dict[tuple[str, str], Runs], service_rss: dict[str, int],
           versions: list[Version]) -> None:
    print(f"\n== vidsearch find, {n} moments, lite model (new process per query; p50 of peak RSS)")
    print(f"   {'path':20s} {'version':10s} {'p50 s':>7s} {'p95 s':>7s} {'RSS MB':>7s} {'runs':>5s}")
    rows = list(dict.fromkeys(row for row, _ in results))
    for row in rows:
        for version in versions:
            r = results.get((row, version.name))
            if not r or not r.wall:
                continue
            extra = f"  ({r.errors} failed)" if r.errors else ""
            if row.startswith("service") and version.name in service_rss:
                extra += f"  service peak RSS {service_rss[version.name] / 2**20:.0f} MB"
            print(f"   {row:20s} {version.name:10s} {np.percentile(r.wall, 50):7.3f} {np.percentile(r.wall, 95):7.3f}"
                  f" {np.median(r.rss) / 2**20:7.0f} {len(r.wall):5d}{extra}")
        if len(versions) == 2:
            base, this = (results.get((row, v.name)) for v in versions[::-1])
            if base and this and base.wall and this.wall:
                print(f"   {'':20s} {'ratio':10s} {np.median(base.wall) / np.median(this.wall):6.2f}x"
                      f" faster, {np.median(base.rss) / np.median(this.rss):.2f}x less memory ({versions[1].name}"
                      f" / {versions[0].name})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="library sizes in moments")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per row and version")
    parser.add_argument("--baseline", default="main", help="git revision to compare with ('' for none)")
    parser.add_argument("--keep", help="generate libraries into this folder once and reuse them")
    parser.add_argument("--no-service", action="store_true", help="skip the rows through vidsearch serve")
    parser.add_argument("--extra-path", action="append", default=[],
                        help="a folder of packages put first on every version's path, e.g. another typer "
                        "(pip install --target DIR --no-deps 'typer<0.29')")
    parser.add_argument("--this-path", action="append", default=[],
                        help="a folder of packages put first for this checkout only: the versions it pins, where "
                        "this environment holds others (the baseline keeps the environment's)")
    parser.add_argument("--baseline-path", action="append", default=[],
                        help="a folder of packages put first for the baseline only: the versions it ran with, "
                        "where this environment holds the ones this checkout pins")
    parser.add_argument("--vectors", nargs=2, metavar=("PATH", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.vectors:
        write_vectors(Path(args.vectors[0]), int(args.vectors[1]))
        return
    EXTRA_PATH.extend(args.extra_path)
    THIS_PATH.extend(args.this_path)
    BASELINE_PATH.extend(args.baseline_path)
    ok, why = lite.available()
    if not ok:
        sys.exit(f"the lite model is not installed: {why}")
    work = Path(tempfile.mkdtemp(prefix="vidsearch-find-"))
    versions: list[Version] = []
    store_dir = Path(args.keep) if args.keep else work / "libraries"
    store_dir.mkdir(parents=True, exist_ok=True)
    try:
        versions.append(Version("this", Path(vidsearch.__file__).resolve().parent.parent))
        if args.baseline:
            (work / "baseline").mkdir()
            versions.append(Version(args.baseline[:10], source_of(args.baseline, work / "baseline")))
        for version in versions:
            version.socket = Path(tempfile.mkdtemp(prefix="vs-", dir="/tmp")) / "s.sock"  # AF_UNIX paths: short
        for n in (int(s) for s in args.sizes.split(",") if s):
            db_of = {}
            for i, version in enumerate(versions):  # each version writes its own: index schemas differ
                source = store_dir / f"lite-{n}-{version.name}.db"
                if not source.exists():
                    started = time.perf_counter()
                    saved = work / f"vectors-{n}.npz"
                    if not saved.exists():
                        # in a process of its own: a child's peak memory starts from its parent's, so a
                        # parent grown by generating vectors would show in every timed process's figure
                        subprocess.run([sys.executable, __file__, "--vectors", str(saved), str(n)], check=True)
                    env = environment(version, work / "pycache", False)
                    for stale in source.parent.glob(source.with_suffix(".tmp").name + "*"):
                        stale.unlink()  # a build that was stopped half-way
                    subprocess.run([sys.executable, "-c", BUILD, str(saved), str(source.with_suffix(".tmp")),
                                    str(PER_VIDEO)], env=env, cwd=NEUTRAL, check=True)
                    os.replace(source.with_suffix(".tmp"), source)
                    print(f"(built the {n}-moment library for {version.name} in "
                          f"{time.perf_counter() - started:.0f} s)", file=sys.stderr)
                db_of[version.name] = work / f"v{i}-{n}.db"
                shutil.copyfile(source, db_of[version.name])
                subprocess.run([sys.executable, "-c", "import sys; from vidsearch.store import Store; "
                                "Store.open(sys.argv[1]).refresh_search_index()", str(db_of[version.name])],
                               env=environment(version, work / "pycache", False), cwd=NEUTRAL, check=True)
            for i, version in enumerate(versions):  # a fresh query cache per library: new queries stay new
                version.cache = work / f"cache-{i}-{n}"
            results, service_rss = measure(db_of, versions, work / "pycache", args.repeats, not args.no_service)
            report(n, results, service_rss, versions)
            for db in db_of.values():
                for leftover in db.parent.glob(db.name + "*"):
                    leftover.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
        for version in versions:
            shutil.rmtree(version.socket.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
