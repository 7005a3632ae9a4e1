"""Reading detector and classifier outputs: NMS, the post-process op's tensors, logits, raw outputs."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.detections import decode_postprocess, decode_raw, iou, to_yxyx
from components.common.model_card import LoadedCard, parse_card
from components.common.model_interpret import interpret


def test_nms_keeps_the_best_of_overlapping_boxes_per_class() -> None:
    boxes = np.array(
        [
            [0.10, 0.10, 0.50, 0.50],  # class 0, best
            [0.12, 0.11, 0.52, 0.50],  # class 0, overlaps the best: suppressed
            [0.12, 0.11, 0.52, 0.50],  # class 1, same place: another class, kept
            [0.60, 0.60, 0.90, 0.90],  # class 0, elsewhere: kept
            [0.00, 0.00, 0.10, 0.10],  # under the score threshold
        ]
    )
    scores = np.array([[0.9, 0.1], [0.8, 0.1], [0.1, 0.7], [0.1, 0.05], [0.2, 0.1]])
    scores[3] = [0.6, 0.05]
    found = decode_raw(
        boxes,
        scores,
        labels=("can", "box"),
        encoding="yxyx",
        score_threshold=0.3,
        iou_threshold=0.5,
        max_detections=10,
    )
    assert [(d.label, round(d.score, 2)) for d in found] == [("can", 0.9), ("box", 0.7), ("can", 0.6)]
    assert found[0].box == (0.1, 0.1, 0.5, 0.5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(0, 0.8), st.floats(0, 0.8), st.floats(0.05, 0.2), st.floats(0.05, 0.2), st.floats(0, 1)
        ),
        min_size=1,
        max_size=30,
    )
)
def test_nms_never_keeps_two_boxes_of_a_class_overlapping_beyond_the_threshold(
    rows: list[tuple[float, ...]],
) -> None:
    array = np.array(rows)
    boxes = np.stack([array[:, 0], array[:, 1], array[:, 0] + array[:, 2], array[:, 1] + array[:, 3]], axis=1)
    found = decode_raw(
        boxes,
        array[:, 4],
        labels=("x",),
        encoding="yxyx",
        score_threshold=0.0,
        iou_threshold=0.4,
        max_detections=100,
    )
    kept = np.array([d.box for d in found])
    for i in range(len(kept)):
        assert np.all(iou(kept[i], np.delete(kept, i, axis=0)) <= 0.4 + 1e-9)
    assert [d.score for d in found] == sorted((d.score for d in found), reverse=True)


def test_box_encodings_become_ymin_xmin_ymax_xmax() -> None:
    xyxy = np.array([[0.1, 0.2, 0.3, 0.6]])
    cxcywh = np.array([[0.2, 0.4, 0.2, 0.4]])
    assert np.allclose(to_yxyx(xyxy, "xyxy"), [[0.2, 0.1, 0.6, 0.3]])
    assert np.allclose(to_yxyx(cxcywh, "cxcywh"), [[0.2, 0.1, 0.6, 0.3]])


def test_the_postprocess_ops_tensors_are_read_up_to_the_count() -> None:
    boxes = np.array([[0.1, 0.1, 0.4, 0.4], [0.5, 0.5, 0.9, 0.9], [0.0, 0.0, 1.0, 1.0]])
    found = decode_postprocess(
        boxes,
        np.array([2.0, 0.0, 1.0]),
        np.array([0.8, 0.25, 0.99]),
        np.array([2.0]),  # the third row is padding past the count
        labels=("person", "car", "truck"),
        score_threshold=0.3,
        max_detections=10,
    )
    assert [(d.label, d.class_id) for d in found] == [("truck", 2)]


def card(output: dict[str, object]) -> LoadedCard:
    return parse_card({"name": "m", "input": {"source": "image"}, "output": output}, "test")


def test_logits_are_turned_into_probabilities_and_top_k_is_kept() -> None:
    loaded = card({"kind": "classification", "activation": "logits", "labels": ["a", "b", "c"], "topK": 2})
    (prediction,) = interpret(loaded, (np.array([[1.0, 3.0, 2.0]], dtype=np.float32),))
    assert [label for label, _ in prediction.classes] == ["b", "c"]
    e = np.exp([1.0, 3.0, 2.0])
    assert abs(prediction.classes[0][1] - e[1] / e.sum()) < 1e-9


def test_a_raw_card_publishes_every_output() -> None:
    loaded = card({"kind": "raw"})
    outputs = (np.ones((2, 3), np.float32), np.zeros((2, 4, 2), np.float32))
    first, second = interpret(loaded, outputs)
    message = first.to_json("raw")
    assert message["outputs"] == [[1.0, 1.0, 1.0], [[0.0, 0.0]] * 4]
    assert second.outputs[1].shape == (4, 2)
