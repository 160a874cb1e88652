"""Finding what is said: speech and subtitles indexed with the pictures and searched beside them.

The library is made here: espeak-ng sentences muxed under generated pictures at known times, a
sidecar .srt, a subtitle stream, a title card whose on-screen words match a spoken line, silence,
a video without sound and a folder named after an event. It is indexed once through the command
line with the bundled models (lite for pictures, Whisper tiny.en for speech).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from oldschema import downgrade
from speechgen import ESPEAK, write_talking_video
from videogen import Scene, moving_square, solid, title_card, write_video

from vidsearch.index.indexer import SilentProgress, update_index
from vidsearch.index.speech import SpeechReader, SpeechSettings
from vidsearch.library import Library
from vidsearch.query.spoken import BOTH, combine, said_part
from vidsearch.query.words import query_terms
from vidsearch.store import Store
from vidsearch.store.migrations import MIGRATIONS, SCHEMA_VERSION, _m7_words, _m8_speech_model
from vidsearch.store.textindex import name_words

needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")

SILENCE = np.zeros(8 * 22050, np.float32)
ENV_KEYS = ("VIDSEARCH_DB", "XDG_DATA_HOME", "XDG_CACHE_HOME", "HF_HOME")


def run(*args: str, code: int | None = 0) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "vidsearch", *args], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "200"}, timeout=900)  # fmt: skip
    if code is not None:
        assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    return out


def hits(*args: str) -> list[dict[str, Any]]:
    """``find ARGS --json`` as records, best first ([] when nothing matched)."""
    out = run("find", *args, "--json", code=None)
    assert out.returncode in (0, 1), out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


# ------------------------------------------------------------------------------ one talking library


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if ESPEAK is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")
    base = tmp_path_factory.mktemp("talking")
    lib = base / "Videos"
    (lib / "grandma 80th birthday").mkdir(parents=True)
    paint = moving_square((40, 90, 140), (230, 200, 50), 0.05)
    files = {
        "party": write_talking_video(
            lib / "party.mp4", 16, painter=paint, size=(160, 120),
            said=[(1.0, "Welcome to the garden party."), (9.0, "Happy birthday, grandpa!")],
        ),
        # the same words on screen, something else said
        "card": write_talking_video(
            lib / "card.mp4", 8, painter=title_card("HAPPY BIRTHDAY"), size=(320, 240),
            said=[(1.0, "Look at the waves, the tide is coming in.")],
        ),
        "quiet": write_talking_video(lib / "quiet.mp4", 8, sound=SILENCE, painter=solid((90, 40, 40))),
        "train": write_talking_video(lib / "train.mp4", 8, sound=SILENCE, painter=solid((40, 90, 40))),
        "crab": write_talking_video(
            lib / "crab.mkv", 8, sound=SILENCE, painter=solid((90, 90, 40)),
            subtitles=[(4.0, 6.0, "We found a little crab under the rock")],
        ),
        "mute": write_talking_video(lib / "mute.mp4", 6, audio=False, painter=solid((40, 40, 90))),
        "grandma": write_talking_video(
            lib / "grandma 80th birthday" / "IMG_0001.mp4", 6, sound=SILENCE[: 6 * 22050], painter=solid((60, 60, 60))
        ),
    }  # fmt: skip
    (lib / "train.srt").write_text("1\n00:00:03,000 --> 00:00:05,000\nThe train leaves at seven\n")
    env = {"VIDSEARCH_DB": str(base / "index.db"), "XDG_DATA_HOME": str(base / "data"),
           "XDG_CACHE_HOME": str(base / "cache"), "HF_HOME": str(base / "hf")}  # fmt: skip
    old = {k: os.environ.get(k) for k in ENV_KEYS}
    os.environ.update(env)
    try:
        indexed = run("index", str(lib))
        yield {"lib": lib, "db": base / "index.db", "files": {k: str(v) for k, v in files.items()},
               "indexed": indexed}  # fmt: skip
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture()
def env(talking: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("VIDSEARCH_DB", str(talking["db"]))
    return talking


@pytest.mark.slow
def test_someone_says_happy_birthday_finds_the_file_at_the_line(env: dict[str, Any]) -> None:
    found = hits("someone says happy birthday")

    assert found and found[0]["path"] == env["files"]["party"], found
    first = found[0]
    assert abs(first["start"] - 9.0) <= 2.0, first  # the span starts where it is said, not at the moment's start
    assert "birthday" in first["speech"]["text"].lower() and abs(first["speech"]["start"] - 9.0) <= 2.0
    # the plain words find it too, and the title card that shows them
    plain = [h["path"] for h in hits("happy birthday")]
    assert env["files"]["party"] in plain and env["files"]["card"] in plain


@pytest.mark.slow
def test_said_ignores_words_on_screen(env: dict[str, Any]) -> None:
    said = [h["path"] for h in hits("--said", "happy birthday")]
    assert said == [env["files"]["party"]]
    # what the card clip says is found by --said; only its on-screen words are left out
    assert [h["path"] for h in hits("--said", "the tide is coming in")] == [env["files"]["card"]]


@pytest.mark.slow
def test_sidecar_and_stream_subtitles_are_found_at_their_times(env: dict[str, Any]) -> None:
    train = hits("--said", "the train leaves at seven")
    crab = hits("--said", "a little crab")

    assert [h["path"] for h in train] == [env["files"]["train"]]
    assert abs(train[0]["start"] - 3.0) <= 2.0 and train[0]["speech"]["text"] == "The train leaves at seven"
    assert [h["path"] for h in crab] == [env["files"]["crab"]]
    assert abs(crab[0]["start"] - 4.0) <= 2.0


@pytest.mark.slow
def test_silence_gets_no_speech_and_a_file_without_sound_one_skip_line(env: dict[str, Any]) -> None:
    with Store.open(env["db"], create=False) as store:
        quiet = store.video_by_path(env["files"]["quiet"])
        mute = store.video_by_path(env["files"]["mute"])
        assert quiet is not None and mute is not None and mute.status == "indexed"  # pictures indexed
        sources = store.text.speech_sources([quiet.id, mute.id])
        assert sources[quiet.id].source == "speech" and sources[quiet.id].transcribed
        assert store.text.lines(quiet.id, 0, 100) == []
        assert sources[mute.id].error == "the file has no audio stream"
        words = store.db.execute("SELECT count(*) FROM moment_text WHERE video_id=? AND speech != ''", (quiet.id,))
        assert words.fetchone()[0] == 0
    lines = [line for line in env["indexed"].stderr.splitlines() if line.startswith("skipping speech in")]
    assert lines == [f"skipping speech in {env['files']['mute']}: the file has no audio stream"]


@pytest.mark.slow
def test_a_folder_name_finds_its_videos(env: dict[str, Any]) -> None:
    found = hits("grandma 80th birthday")
    assert found and found[0]["path"] == env["files"]["grandma"]


@pytest.mark.slow
def test_explain_shows_pictures_speech_and_words(env: dict[str, Any]) -> None:
    first = hits("someone says happy birthday", "--explain")[0]
    parts = first["explain"]
    assert "positives" in parts  # the pictures' clauses
    assert parts["text"]["spoken"] is not None and parts["text"]["words"] == pytest.approx(1.0)
    assert parts["score"] == pytest.approx(first["score"], abs=1e-3)


@pytest.mark.slow
def test_table_shows_the_line_said(env: dict[str, Any]) -> None:
    table = run("find", "--said", "happy birthday", "--format", "table").stdout
    assert "said" in table.splitlines()[0] and '"happy birthday, grandpa!"' in table.lower()


@pytest.mark.slow
def test_status_counts_speech(env: dict[str, Any]) -> None:
    status = json.loads(run("status", "--json").stdout)
    speech = status["speech"]
    assert speech["videos_with_subtitles"] == 2  # the sidecar and the stream
    assert speech["speech_errors"] == 1  # the file without sound
    assert speech["moments_with_speech"] >= 4
    assert 0 < speech["hours_transcribed"] < 0.05
    assert speech["pending"] == 0
    text = run("status").stdout
    assert "speech:" in text and "with subtitles" in text


# ------------------------------------------------------------------------ subtitles only (no model)


def _snapshot(store: Store) -> list[tuple[Any, ...]]:
    rows = store.db.execute(
        'SELECT m.id, m.start, m."end", v.embedding FROM moments m JOIN moment_vectors v ON v.moment_id = m.id'
        " ORDER BY m.id"
    )
    return [tuple(bytes(x) if isinstance(x, memoryview) else x for x in row) for row in rows]


def _words(store: Store) -> list[str]:
    return [t for (t,) in store.db.execute("SELECT text FROM speech_lines ORDER BY start")]


@pytest.mark.slow
def test_a_changed_sidecar_is_read_again_without_reembedding(tmp_path: Path) -> None:
    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "beach.mp4", [Scene(solid((200, 180, 90)), 4)], fps=5, size=(64, 48))
    srt = lib / "beach.en.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nThe tide is coming in\n")
    with Library.open(tmp_path / "i.db", create=True, model="lite") as library:
        first = library.index([lib], speech=False)
        before = _snapshot(library.store)
        assert first.indexed == 1 and _words(library.store) == ["The tide is coming in"]

        srt.write_text("1\n00:00:01,000 --> 00:00:03,000\nLook at the crab on the rock\n")
        os.utime(srt, ns=(srt.stat().st_mtime_ns + 10**9,) * 2)
        second = library.index(speech=False)

        assert second.indexed == 0 and second.speech_refreshed == 1
        assert _snapshot(library.store) == before  # the pictures' moments and vectors untouched
        assert _words(library.store) == ["Look at the crab on the rock"]
        assert [h.path for h in library.find(said="the crab").hits] == [str(lib / "beach.mp4")]
        assert library.find(said="the tide is coming in").hits == []

        srt.unlink()
        library.index(speech=False)
        assert _words(library.store) == [] and _snapshot(library.store) == before


@pytest.mark.slow
def test_a_broken_subtitle_file_is_one_skip_line_and_the_pictures_are_indexed(tmp_path: Path) -> None:
    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "holiday.mp4", [Scene(solid((20, 120, 200)), 4)], fps=5, size=(64, 48))
    (lib / "holiday.srt").write_bytes(bytes(range(256)) * 8)

    out = run("index", str(lib), "--no-speech", "--db", str(tmp_path / "i.db"))

    skips = [line for line in out.stderr.splitlines() if "skipping" in line]
    assert len(skips) == 1 and skips[0].startswith(f"skipping speech in {lib / 'holiday.mp4'}: holiday.srt"), skips
    status = json.loads(run("status", "--json", "--db", str(tmp_path / "i.db")).stdout)
    assert status["videos"] == 1 and status["failed"] == 0 and status["speech"]["speech_errors"] == 1


class _Recorder(SilentProgress):
    def __init__(self) -> None:
        self.refresh: list[tuple[int, int]] = []

    def speech_refresh(self, done: int, total: int) -> None:
        self.refresh.append((done, total))


def test_an_index_without_words_gets_them_without_reembedding(tmp_path: Path) -> None:
    from colour import ColourEmbedder

    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "a.mp4", [Scene(solid((200, 20, 20)), 4)], fps=5, size=(64, 48))
    write_video(lib / "b.mp4", [Scene(solid((20, 20, 200)), 4)], fps=5, size=(64, 48))
    (lib / "a.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nRed sky at night\n")
    embedder = ColourEmbedder()
    with Store.open(tmp_path / "i.db") as store:
        update_index(store, [str(lib)], lambda: embedder, model_name="test")  # words not read: as before speech
        assert store.info().words.speech_pending == 2
        before, embedded = _snapshot(store), embedder.moments_embedded
        progress = _Recorder()

        stats = update_index(store, [str(lib)], lambda: embedder, progress, model_name="test",
                             speech=SpeechReader(SpeechSettings(transcribe=False)))  # fmt: skip

        assert stats.indexed == 0 and stats.speech_refreshed == 2 and progress.refresh == [(0, 2), (1, 2), (2, 2)]
        assert embedder.moments_embedded == embedded and _snapshot(store) == before
        assert _words(store) == ["Red sky at night"] and store.info().words.speech_pending == 0
        again = update_index(store, [str(lib)], lambda: embedder, model_name="test",
                             speech=SpeechReader(SpeechSettings(transcribe=False)))  # fmt: skip
        assert again.speech_refreshed == 0  # nothing stale: nothing read again


def test_an_index_of_the_schema_before_gets_names_and_words(tmp_path: Path) -> None:
    from colour import ColourEmbedder

    lib = tmp_path / "Videos"
    (lib / "Lisbon trip").mkdir(parents=True)
    write_video(lib / "Lisbon trip" / "tram.mp4", [Scene(solid((200, 200, 20)), 4)], fps=5, size=(64, 48))
    with Store.open(tmp_path / "i.db") as store:
        update_index(store, [str(lib)], ColourEmbedder, model_name="test")
        for table in ("moment_words", "video_names", "moment_text", "speech_lines", "speech_sources"):
            store.db.execute(f"DROP TABLE {table}")
        store.db.execute("DROP TRIGGER videos_named_delete")
        store.db.execute(f"PRAGMA user_version={MIGRATIONS.index(_m7_words)}")
    with Store.open(tmp_path / "i.db") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        video = store.video_by_path(lib / "Lisbon trip" / "tram.mp4")
        assert video is not None and store.text.best_videos('"lisbon"', 5) == [video.id]
        assert store.info().words.speech_pending == 1


# ------------------------------------------------------------------------------ another speech model


def _another_speech_model(folder: Path) -> Path:
    """The bundled Whisper's files under another folder: another model, as far as the index can tell."""
    from vidsearch.speech.model import bundled_model_folder

    bundled = bundled_model_folder()
    assert bundled is not None
    folder.mkdir()
    for file in bundled.iterdir():
        (folder / file.name).symlink_to(file)
    return folder


