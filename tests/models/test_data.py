"""The data generators and the shared preprocessing (numpy only, no TensorFlow)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.preprocessing import CLIP, WINDOW, _nan_median, part_images_v1, sensor_windows_v1
from components.inspection.cameras.parts import DEFECT_KINDS, PartGenerator, part_dataset, render_part
from models.data.sensor_windows import AMBIGUOUS, labelled_windows, window_labels


def test_parts_are_deterministic_and_random_access() -> None:
    gen = PartGenerator(seed=5, defect_rate=0.3)
    first = [gen.next() for _ in range(5)]
    again = PartGenerator(seed=5, defect_rate=0.3)
    assert all(np.array_equal(again.part(p.index).image, p.image) for p in reversed(first))
    assert [again.part(p.index).defect for p in first] == [p.defect for p in first]
    assert not np.array_equal(PartGenerator(seed=6).part(0).image, first[0].image)


@pytest.mark.parametrize("kind", DEFECT_KINDS)
def test_a_defect_changes_the_part_it_is_drawn_on(kind: str) -> None:
    good = render_part(3, 11, None).astype(int)
    bad = render_part(3, 11, kind).astype(int)  # type: ignore[arg-type]
    # Same rng stream up to the defect: the part is in the same place, the defect differs.
    assert good.shape == bad.shape == (64, 64)
    assert np.abs(good - bad).max() > 30


def test_part_dataset_labels_follow_the_defect_rate() -> None:
    images, labels, codes = part_dataset(seed=1, count=400, defect_rate=0.25)
    assert images.dtype == np.uint8 and images.shape == (400, 64, 64)
    assert 0.15 < labels.mean() < 0.35
    assert set(np.unique(codes[labels == 1])) <= {1, 2, 3}
    assert np.all(codes[labels == 0] == 0)


def test_bad_defect_rate_and_kind_are_refused() -> None:
    with pytest.raises(ValueError, match="defect_rate"):
        PartGenerator(defect_rate=1.5)
    with pytest.raises(ValueError, match="defect must be one of"):
        render_part(0, 0, "dent")  # type: ignore[arg-type]


def test_window_labels_follow_the_policy() -> None:
    codes = np.zeros((6, WINDOW), dtype=np.int8)
    codes[1, 10] = 1  # a spike
    codes[2, 30:] = 2  # a step edge with 30 + 34 samples either side
    codes[3, :] = 2  # wholly inside a step: ambiguous
    codes[4, 60:] = 3  # 4 stuck samples: ambiguous
    codes[5, 20:40] = 3  # 20 stuck samples
    assert window_labels(codes).tolist() == [0, 1, 1, AMBIGUOUS, AMBIGUOUS, 1]


def test_sensor_windows_are_labelled_and_deterministic() -> None:
    a = labelled_windows(3, segments=2, samples_per_segment=800, stride=8)
    b = labelled_windows(3, segments=2, samples_per_segment=800, stride=8)
    assert a.x.shape == (len(a.y), WINDOW, 5) and a.x.dtype == np.float32
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert set(np.unique(a.y)) <= {0, 1}


def test_a_stuck_run_shows_as_zero_differences_and_missing_reads_as_flags() -> None:
    rng = np.random.default_rng(0)
    t = 22 + rng.normal(0, 0.15, (1, WINDOW)).round(1)
    h = 45 + rng.normal(0, 0.5, (1, WINDOW)).round(1)
    t[0, 40:] = t[0, 40]
    h[0, 40:] = h[0, 40]
    t[0, 5] = h[0, 5] = np.nan
    x = sensor_windows_v1(t, h)[0]
    assert np.all(x[41:, 2] == 0) and np.all(x[41:, 3] == 0)
    assert x[5, 4] == 1.0 and x[:, 4].sum() == 1.0
    assert x[5, 0] == x[4, 0]  # carried forward


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.floats(-40, 80), st.just(float("nan"))), min_size=WINDOW, max_size=WINDOW),
    st.lists(st.one_of(st.floats(0, 100), st.just(float("nan"))), min_size=WINDOW, max_size=WINDOW),
)
def test_sensor_preprocessing_is_finite_and_bounded(t: list[float], h: list[float]) -> None:
    x = sensor_windows_v1(np.array([t]), np.array([h]))
    assert x.shape == (1, WINDOW, 5)
    assert np.all(np.isfinite(x)) and np.abs(x).max() <= CLIP


def test_preprocessing_refuses_wrong_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(n, 64\)"):
        sensor_windows_v1(np.zeros((1, 32)), np.zeros((1, 32)))
    with pytest.raises(ValueError, match=r"\(n, 64, 64\)"):
        part_images_v1(np.zeros((1, 32, 32), dtype=np.uint8))
    assert part_images_v1(np.full((2, 64, 64), 255, np.uint8)).max() == 1.0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(st.one_of(st.floats(-100, 100), st.just(float("nan"))), min_size=WINDOW, max_size=WINDOW),
        min_size=1,
        max_size=4,
    )
)
def test_fast_nan_median_equals_numpys(rows: list[list[float]]) -> None:
    values = np.array(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-nan row
        expected = np.nan_to_num(np.nanmedian(values, axis=1, keepdims=True), nan=0.0)
    assert np.allclose(_nan_median(values), expected)
