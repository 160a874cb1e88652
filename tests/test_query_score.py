"""Scoring math on synthetic similarity arrays: calibration, soft AND, negation, order, composition."""

from __future__ import annotations

import numpy as np
import pytest

from vidsearch.errors import QueryError
from vidsearch.query.score import (
    ScoreParams,
    calibrate,
    combine,
    combine_detailed,
    compose,
    is_near_duplicate,
    near_duplicates,
    sequence_matches,
    soft_min,
)


def test_soft_min_prefers_a_moment_matching_every_clause() -> None:
    # moment 0 matches both clauses well; moment 1 matches clause A very strongly and not clause B
    pos = np.array([[2.0, 5.0], [2.0, 0.0]])
    assert pos.mean(axis=0).argmax() == 1  # a plain average would rank the one-clause moment first
    scores = combine(pos)
    assert scores[0] > scores[1]
    assert scores[0] == pytest.approx(2.0)  # equal clauses: soft-min is that value


def test_soft_min_lies_between_min_and_mean() -> None:
    x = np.array([[1.0, 3.0, -1.0], [4.0, 3.0, 2.0]])
    s = soft_min(x, softness=0.5, axis=0)
    assert np.all(s >= x.min(axis=0) - 1e-9) and np.all(s <= x.mean(axis=0) + 1e-9)
    assert soft_min(np.array([[7.0], [-np.inf]]))[0] == -np.inf
    assert soft_min(np.array([[1e6], [1e6 + 1]]))[0] == pytest.approx(1e6 + 0.0, abs=0.5)


def test_negation_pushes_down_the_moment_showing_the_negated_thing() -> None:
    pos = np.array([[3.0, 3.0, 3.0]])
    neg = np.array([[0.2, 3.5, 1.0]])  # moment 1 clearly shows the dog; 0 and 2 look typical
    scores = combine(pos, neg)
    assert scores[1] < scores[0] - 2.0
    assert scores[0] == pytest.approx(3.0) and scores[2] == pytest.approx(3.0)  # within the margin: no cost
    ranked = np.argsort(-scores)
    assert ranked[-1] == 1


def test_hard_negation_filter_drops_moments() -> None:
    pos = np.array([[3.0, 2.0]])
    neg = np.array([[4.0, 0.0]])
    detail = combine_detailed(pos, neg, ScoreParams(neg_drop=2.5))
    assert detail.dropped.tolist() == [True, False]
    assert detail.scores[0] == -np.inf and detail.scores[1] == pytest.approx(2.0)


def test_only_negations_rank_by_how_little_the_moment_shows_them() -> None:
    scores = combine(None, np.array([[0.0, 4.0, 2.0]]))
    assert np.argsort(-scores).tolist() == [0, 2, 1]


def test_explain_gives_each_clause_its_part() -> None:
    detail = combine_detailed(np.array([[2.0, 5.0], [2.0, 0.0]]), np.array([[0.0, 3.0]]))
    info = detail.explain(1, positives=["dog", "lake"], negatives=["leash"])
    assert info["positives"] == {"dog": 5.0, "lake": 0.0}
    assert info["negatives"] == {"leash": {"z": 3.0, "penalty": 2.0}}
    assert info["score"] == pytest.approx(info["clauses"] - info["penalty"])


def test_combine_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="moments"):
        combine(np.zeros((1, 3)), np.zeros((1, 4)))


def test_calibration_puts_clauses_with_different_raw_scales_on_one_scale() -> None:
    rng = np.random.default_rng(0)
    # clause 0: a model/clause whose cosines sit near 0.20 with a tiny spread; clause 1: near 0.60, wide
    library = np.stack([rng.normal(0.20, 0.01, 2000), rng.normal(0.60, 0.10, 2000)])
    sims = np.array([[0.22, 0.20], [0.80, 0.60]])  # moment 0 is two spreads above typical for both
    z = calibrate(sims, library)
    assert z[0, 0] == pytest.approx(2.0, abs=0.15) and z[1, 0] == pytest.approx(2.0, abs=0.15)
    assert abs(z[0, 1]) < 0.15 and abs(z[1, 1]) < 0.15
    # raw cosines would call moment 1's clause-1 match (0.60) stronger than moment 0's clause-0 (0.22)
    assert sims[1, 1] > sims[0, 0] and z[1, 1] < z[0, 0]


def test_calibration_floors_the_spread_and_handles_a_tiny_library() -> None:
    flat = calibrate(np.array([[0.51, 0.50]]), np.full((1, 50), 0.5))
    assert np.all(np.isfinite(flat)) and flat[0, 0] == pytest.approx(1.0)  # 0.01 over a 0.01 floor
    tiny = calibrate(np.array([0.9, 0.1]), np.array([[0.5]]))
    assert tiny.shape == (2,) and tiny[0] > 0 > tiny[1]


def _times(starts: list[float], length: float, videos: list[int]) -> tuple[np.ndarray, ...]:
    s = np.array(starts, dtype=float)
    return s, s + length, np.array(videos)


