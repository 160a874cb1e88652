"""Moment thumbnails: made from the frames indexing decodes, kept in the index beside their moments,
gone with them, and made afterwards (without the model) for an index built before they existed."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from colour import ColourEmbedder
from oldschema import downgrade
from videogen import Scene, solid, write_video

from vidsearch.index.indexer import SilentProgress, update_index
from vidsearch.media.stills import STILL_SIDE, STRIP_FRAMES
from vidsearch.store import Store
from vidsearch.store.migrations import MIGRATIONS, _m4_moment_thumbnails

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 20), (20, 20, 220)


class Counting:
    def __init__(self) -> None:
        self.loads = 0

    def __call__(self) -> ColourEmbedder:
        self.loads += 1
        return ColourEmbedder()


class Recorded(SilentProgress):
    def __init__(self) -> None:
        self.steps: list[tuple[int, int]] = []
        self.notes: list[str] = []

    def thumbnails(self, done: int, total: int) -> None:
        self.steps.append((done, total))

    def note(self, message: str) -> None:
        self.notes.append(message)


def _picture(data: bytes):  # type: ignore[no-untyped-def]
    from PIL import Image

    picture = Image.open(io.BytesIO(data))
    assert picture.format == "JPEG"
    return picture.convert("RGB")


def _colour(data: bytes) -> np.ndarray:
    return np.asarray(_picture(data), np.float32).reshape(-1, 3).mean(axis=0)


def _moments(store: Store) -> dict[int, str]:
    rows = store.db.execute("SELECT m.id, v.path FROM moments m JOIN videos v ON v.id = m.video_id")
    return {int(i): os.fsdecode(bytes(p)) for i, p in rows}


def _with_thumbnails(store: Store) -> set[int]:
    return {int(r[0]) for r in store.db.execute("SELECT moment_id FROM moment_thumbnails")}


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "red.mp4", [Scene(solid(RED), 4)], fps=10, size=(320, 180))
    write_video(lib / "two.mp4", [Scene(solid(GREEN), 4), Scene(solid(BLUE), 4)], fps=10, size=(320, 180))
    return lib


def _index(store: Store, lib: Path, factory: Counting | None = None, progress: Recorded | None = None):  # type: ignore[no-untyped-def]
    return update_index(store, [str(lib)], factory or Counting(), progress, model_name="test")


def test_every_moment_has_a_still_and_a_strip_showing_it(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        stats = _index(store, library)
        moments = _moments(store)
        assert moments and _with_thumbnails(store) == set(moments)
        assert stats.thumbnails_added == 0  # made from the frames embedded, not by decoding again
        for moment_id, path in moments.items():
            still = store.thumbnails.still(moment_id)
            assert still is not None
            picture = _picture(still)
            assert max(picture.size) <= STILL_SIDE
            assert picture.size[0] > picture.size[1]  # the video's shape, not a square
            strip, frames = store.thumbnails.strip(moment_id) or (b"", 0)
            assert 1 <= frames <= STRIP_FRAMES
            sheet = _picture(strip)
            assert sheet.size[0] == pytest.approx(frames * sheet.size[1] * 16 / 9, abs=frames * 2)
            if path.endswith("red.mp4"):
                r, g, b = _colour(still)
                assert r > 150 and g < 80 and b < 80
        # the blue half of two.mp4 is shown by a blue still
        blue = [m for m, p in moments.items() if p.endswith("two.mp4") and store.moment(m).start >= 3.5]  # type: ignore[union-attr]
        assert blue and all(_colour(store.thumbnails.still(m) or b"")[2] > 150 for m in blue)
        info = store.info()
        assert info.thumbnails == len(moments) and info.thumbnail_bytes > 0


def test_thumbnails_go_with_deleted_and_changed_files(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, library)
        os.remove(library / "two.mp4")
        write_video(library / "red.mp4", [Scene(solid(GREEN), 3)], fps=10, size=(320, 180))  # changed in place
        stats = _index(store, library)
        assert stats.removed == 1 and stats.indexed == 1
        moments = _moments(store)
        assert _with_thumbnails(store) == set(moments)  # none left behind by the deleted or changed file
        assert all(p.endswith("red.mp4") for p in moments.values())
        assert all(_colour(store.thumbnails.still(m) or b"")[1] > 150 for m in moments)  # now green
        assert store.db.execute("SELECT count(*) FROM moment_thumbnails").fetchone()[0] == len(moments)


@pytest.mark.slow
def test_an_index_from_before_thumbnails_gets_them_without_the_model(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    with Store.open(db) as store:
        _index(store, library)
        moments = _moments(store)
        vectors_before = store.vectors(sorted(moments))
        # what an index written before thumbnails looks like: no thumbnails table
        downgrade(store.db, MIGRATIONS.index(_m4_moment_thumbnails))
    with Store.open(db) as store:
        assert store.info().thumbnails == 0  # the upgrade made the table, empty
        counting, progress = Counting(), Recorded()
        stats = _index(store, library, counting, progress)
        assert counting.loads == 0 and stats.indexed == 0  # no model, nothing embedded again
        assert stats.thumbnails_added == len(moments)
        assert _with_thumbnails(store) == set(moments)
        assert np.array_equal(store.vectors(sorted(moments)), vectors_before)
        assert progress.steps[0] == (0, len(moments)) and progress.steps[-1] == (len(moments), len(moments))
        assert any("thumbnails" in n for n in progress.notes)
        again = _index(store, library, counting, Recorded())
        assert again.thumbnails_added == 0  # done once


def test_an_offline_file_waits_for_its_thumbnails(library: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        _index(store, library)
        store.db.execute("DELETE FROM moment_thumbnails")
        elsewhere = tmp_path / "unplugged"
        os.rename(library, elsewhere)  # the drive is gone: moments kept, nothing to decode
        stats = _index(store, library)
        assert stats.thumbnails_added == 0 and stats.offline_roots
        os.rename(elsewhere, library)
        assert _index(store, library).thumbnails_added == len(_moments(store))


def test_status_shows_the_thumbnails_size(library: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vidsearch.cli import app

    db = tmp_path / "i.db"
    with Store.open(db) as store:
        _index(store, library)
        count = len(_moments(store))
    result = CliRunner().invoke(app, ["status", "--json", "--db", str(db)])
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["thumbnails"] == count and info["thumbnail_bytes"] > 1000 * count
    assert info["thumbnail_bytes_per_moment"] == pytest.approx(info["thumbnail_bytes"] / count, abs=0.1)
    text = CliRunner().invoke(app, ["status", "--db", str(db)]).stdout
    assert "KiB per moment" in text.split("thumbs:")[1].splitlines()[0]