def _heard_by(db: Path) -> dict[str, tuple[str | None, float]]:
    """Each video's file name -> (the speech model that listened, when its words were read)."""
    with Store.open(db, create=False) as store:
        rows = store.db.execute(
            "SELECT v.path, s.speech_model, s.read_at FROM speech_sources s JOIN videos v ON v.id = s.video_id"
        ).fetchall()
    return {os.path.basename(os.fsdecode(bytes(p))): (model, read_at) for p, model, read_at in rows}


def _party_library(tmp_path: Path) -> tuple[Path, Path]:
    """A folder holding one talking video (party.mp4: "Happy birthday, grandpa!" at 1 s), and where its index goes."""
    lib, db = tmp_path / "Videos", tmp_path / "i.db"
    lib.mkdir()
    write_talking_video(lib / "party.mp4", 6, said=[(1.0, "Happy birthday, grandpa!")], size=(64, 48))
    return lib, db


@needs_espeak
@pytest.mark.slow
def test_another_speech_model_transcribes_again_without_reembedding(tmp_path: Path) -> None:
    lib, db = _party_library(tmp_path)
    write_talking_video(lib / "beach.mp4", 6, sound=SILENCE[: 6 * 22050], size=(64, 48))
    (lib / "beach.srt").write_text("1\n00:00:01,000 --> 00:00:03,000\nThe tide is coming in\n")
    other = str(_another_speech_model(tmp_path / "whisper-copy"))
    run("index", str(lib), "--db", str(db))
    with Store.open(db, create=False) as store:
        pictures = _snapshot(store)
    first = _heard_by(db)
    assert first["party.mp4"][0] == "tiny.en" and first["beach.mp4"][0] is None  # subtitles: no model listened

    again = run("index", str(lib), "--db", str(db), "--speech-model", other)

    assert "indexed 0 new or changed files" in again.stderr
    assert "read what is said in 1 file (1 with their pictures kept)" in again.stderr, again.stderr
    second = _heard_by(db)
    assert second["party.mp4"][0] == other and second["party.mp4"][1] > first["party.mp4"][1]
    assert second["beach.mp4"] == first["beach.mp4"]  # subtitles still win over any speech model
    with Store.open(db, create=False) as store:
        assert _snapshot(store) == pictures  # the pictures' moments and vectors untouched
    assert [h["path"] for h in hits("--said", "happy birthday", "--db", str(db))] == [str(lib / "party.mp4")]

    same = run("index", str(lib), "--db", str(db), "--speech-model", other)

    assert "read what is said" not in same.stderr and _heard_by(db) == second  # the same model: nothing read


