"""Camera frames handed on as ``edgebundle.image.v1`` messages (``frames.topic``), so image models
hosted by the inference component run on the inspection camera too (several models, one camera).

Called on the inspection thread with every frame that is about to be inspected; publishes every
``frames.every``-th. A frame too large for one IPC message is counted, not published.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from components.common.image_messages import image_message
from components.common.logs import kv
from components.inspection.cameras.base import Frame
from components.inspection.config import FramesConfig
from components.inspection.pipeline import COMPONENT_SOURCE, Publisher

log = logging.getLogger(__name__)


class FramePublisher:
    """Publishes frames per :class:`FramesConfig`; see the module docstring."""

    def __init__(self, publisher: Publisher, next_seq: Callable[[str, str], int]) -> None:
        self._publisher = publisher
        self._next_seq = next_seq
        self._seen = 0
        self.published = 0
        self.too_large = 0

    def offer(self, config: FramesConfig, frame: Frame, part_id: str | None) -> None:
        """Publish ``frame`` if the configuration asks for it."""
        if config.topic is None:
            return
        self._seen += 1
        if (self._seen - 1) % config.every:
            return
        try:
            message = image_message(
                COMPONENT_SOURCE,
                self._next_seq(COMPONENT_SOURCE, config.topic),
                frame.captured,
                frame.image,
                part_id=part_id or frame.name,
            )
        except ValueError as err:  # a frame too large for one IPC message
            self.too_large += 1
            log.debug(kv(event="frame_not_published", error=err))
            return
        self._publisher.publish(config.topic, message)
        self.published += 1

    def metrics(self) -> dict[str, int]:
        """For the health message."""
        return {"published": self.published, "tooLarge": self.too_large}
