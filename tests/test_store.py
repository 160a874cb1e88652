"""The index file: schema, model binding, writes that commit whole, KNN reads with filters."""

from __future__ import annotations

import os
from pathlib import Path

import apsw
import numpy as np
import pytest
from oldschema import downgrade

from vidsearch.config import db_path as default_db_path
from vidsearch.errors import IndexLockedError, IndexMismatchError, IndexVersionError, UsageError
from vidsearch.locks import writer_lock
from vidsearch.store import SCHEMA_VERSION, Store
from vidsearch.types import MomentCost, VideoInfo


def _unit(rows: list[list[float]]) -> np.ndarray:
    a = np.array(rows, dtype=np.float32)
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _info(path: str, duration: float = 10.0) -> VideoInfo:
    return VideoInfo(path=path, duration=duration, fps=25.0, width=64, height=48, rotation=0, codec="h264")


def _add(store: Store, path: str, vectors: np.ndarray, span: float = 2.0) -> int:
    moments = [(i * span, (i + 1) * span) for i in range(len(vectors))]
    return store.save_video(
        path=path, root_id=None, size=1, mtime_ns=1, fingerprint=os.fsencode(path).hex(), info=_info(path),
        moments=moments, vectors=vectors, costs=[MomentCost(frames=3)] * len(vectors),
    )


def test_default_path_follows_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDSEARCH_DB", str(tmp_path / "x.db"))
    assert default_db_path() == tmp_path / "x.db"
    monkeypatch.delenv("VIDSEARCH_DB")
    assert str(default_db_path()).startswith(os.environ["XDG_DATA_HOME"])


def test_new_index_has_current_schema_and_wal(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_refuses_missing_index_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="vidsearch index"):
        Store.open(tmp_path / "none.db", create=False)


def test_refuses_newer_schema(tmp_path: Path) -> None:
    Store.open(tmp_path / "i.db").close()
    conn = apsw.Connection(str(tmp_path / "i.db"))
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(IndexVersionError, match="newer vidsearch"):
        Store.open(tmp_path / "i.db")


def test_index_of_the_previous_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    # schema 2 had no budget column (and 3 no setting): an index written then keeps its moments and
    # vectors, and their budget and setting read as "" (none recorded) after the upgrade
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("lite", "lite-1", 3)
        _add(store, "/v/a.mp4", _unit([[1, 0, 0], [0, 1, 0]]))
        downgrade(store.db, 2)
    with Store.open(tmp_path / "i.db") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        rows = store.db.execute("SELECT id FROM moments ORDER BY id").fetchall()
        found = store.candidates({rows[0][0]: 0.9, rows[1][0]: 0.5})
        assert store.vectors([rows[0][0]]).shape == (1, 3)  # checksums were computed for the old rows
        assert store.verify_rows() == []
        assert [c.cost["frames"] for c in found] == [3, 3]
        assert [c.cost["budget"] for c in found] == ["", ""]
        assert [c.cost["setting"] for c in found] == ["", ""]
        assert store.info().budgets == {}
        _add(store, "/v/b.mp4", _unit([[0, 0, 1]]))  # new moments are written with the new column
        assert store.info().moments == 3


@pytest.mark.slow
def test_processes_opening_an_old_index_at_once_migrate_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After an upgrade, `vidsearch find` and a restarted `watch` may open the old index together. The
    # first migrates it; one that opens meanwhile waits, then finds it done (no "duplicate column").
    import threading

    from vidsearch.store import migrations as store_db

    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("lite", "lite-1", 3)
        _add(store, "/v/a.mp4", _unit([[1, 0, 0]]))
        downgrade(store.db, 2)
    inside, release = threading.Event(), threading.Event()
    migrate = store_db.MIGRATIONS[2]

    def held_open(db) -> None:  # the first opener stops inside its migration until released
        if threading.current_thread().name == "first":
            inside.set()
            release.wait(10)
        migrate(db)

    monkeypatch.setattr(store_db, "MIGRATIONS", [*store_db.MIGRATIONS[:2], held_open, *store_db.MIGRATIONS[3:]])
    failures: list[BaseException] = []

    def open_it() -> None:
        try:
            Store.open(tmp_path / "i.db").close()
        except BaseException as exc:  # collected and reported below
            failures.append(exc)

    first = threading.Thread(target=open_it, name="first")
    first.start()
    assert inside.wait(10)
    second = threading.Thread(target=open_it, name="second")
    second.start()
    second.join(0.5)  # it waits for the first (a writer lock), it does not migrate beside it
    release.set()
    first.join()
    second.join()
    assert failures == []
    with Store.open(tmp_path / "i.db") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.info().moments == 1


