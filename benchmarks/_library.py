"""A fake library for the rescan benchmarks: many tiny .mp4 files, each already known to the index.

Shared by index_speed.py (unchanged rescan) and watch_latency.py (idle watcher). Import it with the
benchmarks folder on sys.path (running ``python benchmarks/NAME.py`` puts it there).
"""

from __future__ import annotations

import os
from pathlib import Path

from vidsearch.embed.base import Embedder
from vidsearch.media.scan import fingerprint
from vidsearch.store import Store


def register_fake_library(store: Store, lib: Path, files: int, per_dir: int = 100) -> int:
    """Write about ``files`` 64-byte fake .mp4 files under ``lib`` (``per_dir`` a folder, at least one
    folder) and record each in ``store`` as a known-bad file with its current size, mtime and
    fingerprint, so that a rescan finds every one unchanged. Returns how many files were written."""
    for d in range(max(1, files // per_dir)):
        (lib / f"d{d:03d}").mkdir(parents=True)
        for i in range(per_dir):
            (lib / f"d{d:03d}" / f"v{i:03d}.mp4").write_bytes(b"\0" * 64)
    store.bind_model("bench", "bench", 4)
    root_id = store.add_root(str(lib))
    n = 0
    with store.transaction():
        for dirpath, _, names in os.walk(lib):
            for name in names:
                p = os.path.join(dirpath, name)
                st = os.stat(p)
                store.save_video(path=p, root_id=root_id, size=st.st_size, mtime_ns=st.st_mtime_ns,
                                 fingerprint=fingerprint(p), info=None, error="placeholder")
                n += 1
    return n


def no_model() -> Embedder:
    """The embedder factory of a run that must find nothing to embed."""
    raise AssertionError("an unchanged library must not load the model")
