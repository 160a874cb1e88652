"""vidsearch as a Python library (``vidsearch.Library``), and the error contract it shares with the CLI
and the query service."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from videogen import Scene, solid, title_card, write_video

from vidsearch import Library, service
from vidsearch.errors import QueryError, UsageError
from vidsearch.store import Store


@pytest.mark.slow
def test_index_and_find_from_python(tmp_path: Path) -> None:
    videos = tmp_path / "Videos"
    videos.mkdir()
    write_video(videos / "trip.mp4", [Scene(solid((30, 90, 30)), 3), Scene(title_card("WELCOME TO LISBON"), 3)],
                fps=10, size=(640, 360))
    write_video(videos / "party.mp4", [Scene(title_card("HAPPY BIRTHDAY ANNA"), 4)], fps=10, size=(640, 360))
    with Library.open(tmp_path / "lib.db", create=True, model="lite") as library:
        stats = library.index([videos])
        assert stats.indexed == 2
        found = library.find("welcome to lisbon", limit=3, explain=True)
        status = library.status()
    assert found.hits[0].path == str(videos / "trip.mp4")
    assert found.hits[0].start >= 2.0  # the title, not the green opening
    assert found.explanation  # how the query was read
    assert status.videos == 2 and status.model == "lite"


@pytest.mark.slow
def test_the_readmes_library_example_runs(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme.split("### As a library", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    videos = tmp_path / "Videos"
    videos.mkdir()
    write_video(videos / "lake.mp4", [Scene(title_card("A DOG JUMPING INTO A LAKE"), 3)], fps=10, size=(320, 180))
    code = code.replace('"~/videos.db"', repr(str(tmp_path / "videos.db"))).replace('"~/Videos"', repr(str(videos)))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(videos / "lake.mp4") + " ")
    assert lines[-1] == "1 moments" or lines[-1].endswith(" moments")


def test_open_without_an_index_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="vidsearch index PATH"):
        Library.open(tmp_path / "none.db")
    assert not (tmp_path / "none.db").exists()


class _Fixed:
    model_id, dim, frame_side, frames_per_moment = "fixed-1", 4, 64, 2

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        return np.tile(np.array([[1.0, 0.0, 0.0, 0.0]], np.float32), (len(texts), 1))

    def close(self) -> None:
        pass


@pytest.fixture
def small_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("vidsearch.models.load_embedder", lambda *a, **k: _Fixed())
    db = tmp_path / "index.db"
    with Store.open(db) as store:
        store.bind_model("lite", "fixed-1", 4)
        vecs = np.eye(4, dtype=np.float32)
        store.save_video(path="/lib/a.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="a", info=None,
                         moments=[(i * 2.0, i * 2.0 + 2) for i in range(4)], vectors=vecs)
    return db




BAD_QUERY = "show me"  # nothing left once filler words are removed: a QueryError


def _find_exit_code(db: Path) -> tuple[int, str]:
    out = subprocess.run([sys.executable, "-m", "vidsearch", "find", BAD_QUERY, "--db", str(db)],
                         capture_output=True, text=True, timeout=300)
    return out.returncode, out.stderr


@pytest.mark.slow
def test_a_bad_query_exits_2_without_the_service(small_index: Path) -> None:
    code, err = _find_exit_code(small_index)
    assert code == 2, err
    assert "filler words" in err


@pytest.mark.slow
def test_a_bad_query_exits_2_through_the_service(small_index: Path, running: Path) -> None:
    assert service.request({"op": "ping"}) is not None
    with pytest.raises(QueryError):  # the service's error comes back as the same class
        service.ask_find(service.find_request(small_index, None, "auto", "auto", BAD_QUERY, _options()))
    code, err = _find_exit_code(small_index)
    assert code == 2, err
    assert "filler words" in err


def _options():  # type: ignore[no-untyped-def]
    from vidsearch.query.options import SearchOptions

    return SearchOptions()


@pytest.mark.slow
def test_the_library_never_imports_the_command_line() -> None:
    code = (
        "import sys, vidsearch, vidsearch.library, vidsearch.service.server, vidsearch.index.watch; "
        "print(sorted(m for m in sys.modules if m.startswith('vidsearch.cli')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
