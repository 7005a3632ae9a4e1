"""Frames handed on as image messages for image models in the inference component."""

from __future__ import annotations

import time

import numpy as np

from components.common.image_messages import image_pixels
from components.common.messages import MAX_IMAGE_BYTES, ImageMessage, parse_message
from components.common.sequence_numbers import SequenceNumbers
from components.inspection.cameras.base import Frame
from components.inspection.config import FramesConfig
from components.inspection.frames import FramePublisher

from .fakes import RecordingPublisher


def frame(index: int, image: np.ndarray) -> Frame:
    return Frame(image, 1_790_000_000.0 + index, time.perf_counter(), index, name=f"f{index}.png")


def test_every_nth_frame_is_published_whole_and_none_without_a_topic() -> None:
    publisher = RecordingPublisher()
    frames = FramePublisher(publisher, SequenceNumbers().next)
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    for i in range(5):
        frames.offer(
            FramesConfig(topic="factory/cam/frames", every=2), frame(i, image), part_id=f"P{i}" if i else None
        )
        frames.offer(FramesConfig(), frame(i, image), None)  # no topic: nothing
    sent = publisher.on("factory/cam/frames")
    assert len(sent) == 3 and frames.metrics() == {"published": 3, "tooLarge": 0}
    decoded = parse_message(sent[1])
    assert isinstance(decoded, ImageMessage) and decoded.part_id == "P2"
    assert np.array_equal(image_pixels(decoded), image)
    assert parse_message(sent[0]).part_id == "f0.png"  # type: ignore[attr-defined]


def test_a_frame_too_large_for_one_ipc_message_is_counted_not_sent() -> None:
    publisher = RecordingPublisher()
    frames = FramePublisher(publisher, SequenceNumbers().next)
    side = int((MAX_IMAGE_BYTES // 3) ** 0.5) + 2
    frames.offer(FramesConfig(topic="t"), frame(0, np.zeros((side, side, 3), np.uint8)), None)
    assert publisher.on("t") == [] and frames.metrics() == {"published": 0, "tooLarge": 1}
