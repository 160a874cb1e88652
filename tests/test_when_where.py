"""When and where, end to end through the index: dates, places and cameras read at index time, the
filters inside the search, place names as words, the order of hits, and an older index filled in
without re-embedding.

The videos are written here with the tags phones and cameras write (QuickTime keys with a time
zone, a GoPro's clock), phone-style names, and none at all. The embedder is the colour test
embedder: the pictures are plain colours, so a place can only be known from the file's tags.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from datetime import datetime, timezone
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from colour import ColourEmbedder
from oldschema import downgrade
from videogen import Scene, solid, write_video

from vidsearch.errors import UsageError
from vidsearch.index.indexer import move_prefix, update_index
from vidsearch.media import metadata as md
from vidsearch.media.places import haversine_km
from vidsearch.query.options import Explanation, LikeRef, SearchOptions
from vidsearch.query.search import find
from vidsearch.store import SCHEMA_VERSION, Store
from vidsearch.types import Hit

BLUE, RED, YELLOW = (20, 20, 220), (220, 20, 20), (220, 220, 20)
KEEP_TAGS = {"movflags": "use_metadata_tags"}  # the mov muxer writes QuickTime keys only when asked
LISBON = (38.7223, -9.1393)
NORTH = (38.8123, -9.1393)  # 10 km north of LISBON
TODAY = "2025-03-01"


def _apple(when: str, lat: float, lon: float) -> dict[str, str]:
    return {
        "com.apple.quicktime.creationdate": when,
        "com.apple.quicktime.location.ISO6709": f"{lat:+08.4f}{lon:+09.4f}+012.000/",
        "com.apple.quicktime.make": "Apple",
        "com.apple.quicktime.model": "iPhone 13",
    }


def _write_library(lib: Path) -> None:
    lib.mkdir(parents=True)
    # filmed in Lisbon at half past midnight on July 4 local time: still July 3 in UTC
    write_video(lib / "IMG_0001.MOV", [Scene(solid(BLUE), 3)], metadata=_apple("2021-07-04T00:30:00+0100", *LISBON),
                options=KEEP_TAGS)  # fmt: skip
    # 10 km north, half an hour earlier: July 3 local time
    write_video(lib / "IMG_0002.MOV", [Scene(solid(BLUE), 3)], metadata=_apple("2021-07-03T23:00:00+0100", *NORTH),
                options=KEEP_TAGS)  # fmt: skip
    write_video(lib / "VID_20210815_101500.mp4", [Scene(solid(RED), 3)])  # the date is in the name only
    # a GoPro writes its own clock, with no zone: half an hour before 2023 where it was filmed
    write_video(lib / "GX010123.MP4", [Scene(solid(BLUE), 3)], metadata={"creation_time": "2022-12-31T23:30:00Z"})
    write_video(lib / "plain.mp4", [Scene(solid(YELLOW), 3)])  # no tags, no date in the name
    stamp = datetime(2019, 5, 5, 12, 0).timestamp()  # noon local time
    os.utime(lib / "plain.mp4", (stamp, stamp))


class Counting:
    """An embedder factory that counts how often the model was loaded."""

    def __init__(self) -> None:
        self.loads = 0

    def __call__(self) -> ColourEmbedder:
        self.loads += 1
        return ColourEmbedder()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(library folder, index file), indexed once; tests that change them work on a copy."""
    base = tmp_path_factory.mktemp("when-where")
    _write_library(base / "lib")
    with Store.open(base / "i.db") as store:
        stats = update_index(store, [str(base / "lib")], Counting(), model_name="test")
        assert stats.indexed == 5 and not stats.skipped
    return base / "lib", base / "i.db"


@pytest.fixture
def store(indexed: tuple[Path, Path]):  # type: ignore[no-untyped-def]
    with Store.open(indexed[1]) as s:
        yield s