NO = -np.inf  # this moment does not show the step at all


def test_sequence_finds_a_then_b_and_not_b_then_a() -> None:
    # video 1: A at 0-5 s, B at 10-15 s (the right order). video 2: B at 0-5 s, A at 10-15 s (wrong).
    times = _times([0, 10, 0, 10], 5.0, [1, 1, 2, 2])
    a = np.array([3.0, NO, NO, 3.0])
    b = np.array([NO, 3.0, 3.0, NO])
    assert sequence_matches([a, b], times) == [(0, 1, pytest.approx(3.0))]


def test_sequence_respects_max_gap() -> None:
    times = _times([0, 60], 5.0, [1, 1])  # B starts 55 s after A ends
    a, b = np.array([3.0, NO]), np.array([NO, 3.0])
    assert sequence_matches([a, b], times, max_gap=30.0) == []
    assert sequence_matches([a, b], times, max_gap=60.0) == [(0, 1, pytest.approx(3.0))]


def test_sequence_pairs_moments_only_within_one_video() -> None:
    # A in video 1 and B in video 2 at the right times must not pair; video 2's own A-then-B does
    times = _times([0, 10, 100, 110], 5.0, [1, 2, 2, 2])
    a = np.array([3.0, NO, 2.0, NO])
    b = np.array([NO, 3.0, NO, 2.0])
    assert sequence_matches([a, b], times) == [(2, 3, pytest.approx(2.0))]


def test_sequence_one_short_moment_cannot_be_both_steps() -> None:
    times = _times([0.0], 0.5, [1])  # shorter than the tolerance, so only the identity check stops it
    assert sequence_matches([np.array([3.0]), np.array([3.0])], times) == []


def test_sequence_keeps_the_best_of_overlapping_chains() -> None:
    times = _times([0, 10, 20], 5.0, [1, 1, 1])  # A, then B twice: two chains share the same A
    found = sequence_matches([np.array([3.0, NO, NO]), np.array([NO, 3.0, 2.5])], times)
    assert found == [(0, 1, pytest.approx(3.0))]


def test_sequence_adjacent_moments_count_and_the_same_moment_does_not() -> None:
    times = _times([0, 5], 5.0, [1, 1])  # B starts exactly where A ends
    both = np.array([3.0, 3.0])
    found = sequence_matches([both, both], times)
    assert [(f, last) for f, last, _ in found] == [(0, 1)]


def test_sequence_three_steps_best_chain_first_without_overlaps() -> None:
    # one video, moments every 10 s: A at 0 and 40, B at 10 and 50, C at 20 and 60
    times = _times([0, 10, 20, 40, 50, 60], 5.0, [1] * 6)
    a = np.array([2.0, NO, NO, 3.0, NO, NO])
    b = np.array([NO, 2.0, NO, NO, 3.0, NO])
    c = np.array([NO, NO, 2.0, NO, NO, 3.0])
    found = sequence_matches([a, b, c], times, max_gap=8.0)
    assert [(f, last) for f, last, _ in found] == [(3, 5), (0, 2)]
    assert found[0][2] == pytest.approx(3.0) and found[1][2] == pytest.approx(2.0)


def test_sequence_soft_min_score_and_min_score_filter() -> None:
    times = _times([0, 10], 5.0, [1, 1])
    found = sequence_matches([np.array([4.0, NO]), np.array([NO, 1.0])], times)
    assert len(found) == 1 and 1.0 < found[0][2] < 2.5  # weak B caps the pair
    assert sequence_matches([np.array([4.0, NO]), np.array([NO, 1.0])], times, min_score=2.5) == []


def test_compose_blends_reference_and_edit() -> None:
    ref, edit = np.array([3.0, 0.0, 0.0]), np.array([0.0, 0.5, 0.0])  # norms differ on purpose
    assert compose(ref, edit, 1.0) == pytest.approx([1.0, 0.0, 0.0])
    assert compose(ref, edit, 0.0) == pytest.approx([0.0, 1.0, 0.0])
    half = compose(ref, edit, 0.5)
    assert np.linalg.norm(half) == pytest.approx(1.0)
    assert half[0] == pytest.approx(half[1])  # equal weight despite the different input norms
    more_ref = compose(ref, edit, 0.8)
    assert more_ref[0] > more_ref[1]


def test_compose_errors() -> None:
    with pytest.raises(QueryError, match="between 0 and 1"):
        compose(np.ones(3), np.ones(3), 1.5)
    with pytest.raises(QueryError, match="cancel out"):
        compose(np.array([1.0, 0.0]), np.array([-1.0, 0.0]), 0.5)


def test_near_duplicates() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(size=64)
    almost = 2.0 * a + rng.normal(scale=0.01, size=64)
    other = rng.normal(size=64)
    assert is_near_duplicate(a, almost)
    assert not is_near_duplicate(a, other)
    assert not is_near_duplicate(a, np.zeros(64))
    assert near_duplicates(a, np.stack([other, almost, a])).tolist() == [False, True, True]
