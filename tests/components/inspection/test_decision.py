"""Thresholds, the uncertain band and the quality figures."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.inspection.decision import QualityFigures, decide


@pytest.mark.parametrize(
    ("probability", "expected"),
    [
        (0.0, "accept"),
        (0.49, "accept"),
        (0.5, "review"),
        (0.8, "review"),  # at the threshold: not above it
        (0.8000001, "reject"),
        (1.0, "reject"),
    ],
)
def test_threshold_and_uncertain_band(probability: float, expected: str) -> None:
    assert decide(probability, threshold=0.8, review_threshold=0.5) == expected


def test_without_a_band_there_is_no_review() -> None:
    assert decide(0.8, 0.8, 0.8) == "accept"
    assert decide(0.81, 0.8, 0.8) == "reject"


@given(
    st.floats(0, 1),
    st.floats(0, 1),
    st.floats(0, 1).flatmap(lambda t: st.tuples(st.just(t), st.floats(0, t))),
)
def test_decisions_never_get_milder_as_the_probability_grows(p: float, q: float, thresholds: tuple) -> None:
    threshold, review = thresholds
    order = {"accept": 0, "review": 1, "reject": 2}
    low, high = sorted((p, q))
    assert order[decide(low, threshold, review)] <= order[decide(high, threshold, review)]


def test_quality_figures_count_escapes_and_false_rejects() -> None:
    figures = QualityFigures()
    assert figures.metrics()["escapeRate"] is None
    for decision, defective in [
        ("reject", True),
        ("reject", True),
        ("reject", True),
        ("accept", True),  # an escape
        ("reject", False),  # a false reject
        ("accept", False),
        ("accept", False),
        ("accept", False),
        ("review", True),
        ("review", False),
    ]:
        figures.add(decision, defective)  # type: ignore[arg-type]
    m = figures.metrics()
    assert (m["trueRejects"], m["falseAccepts"], m["falseRejects"], m["trueAccepts"]) == (3, 1, 1, 3)
    assert (m["reviewsDefective"], m["reviewsGood"], m["scored"]) == (1, 1, 10)
    assert m["escapeRate"] == pytest.approx(1 / 5) and m["falseRejectRate"] == pytest.approx(1 / 5)
    assert m["precision"] == pytest.approx(3 / 4) and m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(3 / 4)