@pytest.fixture
def copied(indexed: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the library and its index that a test may change."""
    lib, db = tmp_path / "lib", tmp_path / "i.db"
    shutil.copytree(indexed[0], lib, copy_function=shutil.copy2)  # keeps modification times
    with Store.open(indexed[1]) as src, Store.open(db) as dst:
        src.db.execute(f"VACUUM INTO '{db}.tmp'")
        dst.close()
    os.replace(f"{db}.tmp", db)
    with Store.open(db) as store:
        for video_id, path in store.db.execute("SELECT id, path FROM videos").fetchall():
            moved = os.path.join(lib, os.path.basename(os.fsdecode(path)))
            store.db.execute("UPDATE videos SET path=? WHERE id=?", (os.fsencode(moved), video_id))
        store.db.execute("UPDATE roots SET path=?", (os.fsencode(str(lib)),))
    return lib, db


def _search(store: Store, text: str = "", **options: object) -> tuple[list[str], list[str]]:
    """(file names of the hits, explanation lines)."""
    explanation = Explanation()
    opts = SearchOptions(explain=True, today=TODAY, **options)  # type: ignore[arg-type]
    hits = find(store, ColourEmbedder(), text, opts, explanation)
    return [os.path.basename(h.path) for h in hits], explanation.lines


def _hits(store: Store, text: str = "", **options: object) -> list[Hit]:
    return find(store, ColourEmbedder(), text, SearchOptions(today=TODAY, **options))  # type: ignore[arg-type]


def _facts(store: Store, name: str):  # type: ignore[no-untyped-def]
    (video_id,) = [i for i, p in store.db.execute("SELECT id, path FROM videos") if os.fsdecode(p).endswith(name)]
    return store.facts.of([video_id])[video_id]


def _wall(facts) -> str:  # type: ignore[no-untyped-def]
    return datetime.fromtimestamp(facts.recorded_local, timezone.utc).strftime("%Y-%m-%d %H:%M")


# ---- what indexing reads -----------------------------------------------------------------------------
def test_indexing_reads_when_where_and_with_what(store: Store) -> None:
    lisbon = _facts(store, "IMG_0001.MOV")
    assert lisbon.recorded == datetime(2021, 7, 3, 23, 30, tzinfo=timezone.utc).timestamp()
    assert _wall(lisbon) == "2021-07-04 00:30" and lisbon.tz_offset == 60
    assert lisbon.recorded_source == md.FROM_QUICKTIME
    assert (lisbon.lat, lisbon.lon) == LISBON
    assert lisbon.place == "Lisbon, Portugal" and "lisbon" in lisbon.place_names and lisbon.country == "PT"
    assert lisbon.camera == "Apple iPhone 13"
    named = _facts(store, "VID_20210815_101500.mp4")
    assert (_wall(named), named.recorded_source, named.lat) == ("2021-08-15 10:15", md.FROM_FILE_NAME, None)
    gopro = _facts(store, "GX010123.MP4")
    assert (_wall(gopro), gopro.recorded_source, gopro.camera) == ("2022-12-31 23:30", md.FROM_CAMERA_CLOCK, "GoPro")
    plain = _facts(store, "plain.mp4")
    assert (_wall(plain), plain.recorded_source, plain.camera) == ("2019-05-05 12:00", md.FROM_MTIME, None)


# ---- filters -----------------------------------------------------------------------------------------
def test_a_place_name_finds_the_clips_filmed_there(store: Store) -> None:
    # the pictures are plain blue: only the files' positions say Lisbon
    names, lines = _search(store, "lisbon")
    assert set(names[:2]) == {"IMG_0001.MOV", "IMG_0002.MOV"}
    assert any("'lisbon' is where 2 video(s) were filmed" in line for line in lines)
    # with something to look for beside the name, the videos filmed there are searched for it: the
    # blue clips of Lisbon come before the blue clip filmed elsewhere (the test embedder reads the
    # whole "lisbon blue" as no colour at all, so it cannot tell them apart by the picture)
    names, lines = _search(store, "lisbon blue")
    assert names.index("IMG_0001.MOV") < names.index("GX010123.MP4")
    assert names.index("IMG_0002.MOV") < names.index("GX010123.MP4")
    assert any("those are searched for 'blue'" in line for line in lines)


def test_a_year_in_the_query_keeps_only_that_year_and_says_so(store: Store) -> None:
    names, lines = _search(store, "blue in 2021")
    assert sorted(names) == ["IMG_0001.MOV", "IMG_0002.MOV", "VID_20210815_101500.mp4"]  # not the 2022 GoPro
    assert "dates: 'in 2021' -> 2021-01-01 to 2021-12-31" in lines
    assert "filters keep 3 video(s)" in lines
    assert "GX010123.MP4" in _search(store, "blue")[0]


def test_a_title_with_a_year_stays_text(store: Store) -> None:
    names, lines = _search(store, "2001: a space odyssey poster")
    assert not any(line.startswith(("dates:", "filters keep")) for line in lines)
    assert len(names) == 5  # nothing filtered out
    assert any("2001: a space odyssey poster" in line for line in lines)


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        # the local day where it was filmed counts, not UTC: IMG_0001 is July 4 in Lisbon, July 3 in UTC
        ("2021-07-04", None, ["IMG_0001.MOV", "VID_20210815_101500.mp4", "GX010123.MP4"]),
        (None, "2021-07-03", ["plain.mp4", "IMG_0002.MOV"]),
        ("2021-07", "2021-07", ["IMG_0002.MOV", "IMG_0001.MOV"]),
        # "until 2022" runs to the last minute of 2022 (the GoPro, at 23:30 on December 31); 2023 starts after
        ("2022", "2022", ["GX010123.MP4"]),
        ("2023", None, []),
    ],
)
def test_since_and_until_cut_at_whole_local_days(store: Store, since: str, until: str, expected: list[str]) -> None:
    # no query: only filters, so the videos that pass are listed in the order they were filmed
    names, _ = _search(store, since=since, until=until)
    assert names == expected


def test_near_cuts_at_the_radius(store: Store) -> None:
    apart = haversine_km(*LISBON, *NORTH)
    assert 9.9 < apart < 10.1
    at = f"{LISBON[0]},{LISBON[1]}"
    assert _search(store, near=at, radius_km=apart - 0.05)[0] == ["IMG_0001.MOV"]
    assert _search(store, near=at, radius_km=apart + 0.05)[0] == ["IMG_0002.MOV", "IMG_0001.MOV"]
    assert _search(store, "blue", near="portugal")[0][:2] in (["IMG_0001.MOV", "IMG_0002.MOV"],
                                                             ["IMG_0002.MOV", "IMG_0001.MOV"])  # fmt: skip
    assert len(_search(store, "blue", near="portugal")[0]) == 2
    assert _search(store, "blue", near="tokyo")[0] == []


def test_a_query_that_only_filters_lists_in_time_order(store: Store) -> None:
    names, lines = _search(store, "videos from lisbon in 2021")
    assert names == ["IMG_0002.MOV", "IMG_0001.MOV"]
    assert "'videos' asks for nothing in the picture: only the filters count" in lines
    hits = _hits(store, "", since="2019", until="2021-08")
    assert [h.facts.recorded_local for h in hits] == sorted(h.facts.recorded_local for h in hits)  # type: ignore[union-attr]
    assert [os.path.basename(h.path) for h in hits] == ["plain.mp4", "IMG_0002.MOV", "IMG_0001.MOV",
                                                        "VID_20210815_101500.mp4"]  # fmt: skip
    assert all(h.score == 0.0 for h in hits)


def test_filters_hold_for_every_kind_of_query(store: Store, indexed: tuple[Path, Path]) -> None:
    """With a filter, every kind of query finds what it finds without one, less what fails the filter."""
    lib = indexed[0]
    like = LikeRef(str(lib / "IMG_0001.MOV"))  # blue, 2021: its blue twins are near-duplicates, left out
    passing = {  # filter -> the videos that pass it
        (("until", "2021-07-03"),): {"plain.mp4", "IMG_0002.MOV"},
        (("since", "2021-08"),): {"VID_20210815_101500.mp4", "GX010123.MP4"},
        (("camera", "iphone"),): {"IMG_0001.MOV", "IMG_0002.MOV"},
        (("until", "2021-12-31"),): {"plain.mp4", "IMG_0001.MOV", "IMG_0002.MOV", "VID_20210815_101500.mp4"},
    }
    queries: list[tuple[str, dict[str, object]]] = [
        ("", {"like": like}),  # "more like this"
        ("but red", {"like": like}),  # "like this but red"
        ("blue", {"exclude": ("red",)}),  # --not
        ("blue then blue", {"min_match": -1.0}),  # steps in order
        ("yellow", {}),
    ]
    for text, kind in queries:
        everything, _ = _search(store, text, **kind)
        assert everything, (text, kind)
        for filters, kept in passing.items():
            names, lines = _search(store, text, **kind, **dict(filters))
            assert names == [n for n in everything if n in kept], (text, kind, filters)
            assert f"filters keep {len(kept)} video(s)" in lines
    # --in narrows further: both must hold
    assert _search(store, "blue", within=(str(lib / "IMG_0002.MOV"),), near="lisbon")[0] == ["IMG_0002.MOV"]
    assert _search(store, "blue", within=(str(lib / "GX010123.MP4"),), near="lisbon")[0] == []


def test_camera_filter(store: Store) -> None:
    assert _search(store, "blue", camera="gopro")[0] == ["GX010123.MP4"]
    assert sorted(_search(store, "blue", camera="IPHONE 13")[0]) == ["IMG_0001.MOV", "IMG_0002.MOV"]
    assert _search(store, "blue", camera="pixel")[0] == []


def test_sort_by_date_and_path(store: Store) -> None:
    by_score = _hits(store, "blue")
    by_date = _hits(store, "blue", sort="date")
    by_path = _hits(store, "blue", sort="path")
    assert {h.path for h in by_date} == {h.path for h in by_score} == {h.path for h in by_path}
    when = [h.facts.recorded_local for h in by_date]  # type: ignore[union-attr]
    assert when == sorted(when) and [os.path.basename(h.path) for h in by_date][0] == "plain.mp4"
    assert [h.path for h in by_path] == sorted(h.path for h in by_path)
    assert [h.score for h in by_score] == sorted((h.score for h in by_score), reverse=True)


def test_filters_that_contradict_find_nothing_and_say_why(store: Store) -> None:
    names, lines = _search(store, "blue in 2021", since="2023")
    assert names == [] and any("do not overlap" in line for line in lines)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"since": "soonish"}, "--since 'soonish': not a date"),
        ({"since": "2022", "until": "2021"}, "--until 2021 comes before --since 2022"),
        ({"radius_km": 5.0}, "--radius goes with --near"),
        ({"near": "nowhere at all"}, "--near nowhere at all: no such place"),
        ({"near": "38.7,-9.1", "radius_km": 0.0}, "--radius must be more than 0 km"),
        ({"sort": "size"}, "unknown --sort 'size'"),
    ],
)
def test_bad_filter_values_are_usage_errors(store: Store, options: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _hits(store, "blue", **options)


# ---- the results carry when and where ------------------------------------------------------------------
def test_hits_carry_date_place_and_camera_to_json_table_and_service(store: Store) -> None:
    from vidsearch.output.present import hit_record, write_hits
    from vidsearch.service.client import hit_from_json, hit_to_json, options_from_json

    hits = _hits(store, "blue", near="lisbon")
    record = hit_record(next(h for h in hits if h.path.endswith("IMG_0001.MOV")))
    assert record["recorded"] == "2021-07-04T00:30:00+01:00" and record["recorded_source"] == md.FROM_QUICKTIME
    assert (record["place"], record["camera"]) == ("Lisbon, Portugal", "Apple iPhone 13")
    assert (record["lat"], record["lon"]) == LISBON
    untagged = hit_record(_hits(store, "red")[0])
    assert untagged["recorded"] == "2021-08-15T10:15:00" and untagged["place"] is None and untagged["lat"] is None
    out = StringIO()
    write_hits(hits, "table", out)
    assert "2021-07-04 00:30" in out.getvalue() and "Lisbon, Portugal" in out.getvalue()
    # through the query service: the request's options and the hits' facts survive JSON
    again = hit_from_json(json.loads(json.dumps(hit_to_json(hits[0]))))
    assert again.facts == hits[0].facts and hit_record(again) == hit_record(hits[0])
    options = SearchOptions(since="2021", until="2021-08", near="lisbon", radius_km=3.0, camera="gopro", sort="date",
                            today=TODAY)  # fmt: skip
    assert options_from_json(json.loads(json.dumps(asdict(options)))) == options


def test_status_counts_dates_positions_places_and_cameras(store: Store) -> None:
    summary = store.info().when_where
    assert summary is not None
    assert summary.videos == 5 and summary.with_position == 2 and summary.unread == 0
    assert summary.sources == {md.FROM_QUICKTIME: 2, md.FROM_FILE_NAME: 1, md.FROM_CAMERA_CLOCK: 1, md.FROM_MTIME: 1}
    assert summary.cameras == [("Apple iPhone 13", 2), ("GoPro", 1)]
    assert datetime.fromtimestamp(summary.first, timezone.utc).date().isoformat() == "2019-05-05"  # type: ignore[arg-type]
    assert datetime.fromtimestamp(summary.last, timezone.utc).date().isoformat() == "2022-12-31"  # type: ignore[arg-type]
    assert sorted(name for name, _ in summary.places) == ["Apelação, Portugal", "Lisbon, Portugal"]


# ---- keeping them current ----------------------------------------------------------------------------
def test_an_older_index_is_filled_in_on_the_next_index_without_re_embedding(copied: tuple[Path, Path]) -> None:
    from vidsearch.store.migrations import MIGRATIONS, _m5_when_where

    lib, db = copied
    with Store.open(db) as store:
        ids, vids, vectors = store.all_vectors()
        downgrade(store.db, MIGRATIONS.index(_m5_when_where))
    with Store.open(db) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        before = store.info()
        assert before.when_where is not None and before.when_where.unread == 5
        assert _search(store, "blue in 2021")[0] == []  # nothing is known yet: no video passes
        loads = Counting()
        stats = update_index(store, [str(lib)], loads, model_name="test")
        assert (loads.loads, stats.indexed, stats.unchanged, stats.facts_read) == (0, 0, 5, 5)
        ids2, vids2, vectors2 = store.all_vectors()
        order, order2 = np.argsort(ids), np.argsort(ids2)
        assert np.array_equal(ids[order], ids2[order2]) and np.array_equal(vids[order], vids2[order2])
        assert np.array_equal(vectors[order], vectors2[order2])  # the vectors are untouched
        assert _facts(store, "IMG_0001.MOV").place == "Lisbon, Portugal"
        assert sorted(_search(store, "blue in 2021")[0]) == ["IMG_0001.MOV", "IMG_0002.MOV", "VID_20210815_101500.mp4"]
        assert update_index(store, [str(lib)], loads, model_name="test").facts_read == 0  # read once


def test_a_renamed_or_touched_file_gets_the_date_of_its_new_name_or_time(copied: tuple[Path, Path]) -> None:
    lib, db = copied
    (lib / "VID_20210815_101500.mp4").rename(lib / "VID_20200101_120000.mp4")
    stamp = datetime(2018, 3, 3, 9, 0).timestamp()
    os.utime(lib / "plain.mp4", (stamp, stamp))
    # a tagged file touched keeps the date its tags give
    os.utime(lib / "IMG_0001.MOV", (stamp, stamp))
    with Store.open(db) as store:
        loads = Counting()
        stats = update_index(store, [str(lib)], loads, model_name="test")
        assert loads.loads == 0 and stats.moved == 1 and stats.indexed == 0
        assert _wall(_facts(store, "VID_20200101_120000.mp4")) == "2020-01-01 12:00"
        assert _wall(_facts(store, "plain.mp4")) == "2018-03-03 09:00"
        assert _wall(_facts(store, "IMG_0001.MOV")) == "2021-07-04 00:30"
        # a rename seen by `watch` (move_prefix) is read again on its next pass
        (lib / "VID_20200101_120000.mp4").rename(lib / "VID_20170606_060606.mp4")
        assert move_prefix(store, str(lib / "VID_20200101_120000.mp4"), str(lib / "VID_20170606_060606.mp4")) == (1, 0)
        assert update_index(store, [str(lib)], loads, model_name="test").facts_read == 1
        assert _wall(_facts(store, "VID_20170606_060606.mp4")) == "2017-06-06 06:06"
        assert loads.loads == 0
