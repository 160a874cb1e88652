"""Nuanced queries end to end with the real lite model: negation, order in time, "like this but".

Each case is one where plain single-vector search goes wrong and vidsearch must not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from videogen import Scene, title_card, write_video

from vidsearch.embed import lite
from vidsearch.errors import UsageError
from vidsearch.index.indexer import update_index
from vidsearch.query.options import Explanation, LikeRef, SearchOptions, parse_like
from vidsearch.query.search import find, plain_find
from vidsearch.store import Store

ok, why = lite.available()
# every test here runs the bundled model on real pictures: seconds each
pytestmark = [pytest.mark.skipif(not ok, reason=f"lite model not installed: {why}"), pytest.mark.slow]

CARDS = {
    "rainy_beach.mp4": ["RAINY BEACH"],
    "sunny_beach.mp4": ["SUNNY BEACH"],
    "rainy_street.mp4": ["RAINY CITY STREET"],
    "cake_then_fireworks.mp4": ["BIRTHDAY CAKE", "FIREWORKS"],
    "fireworks_then_cake.mp4": ["FIREWORKS", "BIRTHDAY CAKE"],
    "dog_beach.mp4": ["DOG ON THE BEACH"],
    "dog_snow.mp4": ["DOG IN THE SNOW"],
    "cat_snow.mp4": ["CAT IN THE SNOW"],
    "mountain_sunset.mp4": ["SNOWY MOUNTAIN AT SUNSET"],
    "dog_park.mp4": ["DOG IN THE PARK"],
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    base = tmp_path_factory.mktemp("nuanced")
    lib = base / "lib"
    lib.mkdir()
    for name, cards in CARDS.items():
        write_video(lib / name, [Scene(title_card(c), 4) for c in cards], fps=5, size=(480, 270))
    embedder = lite.load("cpu", cache_dir=base / "cache")
    store = Store.open(base / "index.db")
    update_index(store, [str(lib)], lambda: embedder, model_name="lite")
    yield store, embedder, lib
    store.close()
    embedder.close()


def names(hits) -> list[str]:  # type: ignore[no-untyped-def]
    return [Path(h.path).name for h in hits]


def test_negation_leaves_out_what_was_excluded(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    query = "a beach, not raining"
    assert "rainy_beach.mp4" in names(plain_find(store, embedder, query, 2))  # the trap plain search falls in
    hits = find(store, embedder, query, SearchOptions(limit=3))
    assert names(hits)[0] == "sunny_beach.mp4"
    assert "rainy_beach.mp4" not in names(hits)[:2]
    assert "rainy_street.mp4" not in names(hits)[:2]


def test_explicit_minus_term_and_not_option(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    for text, opts in (("beach -rain", {}), ("beach", {"exclude": ("rainy weather",)})):
        hits = find(store, embedder, text, SearchOptions(limit=3, **opts))
        assert names(hits)[0] != "rainy_beach.mp4", text


def test_then_finds_order_in_time(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    hits = find(store, embedder, "birthday cake, then fireworks", SearchOptions(limit=5))
    assert names(hits)[0] == "cake_then_fireworks.mp4"
    assert "fireworks_then_cake.mp4" not in names(hits)
    assert hits[0].start < 1.0 and hits[0].end > 7.0  # the span from A to B
    hits = find(store, embedder, "fireworks and then a birthday cake", SearchOptions(limit=5))
    assert names(hits)[0] == "fireworks_then_cake.mp4"


def test_like_this_but_returns_the_edited_variant(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, lib = world
    like = LikeRef(str(lib / "dog_beach.mp4"))
    hits = find(store, embedder, "but in the snow", SearchOptions(limit=3, like=like))
    assert names(hits)[0] == "dog_snow.mp4"
    assert "dog_beach.mp4" not in names(hits)  # the reference itself is never a result
    more = find(store, embedder, "", SearchOptions(limit=3, like=like))  # "more like this"
    assert "dog_beach.mp4" not in names(more)
    assert names(more)[0] in {"dog_park.mp4", "dog_snow.mp4", "sunny_beach.mp4", "rainy_beach.mp4"}


def test_like_a_file_outside_the_library(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    outside = write_video(tmp_path / "mine.mp4", [Scene(title_card("DOG IN THE PARK"), 3)], fps=5, size=(480, 270))
    hits = find(store, embedder, "", SearchOptions(limit=2, like=parse_like(f"{outside}@0:01")))
    assert names(hits)[0].startswith("dog_")


def test_explain_shows_clauses_and_scores(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    explanation = Explanation()
    hits = find(store, embedder, "a beach, not raining", SearchOptions(limit=2, explain=True), explanation)
    text = "\n".join(explanation.lines)
    assert "beach" in text and "rain" in text
    detail = hits[0].details["explain"]
    assert set(detail["positives"]) == {"a beach"} or any("beach" in k for k in detail["positives"])
    assert any("rain" in k for k in detail["negatives"])


def test_whole_sentence_counts_beside_the_clauses(world) -> None:  # type: ignore[no-untyped-def]
    """A query of several clauses in other words than the clips use: the sentence read as a whole
    keeps the runners-up on topic (snow), where the clauses alone let wet scenes in."""
    store, embedder, _ = world
    query = "peaks covered in snow, at dusk"
    explanation = Explanation()
    hits = find(store, embedder, query, SearchOptions(limit=3, explain=True), explanation)
    assert embedder.whole_query_weight == 0.5
    assert names(hits)[0] == "mountain_sunset.mp4"
    assert set(names(hits)[1:3]) == {"dog_snow.mp4", "cat_snow.mp4"}
    clauses_only = find(store, embedder, query, SearchOptions(limit=3, whole_weight=0.0))
    assert names(clauses_only)[0] == "mountain_sunset.mp4" and names(clauses_only) != names(hits)
    assert any("whole sentence, 0.50" in line for line in explanation.lines)
    detail = hits[0].details["explain"]
    assert detail["whole_weight"] == 0.5 and detail["whole"] > 1.0  # the sentence itself matches well


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("{lib}/dog_beach.mp4@9:00", "past the end"),
        ("{lib}/nothing.mp4", "no such file"),
        ("{tmp}/notes.mp4", "not a usable video"),
    ],
)
def test_bad_like_gets_a_clear_message(world, tmp_path: Path, spec: str, message: str) -> None:  # type: ignore[no-untyped-def]
    store, embedder, lib = world
    (tmp_path / "notes.mp4").write_text("hello")
    like = parse_like(spec.format(lib=lib, tmp=tmp_path))
    with pytest.raises(UsageError, match=message):
        find(store, embedder, "but at night", SearchOptions(like=like))


def test_before_and_after_find_order_in_time_too(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    for query in ("fireworks go off after the birthday cake is served",
                  "after the birthday cake is served, fireworks go off",
                  "the birthday cake is served before the fireworks are lit"):
        hits = find(store, embedder, query, SearchOptions(limit=5))
        assert names(hits)[0] == "cake_then_fireworks.mp4", query
        assert "fireworks_then_cake.mp4" not in names(hits), query


def test_anything_but_excludes(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    hits = find(store, embedder, "anything but snow", SearchOptions(limit=4))
    assert hits and not any("snow" in n or "mountain" in n for n in names(hits))


def test_only_negation_ranks_everything_else(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    hits = find(store, embedder, "not raining", SearchOptions(limit=4))
    assert hits and not any("rainy" in n for n in names(hits)[:2])


def test_other_scripts_and_long_queries(world) -> None:  # type: ignore[no-untyped-def]
    store, embedder, _ = world
    assert find(store, embedder, "犬が公園にいる", SearchOptions(limit=1))  # no crash, some reading
    with pytest.raises(UsageError, match="long"):
        find(store, embedder, "dog " * 2000, SearchOptions())
