"""Kill -9 and damaged pages, repeated: does the index ever lose a moment or answer wrongly in silence?

Through the command line, as a user meets it, over a small library of title-card clips:
- kill runs: `vidsearch index` killed (SIGKILL) at a random moment, then checked (SQLite's
  integrity_check, one vector per moment, no video or moment twice) and run again to the end; and
  `vidsearch status --compact` killed at a random moment, then checked the same way;
- corruption runs: one random page of a copy of the finished index overwritten with random bytes
  (whole, or only the values after an overflow page's link), then `vidsearch find`.

Each finished index must hold every moment of a clean run (else: lost moments), and each `find` must
either answer as on the clean index or fail with exit 7 (damaged) naming the way out; an answer that
differs with exit 0 is a silent wrong answer, anything else (a traceback, another exit) a crash.

Prints "N runs, L lost moments, W silent wrong answers, C crashes" and the detail per kind.

usage: python benchmarks/crash_corruption.py [--kills 4] [--compact-kills 4] [--corruptions 12] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from videogen import Scene, solid, title_card, write_video  # noqa: E402

CLIPS = {
    "beach.mp4": ["SUNNY BEACH", "PALM TREES"],
    "dog.mp4": ["A DOG RUNS", "GREEN PARK"],
    "snow.mp4": ["SNOWY MOUNTAIN", "SKI LIFT"],
    "city.mp4": ["CITY AT NIGHT", "RED BUS"],
}
QUERIES = ["sunny beach", "a dog runs", "snowy mountain", "red bus"]


def cli(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "vidsearch", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, text=True)


def check(db: Path) -> tuple[list[str], int]:
    """(problems, moments) of the index at ``db``, read with SQLite itself."""
    import apsw
    import sqlite_vec

    conn = apsw.Connection(str(db))
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='moments'").fetchone():
        conn.close()
        return problems, 0  # killed before the schema was made: an empty file, nothing to lose
    moments = int(conn.execute("SELECT count(*) FROM moments").fetchone()[0])
    has_vectors = conn.execute("SELECT 1 FROM sqlite_master WHERE name='moment_vectors'").fetchone()
    if has_vectors:
        vectors = int(conn.execute("SELECT count(*) FROM moment_vectors_rowids").fetchone()[0])
        if vectors != moments:
            problems.append(f"{moments} moments but {vectors} vectors")
    twice = conn.execute('SELECT count(*) FROM (SELECT video_id, start, "end" FROM moments'
                         ' GROUP BY 1, 2, 3 HAVING count(*) > 1)').fetchone()[0]
    if twice:
        problems.append(f"{twice} moments held twice")
    conn.close()
    return problems, moments


def answers(env: dict[str, str], db: Path, query: str) -> tuple[int, str, str]:
    out = cli(env, "find", query, "--db", str(db), "-n", "5")
    return out.returncode, out.stdout, out.stderr


def corrupt(db: Path, rng: random.Random) -> str:
    """Overwrite one random page of ``db`` (not the first: a file that is not SQLite is another
    failure, tested on its own); return what was done."""
    import apsw
    import sqlite_vec

    conn = apsw.Connection(str(db))
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = {p: (name, kind) for name, p, kind in conn.execute("SELECT name, pageno, pagetype FROM dbstat")}
    conn.close()
    page = rng.choice(sorted(p for p in pages if p > 1))
    name, kind = pages[page]
    values_only = kind == "overflow" and rng.random() < 0.5
    skip = 4 if values_only else 0
    with open(db, "r+b") as f:
        f.seek((page - 1) * size + skip)
        f.write(rng.randbytes(size - skip))
    return f"page {page} ({name}, {kind}{', values only' if values_only else ''})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=4, help="index runs killed at a random moment")
    parser.add_argument("--compact-kills", type=int, default=4, help="status --compact runs killed")
    parser.add_argument("--corruptions", type=int, default=12, help="copies with one damaged page")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="vidsearch-crash-"))
    env = {**os.environ, "XDG_DATA_HOME": str(work / "data"), "XDG_CACHE_HOME": str(work / "cache"),
           "HF_HOME": str(work / "hf"), "VIDSEARCH_NO_SERVICE": "1"}
    env.pop("VIDSEARCH_DB", None)
    lib = work / "lib"
    lib.mkdir()
    for name, titles in CLIPS.items():
        write_video(lib / name, [Scene(title_card(t), 3) for t in titles] + [Scene(solid((90, 90, 90)), 2)],
                    fps=5, size=(320, 192))

    clean = work / "clean.db"
    done = cli(env, "index", str(lib), "--db", str(clean))  # also fills the model's caches
    assert done.returncode == 0, done.stderr
    t = time.perf_counter()  # the kills are spread over the length of a run with warm caches
    done = cli(env, "index", str(lib), "--db", str(work / "warm.db"))
    index_seconds = time.perf_counter() - t
    assert done.returncode == 0, done.stderr
    problems, expected = check(clean)
    assert not problems, problems
    truth = {q: answers(env, clean, q) for q in QUERIES}
    assert all(code == 0 for code, _, _ in truth.values()), truth
    print(f"clean index: {expected} moments in {index_seconds:.1f} s", file=sys.stderr)

    runs = lost = wrong = crashes = 0
    outcomes: Counter[str] = Counter()

    def finished(db: Path, what: str) -> None:
        nonlocal lost, wrong, crashes
        problems, moments = check(db)
        if problems:
            crashes += 1
            print(f"  {what}: inconsistent after the kill: {problems}", file=sys.stderr)
        lost += max(0, expected - moments)
        for q in QUERIES[:2]:
            code, out, err = answers(env, db, q)
            if code != 0 or out != truth[q][1]:
                wrong += 1
                print(f"  {what}: {q!r} answered differently (exit {code}) {err.strip()[:200]}", file=sys.stderr)

    for i in range(args.kills):
        db = work / f"kill{i}.db"
        proc = start(env, "index", str(lib), "--db", str(db))
        when = rng.uniform(0.5, index_seconds)
        try:
            proc.wait(when)
            outcomes["index ended before its kill"] += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        problems, _ = check(db) if db.exists() else ([], 0)
        if problems:
            crashes += 1
            print(f"  index killed at {when:.1f} s: {problems}", file=sys.stderr)
        again = cli(env, "index", str(lib), "--db", str(db))
        if again.returncode != 0:
            crashes += 1
            print(f"  index after a kill at {when:.1f} s: exit {again.returncode} {again.stderr[-300:]}",
                  file=sys.stderr)
        finished(db, f"index killed at {when:.1f} s")
        runs += 1
        outcomes["index killed"] += 1

    for i in range(args.compact_kills):
        db = work / f"compact{i}.db"
        shutil.copy(clean, db)
        proc = start(env, "status", "--compact", "--db", str(db))
        when = rng.uniform(0.2, 3.0)
        try:
            proc.wait(when)
            outcomes["compaction ended before its kill"] += 1
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finished(db, f"compaction killed at {when:.1f} s")
        runs += 1
        outcomes["compaction killed"] += 1

    for i in range(args.corruptions):
        db = work / f"corrupt{i}.db"
        shutil.copy(clean, db)
        what = corrupt(db, rng)
        q = QUERIES[i % len(QUERIES)]
        code, out, err = answers(env, db, q)
        runs += 1
        if code == 7 and "index --rebuild" in err and "Traceback" not in err:
            outcomes["damage reported (exit 7)"] += 1
        elif code == 0 and out == truth[q][1]:
            outcomes["answer unchanged"] += 1
        elif code == 0 or code == 1:
            wrong += 1
            outcomes["silent wrong answer"] += 1
            print(f"  {what}: {q!r} silently answered otherwise (exit {code})", file=sys.stderr)
        else:
            crashes += 1
            outcomes[f"exit {code}"] += 1
            print(f"  {what}: {q!r} exit {code}: {err.strip()[-300:]}", file=sys.stderr)

    shutil.rmtree(work, ignore_errors=True)
    for kind, count in sorted(outcomes.items()):
        print(f"{kind}: {count}")
    print(f"{runs} runs, {lost} lost moments, {wrong} silent wrong answers, {crashes} crashes")


if __name__ == "__main__":
    main()
