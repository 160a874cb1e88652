"""The query parser: real phrasings -> clauses with polarity and order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vidsearch.errors import QueryError, UsageError
from vidsearch.query.parse import Clause, explain, parse_query

P, N = False, True  # polarity shorthands: positive, negated

CASES: list[tuple[str, list[tuple[str, bool, int]]]] = [
    # negation at the start, inside a clause, and with "n't"
    ("not raining, person closing door", [("raining", N, 0), ("person closing door", P, 0)]),
    ("kids at the beach without the dog", [("kids at the beach", P, 0), ("dog", N, 0)]),
    ("a street that is not wet", [("a street", P, 0), ("wet street", N, 0)]),
    ("man isn't wearing a hat", [("man", P, 0), ("man wearing a hat", N, 0)]),
    ("man isn’t wearing a hat", [("man", P, 0), ("man wearing a hat", N, 0)]),  # typographic apostrophe
    ("a dog that doesn't bark", [("a dog", P, 0), ("dog bark", N, 0)]),
    ("it isn't raining", [("raining", N, 0)]),
    ("dog not on the sofa", [("dog", P, 0), ("dog on the sofa", N, 0)]),
    ("no people", [("people", N, 0)]),
    ("no rain", [("rain", N, 0)]),
    ("NOT cats", [("cats", N, 0)]),
    ("sunset but no boats", [("sunset", P, 0), ("boats", N, 0)]),
    ("there is no dog", [("dog", N, 0)]),
    ("a room with no windows", [("a room", P, 0), ("windows", N, 0)]),
    ("kids and no dog", [("kids", P, 0), ("dog", N, 0)]),
    ("cat sleeping except on the sofa", [("cat sleeping", P, 0), ("sofa", N, 0)]),
    ("dogs other than poodles", [("dogs", P, 0), ("poodles", N, 0)]),
    ("birds excluding pigeons", [("birds", P, 0), ("pigeons", N, 0)]),
    ("beach w/o people", [("beach", P, 0), ("people", N, 0)]),
    ("cats instead of dogs", [("cats", P, 0), ("dogs", N, 0)]),
    ("a dog rather than a cat", [("a dog", P, 0), ("cat", N, 0)]),
    ("a car that is neither red nor blue", [("a car", P, 0), ("red car", N, 0), ("blue car", N, 0)]),
    ("the sky is not grey or cloudy", [("the sky", P, 0), ("grey sky", N, 0), ("cloudy sky", N, 0)]),
    ("a man who isn't wearing a hat or glasses", [("a man", P, 0), ("man wearing a hat or glasses", N, 0)]),
    ("without cats or dogs", [("cats", N, 0), ("dogs", N, 0)]),
    ("I don't want to see cats, only birds", [("cats", N, 0), ("birds", P, 0)]),
    ("nobody on the beach", [("beach", P, 0), ("person", N, 0)]),
    ("no one swimming", [("person swimming", N, 0)]),
    ("never raining", [("raining", N, 0)]),
    # explicit rclip-style terms and --not
    ("dog -cat +beach", [("dog", P, 0), ("cat", N, 0), ("beach", P, 0)]),
    ('-"red car" parking lot', [("red car", N, 0), ("parking lot", P, 0)]),
    ('+"golden retriever" -leash', [("golden retriever", P, 0), ("leash", N, 0)]),
    ("t-shirt with a logo", [("t-shirt", P, 0), ("a logo", P, 0)]),
    # splitting into clauses; "with" is positive, "without" negative
    ("man with a hat", [("man", P, 0), ("a hat", P, 0)]),
    ("dog and cat", [("dog", P, 0), ("cat", P, 0)]),
    ("man cooking while kids play", [("man cooking", P, 0), ("kids play", P, 0)]),
    ("black and white footage of a train", [("black and white footage of a train", P, 0)]),
    ("a dog next to the car", [("a dog next to the car", P, 0)]),
    # words that contain or look like negations must not negate
    ("snow in Notting Hill", [("snow in Notting Hill", P, 0)]),
    ("note on the fridge", [("note on the fridge", P, 0)]),
    ("I know a snowman", [("I know a snowman", P, 0)]),
    ("casino at night", [("casino at night", P, 0)]),
    ("a knot in a rope", [("a knot in a rope", P, 0)]),
    ("nothing but blue sky", [("blue sky", P, 0)]),  # "only blue sky", not a negation
    # filler
    ("show me videos of dogs playing", [("dogs playing", P, 0)]),
    ("clips of a cat jumping", [("cat jumping", P, 0)]),
    ("everything except cats", [("cats", N, 0)]),
    ("anything but cats", [("cats", N, 0)]),  # not "anything" and "cats"
    ("everything but dogs at the beach", [("dogs at the beach", N, 0)]),
    # order
    (
        "the part where she blows out the candles, then everyone claps",
        [("she blows out the candles", P, 0), ("everyone claps", P, 1)],
    ),
    (
        "birthday party, then fireworks, then people leaving",
        [("birthday party", P, 0), ("fireworks", P, 1), ("people leaving", P, 2)],
    ),
    (
        "first a man opens the door, after that a dog runs out",
        [("a man opens the door", P, 0), ("a dog runs out", P, 1)],
    ),
    ("she opens the present and then smiles", [("she opens the present", P, 0), ("she smiles", P, 1)]),
    # a step that names only an action shares the subject of the step before ("opening vs closing")
    ("the door opens, then closes", [("the door opens", P, 0), ("the door closes", P, 1)]),
    ("a door opening, then closing", [("a door opening", P, 0), ("a door closing", P, 1)]),
    ("a dog runs to the lake, then jumps in", [("a dog runs to the lake", P, 0), ("a dog jumps in", P, 1)]),
    ("the door opens, then lights flicker", [("the door opens", P, 0), ("lights flicker", P, 1)]),
    ("the light turns on, then turns off", [("the light turns on", P, 0), ("the light turns off", P, 1)]),
    ("a band playing, later the crowd cheers", [("a band playing", P, 0), ("the crowd cheers", P, 1)]),
    ("goal scored followed by celebration", [("goal scored", P, 0), ("celebration", P, 1)]),
    ("first day of school", [("first day of school", P, 0)]),
    # "before" and "after" between two things happening: the one written after "after" comes first
    ("after the cake is cut, people clap", [("the cake is cut", P, 0), ("people clap", P, 1)]),
    ("before she blows out the candles, everyone sings",
     [("everyone sings", P, 0), ("she blows out the candles", P, 1)]),
    ("the baby laughs after the dog barked", [("the dog barked", P, 0), ("the baby laughs", P, 1)]),
    ("a dog barking right after the doorbell rings", [("the doorbell rings", P, 0), ("a dog barking", P, 1)]),
    ("she waves before she leaves the room", [("she waves", P, 0), ("she leaves the room", P, 1)]),
    # ...but not where they say when or in which state: no verb, or too few words to be an event
    ("kids playing after school", [("kids playing after school", P, 0)]),
    ("a street after the rain", [("a street after the rain", P, 0)]),
    ("sunset after a rainy day", [("sunset after a rainy day", P, 0)]),
    ("the calm before the storm", [("the calm before the storm", P, 0)]),
    ("a warrior stands before a stone arch with a floating sphere", [("a warrior stands before a stone arch", P, 0),
                                                                      ("a floating sphere", P, 0)]),
    ("a knight kneels before the ancient ruins", [("a knight kneels before the ancient ruins", P, 0)]),
    ("a house before and after renovation", [("a house before and after renovation", P, 0)]),
    ("cake, then no candles, then singing", [("cake", P, 0), ("candles", N, 1), ("singing", P, 1)]),
    # other scripts and emoji pass through unchanged
    ("猫が寝ている", [("猫が寝ている", P, 0)]),
    ("кошка спит", [("кошка спит", P, 0)]),
    ("قطة نائمة", [("قطة نائمة", P, 0)]),
    ("🐶 at the beach 🏖️", [("🐶 at the beach 🏖️", P, 0)]),
    # control characters are removed
    ("dog\x00 in\tthe\x1b park\n", [("dog in the park", P, 0)]),
]


@pytest.mark.parametrize(("query", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_phrasings(query: str, expected: list[tuple[str, bool, int]]) -> None:
    parsed = parse_query(query)
    assert [(c.text, c.negated, c.step) for c in parsed.clauses] == expected
    assert parsed.original == query
    assert parsed.sequential == any(step > 0 and not negated for _, negated, step in expected)


def test_whole_drops_negated_parts_and_keeps_linking_words() -> None:
    assert parse_query("kids at the beach without the dog").whole == "kids at the beach"
    assert parse_query("man with a hat, no sunglasses").whole == "man with a hat"
    assert parse_query("birthday party, then fireworks").whole == "birthday party, then fireworks"
    assert parse_query("no people").whole == ""


def test_helpers_group_clauses() -> None:
    parsed = parse_query("cake and candles, then singing -balloons")
    assert [c.text for c in parsed.positives] == ["cake", "candles", "singing"]
    assert [c.text for c in parsed.negatives] == ["balloons"]
    assert [[c.text for c in step] for step in parsed.steps] == [["cake", "candles"], ["singing"]]
    assert parsed.sequential


def test_extra_not_adds_negated_clauses() -> None:
    parsed = parse_query("dog in a park", extra_not=["leash", "  red ball "])
    assert parsed.clauses == (
        Clause("dog in a park", False, 0),
        Clause("leash", True, 0),
        Clause("red ball", True, 0),
    )
    only_not = parse_query("", extra_not=["cats"])
    assert only_not.positives == [] and [c.text for c in only_not.negatives] == ["cats"]


def test_only_negations_is_not_an_error() -> None:
    parsed = parse_query("not cats")
    assert parsed.positives == [] and parsed.steps == [] and not parsed.sequential
    assert any("no positive" in line for line in explain(parsed))


@pytest.mark.parametrize("query", ["", "   ", "\n\t", "\x00\x01"])
def test_empty_query_is_a_usage_error(query: str) -> None:
    with pytest.raises(QueryError, match="empty"):
        parse_query(query)


def test_query_error_is_a_usage_error() -> None:
    assert issubclass(QueryError, UsageError)


def test_too_long_query_names_the_limit() -> None:
    with pytest.raises(QueryError, match="limit is 1000"):
        parse_query("a dog " * 200)
    with pytest.raises(QueryError, match="limit is 20"):
        parse_query("a dog running in a big park", max_chars=20)


def test_only_filler_is_an_error() -> None:
    with pytest.raises(QueryError, match="nothing to search for"):
        parse_query("show me videos of")


def test_empty_not_option_is_an_error() -> None:
    with pytest.raises(QueryError, match="--not"):
        parse_query("dog", extra_not=["  "])


def test_explain_lists_every_clause_with_polarity_and_step() -> None:
    lines = explain(parse_query("she blows out the candles, then everyone claps, no dog"))
    text = "\n".join(lines)
    assert "step 1: must show: 'she blows out the candles'" in text
    assert "step 2: must show: 'everyone claps'" in text
    assert "must NOT show: 'dog'" in text


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    assert parsed.clauses
    for clause in parsed.clauses:
        assert clause.text and clause.text == clause.text.strip()
    assert parsed.sequential == (len(parsed.steps) > 1)


_WORDS = st.sampled_from(
    [
        "not",
        "no",
        "isn't",
        "without",
        "with",
        "and",
        "then",
        "after that",
        "-",
        "+",
        '"',
        ",",
        "dog",
        "the part where",
        "nobody",
        "nothing but",
        "first",
        "except",
        "a",
        "is",
        "that",
        "there",
        "later",
        ";",
        "猫",
        "🐶",
        "show me",
    ]
)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=10).map(" ".join))
def test_query_like_text_parses_or_raises_query_error(text: str) -> None:
    try:
        parsed = parse_query(text)
    except QueryError:
        return
    for clause in parsed.clauses:
        assert clause.text and clause.text == clause.text.strip()
        assert 0 <= clause.step < max(len(parsed.steps), 1)


def test_a_negated_predicate_keeps_its_subject_apart() -> None:
    # "a woman who is not smiling" excludes smiling, not women: the subject is marked as kept
    (negated,) = parse_query("a woman who is not smiling").negatives
    assert (negated.text, negated.kept) == ("woman smiling", "woman")
    (negated,) = parse_query("a car that isn't red").negatives
    assert (negated.text, negated.kept) == ("red car", "car")
    assert [c.kept for c in parse_query("a beach without a sunny day").negatives] == [""]


@pytest.mark.parametrize(
    ("spec", "start", "end"),
    [
        ("b.mp4@80", 80.0, None),
        ("b.mp4@1:20", 80.0, None),
        ("b.mp4@1m20s", 80.0, None),
        ("b.mp4@80.5s", 80.5, None),
        ("b.mp4@2m", 120.0, None),
        ("b.mp4@1h2m3s", 3723.0, None),
        ("b.mp4@1m20s-1m40s", 80.0, 100.0),
        ("b.mp4@1:20\u20131:40", 80.0, 100.0),  # the en dash editors put in a range
        ("b.mp4@1:20 - 1:40", 80.0, 100.0),
    ],
)
def test_reference_times_in_the_forms_people_copy(spec: str, start: float, end: float | None) -> None:
    from vidsearch.query.options import LikeRef, parse_like

    assert parse_like(spec) == LikeRef("b.mp4", start, end)


def test_a_file_name_with_an_at_sign_stays_a_path() -> None:
    from vidsearch.query.options import LikeRef, parse_like

    assert parse_like("me@home.mp4") == LikeRef("me@home.mp4")
    with pytest.raises(UsageError, match="not a time after '@'"):
        parse_like("b.mp4@1:20+10")
