"""Decisions over any card, with the shipped shelf models: a class that rejects, a detection that
rejects (its box in the decision and drawn into the spooled image), and per-class counts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from components.common.image_preprocess import Preprocessor
from components.common.live_config import validate_config
from components.common.model_host import ModelSwapRejected
from components.common.sequence_numbers import SequenceNumbers
from components.inspection.actuator import PulseActuator, SimulatedOutput
from components.inspection.cameras.base import Frame
from components.inspection.component import InspectionComponent
from components.inspection.config import InspectionConfig
from components.inspection.decision import check_reject_classes
from components.inspection.model import load_defect_model
from components.inspection.overlay import HIGHLIGHT, draw_boxes
from components.inspection.pipeline import Inspector, Serving
from components.inspection.spool import ImageSpool, SpoolWriter
from models.data.shelf import render_product, render_scene

from .fakes import FakeDisk, RecordingPublisher


def serving_for(tmp_path: Path, raw: dict[str, Any]) -> Serving:
    config = validate_config(
        InspectionConfig, {"spool": {"dir": str(tmp_path), "minFreeBytes": 0, "goodSampleRate": 0.0}, **raw}
    )
    model = load_defect_model(config.model)
    problem = check_reject_classes(model.card, config.decision.reject_classes)
    assert problem is None, problem
    spool = ImageSpool(
        tmp_path, max_bytes=10**8, max_entries=100, min_free_bytes=0, disk_usage=FakeDisk(10**12)
    )
    return Serving(
        config,
        model,
        Preprocessor(model.runtime.inputs[0], model.image_input, use_opencv=False),
        PulseActuator(SimulatedOutput(), 1.0),
        SpoolWriter(spool),
    )


def frame(image: np.ndarray, index: int) -> Frame:
    return Frame(image, 1_790_000_000.0 + index, time.perf_counter(), index)


def test_a_classifier_rejects_when_a_configured_class_wins(tmp_path: Path) -> None:
    # GIVEN the shelf classifier, and an empty shelf place counts as a reject (out of stock)
    s = serving_for(
        tmp_path,
        {
            "model": {"model": "shelf_products"},
            "decision": {"rejectClasses": ["empty"], "threshold": 0.6, "reviewThreshold": 0.6},
        },
    )
    inspector = Inspector(RecordingPublisher(), SequenceNumbers().next)
    images = {
        label: next(img for i in range(200) for img, lab in [render_product(77, i)] if lab == label)
        for label in (0, 1)
    }
    # WHEN an empty place and a can are inspected
    empty = inspector.inspect(s, frame(images[0], 0), "P0")
    can = inspector.inspect(s, frame(images[1], 1), "P1")
    # THEN the empty place is rejected, the can accepted, each with its top classes
    assert (empty["decision"], can["decision"]) == ("reject", "accept")
    assert empty["classes"][0]["label"] == "empty" and can["classes"][0]["label"] == "can"
    assert empty["probability"] > 0.6 and can["probability"] == 0.0
    s.spool.close()


def test_a_detector_rejects_on_a_configured_class_keeps_its_box_and_draws_it(tmp_path: Path) -> None:
    # GIVEN the shelf detector: cans reject, and detections are counted per class
    s = serving_for(
        tmp_path,
        {
            "model": {"model": "shelf_detector"},
            "decision": {"rejectClasses": ["can"], "countDetections": True},
        },
    )
    inspector = Inspector(RecordingPublisher(), SequenceNumbers().next)
    index = next(
        i for i in range(200) if sorted(render_scene(55, i)[2].tolist()) == [0, 1]
    )  # a can and a box
    image, boxes, classes = render_scene(55, index)
    # WHEN the scene is inspected
    message = inspector.inspect(s, frame(image, 0), "shelf-1")
    # THEN it is rejected on the can, every detection's box is in the message, counts too
    assert message["decision"] == "reject" and message["actuated"] is True
    assert message["counts"] == {"box": 1, "can": 1}
    can = next(d for d in message["detections"] if d["label"] == "can")
    true_can = boxes[list(classes).index(0)]
    assert np.allclose(can["box"], true_can, atol=0.08)
    # AND the spooled image has the can's box drawn in the highlight colour
    s.spool.drain()
    png = np.asarray(Image.open(tmp_path / message["image"]).convert("RGB"))
    top, left = round(can["box"][0] * 95), round(can["box"][1] * 95)
    assert tuple(png[top, left + 2]) == HIGHLIGHT
    assert not np.array_equal(png, image)  # drawn into a copy, the frame itself untouched
    assert tuple(image[top, left + 2]) != HIGHLIGHT
    s.spool.close()


def test_reject_classes_are_held_to_the_cards_labels(tmp_path: Path) -> None:
    component = InspectionComponent(RecordingPublisher(), lambda _t, _h: None)  # type: ignore[arg-type,return-value]
    base = {"spool": {"dir": str(tmp_path), "minFreeBytes": 0}, "model": {"model": "shelf_detector"}}
    cases = [
        ({**base, "decision": {"rejectClasses": ["bottle"]}}, "['bottle'] are not labels of"),
        ({**base}, "a detection model needs the labels that reject, one of ['can', 'box']"),
        ({"spool": base["spool"], "decision": {"rejectClasses": ["can"]}}, "a score model has no classes"),
    ]
    for raw, message in cases:
        with pytest.raises(ModelSwapRejected, match=message.replace("[", r"\[").replace("]", r"\]")):
            component.apply(validate_config(InspectionConfig, raw))
    assert component.serving is None  # nothing was switched to


def test_boxes_are_drawn_on_a_grey_frame_as_colour() -> None:
    from components.common.detections import Detection

    grey = np.full((20, 30), 100, dtype=np.uint8)
    out = draw_boxes(grey, [Detection("x", 0, 0.9, (0.1, 0.1, 0.5, 0.5))])
    assert out.shape == (20, 30, 3) and grey.ndim == 2
    assert (out != 100).any() and (grey == 100).all()


def test_boxes_found_in_a_crop_are_reported_in_frame_coordinates() -> None:
    from components.common.detections import Detection
    from components.common.model_interpret import Prediction
    from components.inspection.config import CropConfig
    from components.inspection.pipeline import in_frame

    crop = CropConfig(x=100, y=50, width=200, height=100)
    found = Prediction((), detections=(Detection("can", 0, 0.9, (0.0, 0.0, 1.0, 0.5)),))
    (moved,) = in_frame(found, crop, (400, 600)).detections
    assert moved.box == (50 / 400, 100 / 600, 150 / 400, 200 / 600)