def test_the_bundled_model_named_by_its_folder_is_the_same_model(tmp_path: Path) -> None:
    from vidsearch.speech.model import bundled_model_folder, resolve_speech_model

    bundled = bundled_model_folder()
    assert bundled is not None
    # naming the bundled model by its folder does not make every video's words stale
    assert resolve_speech_model(str(bundled))[1] == "tiny.en"
    other = _another_speech_model(tmp_path / "whisper-copy")
    assert resolve_speech_model(str(other))[1] == str(other.resolve())


@needs_espeak
@pytest.mark.slow
def test_words_read_before_the_speech_model_was_recorded_keep_their_model(tmp_path: Path) -> None:
    lib, db = _party_library(tmp_path)
    run("index", str(lib), "--db", str(db))
    with Store.open(db, create=False) as store:
        downgrade(store.db, MIGRATIONS.index(_m8_speech_model))
    first = run("index", str(lib), "--db", str(db))  # opening it migrates it: the words name their model

    assert "read what is said" not in first.stderr and _heard_by(db)["party.mp4"][0] == "tiny.en"
    other = str(_another_speech_model(tmp_path / "whisper-copy"))
    second = run("index", str(lib), "--db", str(db), "--speech-model", other)
    assert "read what is said in 1 file (1 with their pictures kept)" in second.stderr
    assert _heard_by(db)["party.mp4"][0] == other


