"""One frame to one decision, with a scripted model: thresholds, band, actuator, spool choice,
and a non-finite score refused rather than accepted."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common import topics
from components.common.image_preprocess import Preprocessor
from components.common.live_config import validate_config
from components.common.model_errors import ModelError
from components.common.model_interpret import Prediction
from components.common.model_manifest import TensorSpec
from components.common.preprocessing import PART_IMAGE_V1
from components.common.sequence_numbers import SequenceNumbers
from components.inspection.actuator import PulseActuator, SimulatedOutput
from components.inspection.cameras.base import Frame
from components.inspection.config import InspectionConfig
from components.inspection.pipeline import Inspector, Serving
from components.inspection.spool import ImageSpool, SpoolWriter

from .fakes import FakeDisk, RecordingPublisher

IMAGE = np.full((64, 64), 128, dtype=np.uint8)


class ScriptedModel:
    """Stands in for a DefectModel: returns the scripted probabilities in order."""

    name = "part_defect"
    version = "test"
    kind = "score"
    path = Path("scripted.tflite")

    def __init__(self, probabilities: list[float]) -> None:
        self.probabilities = list(probabilities)

    def predict(self, batch: np.ndarray) -> Prediction:
        assert batch.shape == (1, 64, 64, 1)
        return Prediction((), score=self.probabilities.pop(0))


def serving(tmp_path: Path, probabilities: list[float], **raw: Any) -> Serving:
    config = validate_config(
        InspectionConfig, {"spool": {"dir": str(tmp_path), "minFreeBytes": 0, **raw.pop("spool", {})}, **raw}
    )
    spool = ImageSpool(
        tmp_path, max_bytes=10**8, max_entries=100, min_free_bytes=0, disk_usage=FakeDisk(10**12)
    )
    return Serving(
        config,
        ScriptedModel(probabilities),  # type: ignore[arg-type]
        Preprocessor(TensorSpec("image", (1, 64, 64, 1), "float32"), PART_IMAGE_V1),
        PulseActuator(SimulatedOutput(), 1.0),
        SpoolWriter(spool),
    )


def frame(index: int, defect: str | None = "") -> Frame:
    return Frame(IMAGE, 1_790_000_000.0 + index, time.perf_counter(), index, defect)


def test_decisions_follow_the_thresholds_and_rejects_pulse_and_spool(tmp_path: Path) -> None:
    s = serving(tmp_path, [0.1, 0.6, 0.95], spool={"goodSampleRate": 0.0})
    publisher = RecordingPublisher()
    inspector = Inspector(publisher, SequenceNumbers().next)
    messages = [inspector.inspect(s, frame(i, d), f"P{i}") for i, d in enumerate(["", "spot", "crack"])]
    assert [m["decision"] for m in messages] == ["accept", "review", "reject"]
    assert [m["actuated"] for m in messages] == [False, False, True]
    assert publisher.on(topics.INSPECTION_DECISIONS) == messages
    assert messages[0]["image"] is None and messages[2]["image"].endswith(".png")
    assert s.actuator.metrics()["pulses"] == 1
    s.spool.drain()
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        [messages[1]["image"], messages[2]["image"]]
    )
    quality = inspector.metrics()["quality"]
    assert (quality["trueAccepts"], quality["reviewsDefective"], quality["trueRejects"]) == (1, 1, 1)
    s.spool.close()
    s.actuator.close()


def test_a_sample_of_good_parts_is_kept(tmp_path: Path) -> None:
    s = serving(tmp_path, [0.0] * 4, spool={"goodSampleRate": 0.5})
    draws = iter([0.1, 0.9, 0.4, 0.6])
    inspector = Inspector(RecordingPublisher(), SequenceNumbers().next, sample=lambda: next(draws))
    kept = [inspector.inspect(s, frame(i))["image"] is not None for i in range(4)]
    assert kept == [True, False, True, False]
    s.spool.close()
    s.actuator.close()


def test_a_non_finite_probability_is_refused_not_accepted(tmp_path: Path) -> None:
    s = serving(tmp_path, [float("nan")])
    publisher = RecordingPublisher()
    with pytest.raises(ModelError, match="non-finite defect probability"):
        Inspector(publisher, SequenceNumbers().next).inspect(s, frame(0))
    assert publisher.messages == []
    s.spool.close()
    s.actuator.close()
