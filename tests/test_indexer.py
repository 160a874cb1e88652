"""The incremental indexing loop: new, unchanged, changed, moved, deleted, bad and interrupted files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from colour import ColourEmbedder
from videogen import Scene, moving_square, solid, write_audio_only, write_video

from vidsearch.index.indexer import update_index
from vidsearch.query.options import SearchOptions
from vidsearch.query.search import find
from vidsearch.store import Store

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "Videos"
    (lib / "trips" / "2024").mkdir(parents=True)
    write_video(lib / "red.mp4", [Scene(solid(RED), 5)], fps=10)
    write_video(
        lib / "trips" / "2024" / "three scenes.MOV",
        [Scene(solid(GREEN), 4), Scene(solid(BLUE), 4), Scene(moving_square(RED, (255, 255, 255)), 4)],
        fps=25,
    )
    write_video(lib / "phone.mp4", [Scene(solid((230, 230, 20)), 3)], fps=30, size=(96, 160), rotation=90)
    return lib


class Counting:
    """An embedder factory that counts how often the model was loaded."""

    def __init__(self) -> None:
        self.loads = 0
        self.embedder = ColourEmbedder()

    def __call__(self) -> ColourEmbedder:
        self.loads += 1
        return self.embedder


def _index(store: Store, roots: list[Path], factory: Counting | None = None):  # type: ignore[no-untyped-def]
    return update_index(store, [str(r) for r in roots], factory or Counting(), model_name="test")


def test_index_then_find_right_file_at_right_time(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        stats = _index(store, [library])
        assert stats.indexed == 3 and not stats.skipped
        assert stats.moments >= 5
        hits = find(store, ColourEmbedder(), "blue", SearchOptions(limit=3))
        best = hits[0]
        assert best.path.endswith("three scenes.MOV")
        assert 3.0 <= best.start <= 4.6 and 7.4 <= best.end <= 9.0
        assert find(store, ColourEmbedder(), "red", SearchOptions(limit=1))[0].path.endswith("red.mp4")
        phone = find(store, ColourEmbedder(), "yellow", SearchOptions(limit=1))[0]
        assert phone.path.endswith("phone.mp4") and phone.end == pytest.approx(3.0, abs=0.2)
        width, height, rotation = store.db.execute(
            "SELECT width, height, rotation FROM videos WHERE id=?", (phone.video_id,)
        ).fetchone()
        assert (width, height, rotation) == (160, 96, 90)  # shown upright: turned to landscape


def test_rescan_of_unchanged_library_loads_no_model(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, [library])
        again = Counting()
        stats = _index(store, [library], again)
        assert again.loads == 0 and stats.indexed == 0 and stats.unchanged == 3
        assert store.info().moments == _moment_count(store)


def _moment_count(store: Store) -> int:
    return int(store.db.execute("SELECT count(*) FROM moment_vectors").fetchone()[0])


def test_moved_and_renamed_files_keep_their_vectors(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, [library])
        before = _moment_count(store)
        (library / "elsewhere").mkdir()
        os.rename(library / "red.mp4", library / "elsewhere" / "still red.mp4")
        shutil.move(str(library / "trips"), str(library / "old trips"))
        counting = Counting()
        stats = _index(store, [library], counting)
        assert stats.moved == 2 and stats.indexed == 0 and counting.loads == 0
        assert _moment_count(store) == before
        hit = find(store, ColourEmbedder(), "red", SearchOptions(limit=1))[0]
        assert hit.path == str(library / "elsewhere" / "still red.mp4")


@pytest.mark.slow
def test_changed_file_is_re_embedded_and_deleted_file_dropped(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, [library])
        write_video(library / "red.mp4", [Scene(solid(GREEN), 3)], fps=10)  # replaced in place
        os.remove(library / "trips" / "2024" / "three scenes.MOV")
        stats = _index(store, [library])
        assert stats.indexed == 1 and stats.removed == 1
        hits = find(store, ColourEmbedder(), "green", SearchOptions(limit=5))
        assert hits[0].path == str(library / "red.mp4")
        assert all("three scenes" not in h.path for h in hits)


@pytest.mark.slow
def test_bad_files_are_skipped_counted_and_remembered(library: Path, tmp_path: Path) -> None:
    (library / "empty.mp4").write_bytes(b"")
    (library / "noise.mkv").write_bytes(os.urandom(5000))
    (library / "notes.avi").write_text("just some text\n")
    write_audio_only(library / "song.mp4")
    good = (library / "red.mp4").read_bytes()
    (library / "truncated.mp4").write_bytes(good[: len(good) // 3])
    with Store.open(tmp_path / "i.db") as store:
        stats = _index(store, [library])
        skipped = dict(stats.skipped)
        for name in ("empty.mp4", "noise.mkv", "notes.avi", "song.mp4"):
            assert str(library / name) in skipped, name
            assert skipped[str(library / name)].strip()
        assert stats.indexed >= 3  # the good files (and possibly the readable part of truncated.mp4)
        again = _index(store, [library])
        assert again.skipped == [] and again.remembered_failures == len(skipped)
        write_video(library / "empty.mp4", [Scene(solid(BLUE), 3)], fps=10)  # fixed: retried
        fixed = _index(store, [library])
        assert fixed.indexed == 1 and fixed.skipped == []


def test_interrupted_run_resumes_without_duplicates(library: Path, tmp_path: Path) -> None:
    class Interrupting(ColourEmbedder):
        def embed_moments(self, segments):  # type: ignore[no-untyped-def]
            if self.calls >= 1:
                raise KeyboardInterrupt
            return super().embed_moments(segments)

    with Store.open(tmp_path / "i.db") as store:
        with pytest.raises(KeyboardInterrupt):
            update_index(store, [str(library)], Interrupting, model_name="test")
        done = store.info()
        assert done.videos <= 1
        stats = _index(store, [library])
        assert stats.indexed == 3 - done.videos
        ids = [r[0] for r in store.db.execute("SELECT path FROM videos")]
        assert len(ids) == len(set(ids)) == 3
        assert store.info().moments == _moment_count(store)


def test_missing_root_keeps_moments_and_reports_offline(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, [library])
        moments = store.info().moments
        library.rename(tmp_path / "unplugged")
        roots = [r for _, r, _ in store.roots()]  # what `vidsearch index` re-checks with no PATHS
        stats = update_index(store, roots, Counting(), model_name="test")
        assert stats.removed == 0 and stats.offline_roots == [str(library)]
        assert store.roots()[0][2] is False
        hit = find(store, ColourEmbedder(), "red", SearchOptions(limit=1))[0]
        assert hit.available is False
        (tmp_path / "unplugged").rename(library)  # plugged back in
        stats = update_index(store, roots, Counting(), model_name="test")
        assert stats.unchanged == 3 and store.roots()[0][2] is True
        assert store.info().moments == moments


def test_awkward_names_and_symlink_loops(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    names = ["with space.mp4", "new\nline.mp4", os.fsdecode(b"caf\xe9.mp4"), "UPPER.MP4"]
    for name in names:
        write_video(lib / name, [Scene(solid(RED), 2)], fps=10)
    (lib / "loop").symlink_to(lib)  # a folder that contains itself
    (lib / "dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
    with Store.open(tmp_path / "i.db") as store:
        stats = _index(store, [lib])
        assert stats.indexed == len(names)
        paths = {h.path for h in find(store, ColourEmbedder(), "red", SearchOptions(limit=10))}
        assert paths == {str(lib / n) for n in names}