# ----------------------------------------------------------------------------- watch a subtitle file


@pytest.mark.slow
def test_watch_reads_a_new_or_changed_subtitle_file_without_reembedding(tmp_path: Path) -> None:
    pytest.importorskip("watchdog")
    from test_watch import Running

    lib = tmp_path / "Videos"
    lib.mkdir()
    write_video(lib / "red.mp4", [Scene(solid((220, 20, 20)), 3)], fps=10)
    running = Running(tmp_path / "i.db", [lib], speech=SpeechReader(SpeechSettings(transcribe=False)))
    try:
        embedded = running.embedder.moments_embedded
        (lib / "red.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHello there\n")
        running.wait_index(lambda s: _words(s) == ["Hello there"], "the new subtitle file")
        (lib / "red.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nGoodbye now, friends\n")
        running.wait_index(lambda s: _words(s) == ["Goodbye now, friends"], "the changed subtitle file")
        (lib / "red.srt").rename(lib / "notes.srt")  # no longer beside red.mp4
        running.wait_index(lambda s: _words(s) == [], "the subtitle file renamed away")
        assert running.embedder.moments_embedded == embedded  # words read again, pictures not
    finally:
        running.stop()


# --------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("someone says happy birthday", "happy birthday"),
        ("when grandpa says happy birthday", "happy birthday"),
        ("the clip where she explains the recipe", "the recipe"),
        ('kids shouting "surprise!" in the kitchen', "surprise!"),
        ("grandpa talking about the war", "the war"),
        ("a dog on the beach", None),
        ("where we sing", None),
    ],
)
def test_what_a_query_says_was_said(query: str, said: str | None) -> None:
    assert said_part(query) == said


def test_query_terms_leave_out_filler_but_keep_content() -> None:
    assert query_terms("the clip where she explains the Recipe") == ["explains", "recipe"]
    assert query_terms("to be or not to be") == ["to", "be", "or", "not"]


def test_either_kind_of_evidence_alone_finds_and_both_rank_higher() -> None:
    pictures = np.array([3.0, -np.inf, 3.0, 0.0])
    speech = np.array([-np.inf, 3.0, 3.0, -1.0])
    scores = combine([pictures, speech])
    assert scores[0] == scores[1] == 3.0  # one kind alone counts in full
    assert scores[2] == pytest.approx(3.0 + BOTH * 3.0)  # both together rank above either
    assert scores[3] == 0.0  # weak evidence of another kind costs nothing


def test_name_words_are_the_parts_below_the_root() -> None:
    assert name_words("/home/me/Videos/grandma 80th birthday/IMG_0001.mp4", "/home/me/Videos") == (
        "grandma 80th birthday / IMG_0001"
    )
    assert name_words("/elsewhere/a/b/c/clip.mov", "/home/me/Videos") == "b / c / clip"