def test_budget_reasons_are_kept_and_counted(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("m", "m-1", 3)
        reasons = ["static (motion 0.000)", "static (motion 0.001)", "some motion (motion 0.02)",
                   "slow change (span 0.05); visual drift 0.08 >= 0.01 at 4x160: embedded again at the full budget"]
        store.save_video(
            path="/v/a.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="aa", info=_info("/v/a.mp4"),
            moments=[(i, i + 1.0) for i in range(4)], vectors=_unit([[1, 0, 0]] * 4),
            costs=[MomentCost(frames=2, budget=r, setting="faithful") for r in reasons],
        )
        ids = [r[0] for r in store.db.execute("SELECT id FROM moments ORDER BY id")]
        found = store.candidates({i: 1.0 - n / 10 for n, i in enumerate(ids)})
        assert [c.cost["budget"] for c in found] == reasons
        assert {c.cost["setting"] for c in found} == {"faithful"}
        info = store.info()
        assert info.budgets == {"static": 2, "some motion": 1, "slow change": 1}
        assert info.budget_escalations == 1
        assert info.budget_settings == {"faithful": 4}


def test_not_an_index(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(UsageError, match="not a vidsearch index"):
        Store.open(tmp_path / "junk.db")


def test_model_binding_refuses_another_model(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("lite", "lite-1", 3)
        store.bind_model("lite", "lite-1", 3)  # same model: fine
        with pytest.raises(IndexMismatchError, match="--rebuild"):
            store.bind_model("qwen", "qwen-1", 2048)
        store.reset_vectors()
        store.bind_model("qwen", "qwen-1", 2048)
        assert store.model == "qwen" and store.dim == 2048


def test_nearest_ranks_by_cosine_and_filters_inside_knn(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("t", "t", 3)
        a = _add(store, "/lib/a.mp4", _unit([[1, 0, 0], [0.9, 0.1, 0]]))
        b = _add(store, "/lib/sub/b.mp4", _unit([[0, 1, 0], [0.5, 0.5, 0]] + [[0.8, 0.2, 0.0]] * 20))
        top = store.nearest(_unit([[1, 0, 0]])[0], 3)
        assert [c.video_id for c in top[:2]] == [a, a]
        assert top[0].similarity == pytest.approx(1.0, abs=1e-5)
        assert (top[0].start, top[0].end) == (0.0, 2.0)
        # b's moments are all further than a's; filtered to b we still get k of them
        only_b = store.nearest(_unit([[1, 0, 0]])[0], 5, store.video_ids_under(["/lib/sub"]))
        assert len(only_b) == 5 and {c.video_id for c in only_b} == {b}
        assert store.video_ids_under(["/lib"]) == sorted([a, b])
        assert store.video_ids_under(["/li"]) == []  # a prefix of a name is not a folder


def test_save_video_replaces_and_delete_removes_vectors(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("t", "t", 3)
        _add(store, "/v.mp4", _unit([[1, 0, 0], [0, 1, 0]]))
        vid = _add(store, "/v.mp4", _unit([[0, 0, 1]]))
        assert len(store.moments_of(vid)) == 1
        assert store.db.execute("SELECT count(*) FROM moment_vectors").fetchone()[0] == 1
        store.delete_video(vid)
        assert store.db.execute("SELECT count(*) FROM moment_vectors").fetchone()[0] == 0
        assert store.info().moments == 0


def test_interrupted_write_leaves_nothing_half_done(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("t", "t", 3)
        bad = np.array([[1, 0, 0], [1, 0]], dtype=object)  # second vector malformed -> fails mid-write
        with pytest.raises(ValueError):
            store.save_video(path="/v.mp4", root_id=None, size=1, mtime_ns=1, fingerprint="f",
                             info=_info("/v.mp4"), moments=[(0, 1), (1, 2)], vectors=bad)
        assert store.video_by_path("/v.mp4") is None
        assert store.info().moments == 0


def test_non_utf8_path_round_trips(tmp_path: Path) -> None:
    weird = os.fsdecode(b"/lib/caf\xe9 \n tab\t.mp4")
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("t", "t", 3)
        _add(store, weird, _unit([[1, 0, 0]]))
        hit = store.nearest(_unit([[1, 0, 0]])[0], 1)[0]
        assert os.fsencode(hit.path) == b"/lib/caf\xe9 \n tab\t.mp4"


def test_writer_lock_names_the_holder(tmp_path: Path) -> None:
    db = tmp_path / "i.db"
    with writer_lock(db):
        import subprocess
        import sys

        code = (
            "import sys; from vidsearch.locks import writer_lock\n"
            "from vidsearch.errors import IndexLockedError\n"
            f"try:\n    with writer_lock({str(db)!r}): sys.exit(0)\n"
            "except IndexLockedError as e:\n    print(e); sys.exit(7)\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 7 and f"pid {os.getpid()}" in out.stdout
    with writer_lock(db):  # released: can be taken again
        pass
    assert IndexLockedError.exit_code != 0


def test_library_sample_spreads_over_the_whole_library(tmp_path: Path) -> None:
    with Store.open(tmp_path / "i.db") as store:
        store.bind_model("t", "t", 3)
        for v in range(50):
            _add(store, f"/lib/v{v}.mp4", _unit([[1, v, 0]] * 100))
        ids = store.sample_moment_ids(200)
        assert len(ids) == 200 == len(set(ids))
        all_ids = [r[0] for r in store.db.execute("SELECT id FROM moments ORDER BY id")]
        assert ids[0] == all_ids[0] and ids[-1] >= all_ids[-30]  # first to last, not just the start
        small = store.sample_moment_ids(10, within=[1])
        assert len(small) == 10 and set(small) <= {m for m, _, _ in store.moments_of(1)}
