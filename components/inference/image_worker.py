"""One hosted image model at work: image messages in, queued, run in batches, predictions out.

Images arrive on the IPC callback thread (:meth:`ImageWorker.on_image`): parsed, decoded and
preprocessed per the model's card into a queue of model inputs (bounded: beyond ``capacity``
the oldest are dropped and counted). The worker thread takes what is waiting (up to
``max_batch``), stacks it and runs :meth:`HostedModel.run` once, which batches the invoke only
where that is correct for the model, and publishes one ``edgebundle.prediction.v1`` per image.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.common.image_messages import image_pixels
from components.common.image_preprocess import Preprocessor
from components.common.logs import kv
from components.common.messages import (
    IMAGE_V1,
    ImageMessage,
    MessageError,
    parse_message,
    prediction_message,
)
from components.common.model_errors import ModelError
from components.inference.host import LoadedModel
from components.inference.worker import Publisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QueuedImage:
    """One preprocessed image waiting for the model."""

    source: str
    seq: int
    part_id: str | None
    model_input: np.ndarray  # (1, ...) in the model's input dtype
    received: float  # time.perf_counter()


class ImageWorker:
    """Runs one hosted image model; see the module docstring.

    Args:
        model: the validated model (an ``image`` card).
        publisher: where predictions go.
        next_seq: ``next_seq(source, topic)`` gives each prediction's sequence number.
        max_batch: most images per run.
        max_pending: queued images before the oldest are dropped.
    """

    def __init__(
        self,
        model: LoadedModel,
        publisher: Publisher,
        next_seq: Callable[[str, str], int],
        *,
        max_batch: int,
        max_pending: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._model = model
        self._preprocessor = Preprocessor(model.runtime.inputs[0], model.image)
        self._publisher = publisher
        self._next_seq = next_seq
        self._clock = clock
        self.max_batch = max_batch
        self.capacity = max_pending
        self._queue: deque[QueuedImage] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._preprocess_lock = threading.Lock()
        self.images = self.ignored = self.invalid = self.dropped = 0
        self.scored = self.published = self.batches = self.largest_batch = self.errors = self.swaps = 0

    @property
    def model(self) -> LoadedModel:
        """The model serving now."""
        return self._model

    def swap(self, model: LoadedModel) -> None:
        """Serve ``model`` from the next image on (it is already validated)."""
        preprocessor = Preprocessor(model.runtime.inputs[0], model.image)
        with self._preprocess_lock:
            if model.runtime is not self._model.runtime:
                self.swaps += 1
            self._model, self._preprocessor = model, preprocessor

    def on_image(self, payload: Any) -> None:
        """Take one message from the input topic; invalid ones are counted and skipped."""
        try:
            message = parse_message(payload)
            if not isinstance(message, ImageMessage):
                self.ignored += 1
                return
            pixels = image_pixels(message)
            with self._preprocess_lock:
                model_input = self._preprocessor(pixels).copy()  # the preprocessor reuses its buffer
        except (MessageError, ModelError) as err:
            self.invalid += 1
            log.debug(kv(event="invalid_image", schema=IMAGE_V1, error=err))
            return
        item = QueuedImage(message.source, message.seq, message.part_id, model_input, time.perf_counter())
        with self._cond:
            self.images += 1
            if len(self._queue) >= self.capacity:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(item)
            self._cond.notify()

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(
            target=self._run, name=f"inference-{self._model.config.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Run what is queued, then stop."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def take(self, timeout: float) -> list[QueuedImage]:
        """Up to ``max_batch`` queued images, oldest first; waits up to ``timeout`` for the first."""
        with self._cond:
            if not self._queue:
                self._cond.wait(timeout)
            return [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]

    def _run(self) -> None:
        while True:
            batch = self.take(0.2)
            if batch:
                self.score(batch)
            elif self._stop.is_set():
                return

    def score(self, batch: list[QueuedImage]) -> None:
        """Run a batch with the current model and publish one prediction per image."""
        model = self._model
        try:
            start = time.perf_counter()
            predictions = model.hosted.run(np.concatenate([item.model_input for item in batch]))
            inference_ms = (time.perf_counter() - start) * 1000.0
        except Exception as err:  # a model failing at run time must not end the worker
            self.errors += len(batch)
            log.error(
                kv(event="inference_failed", model=model.config.name, images=len(batch), error=repr(err))
            )
            return
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        topic = model.output_topic
        kind = model.hosted.kind
        now = self._clock()
        for item, prediction in zip(batch, predictions, strict=True):
            message = prediction_message(
                item.source,
                self._next_seq(item.source, topic),
                now,
                model=model.config.name,
                model_version=model.version,
                kind=kind,
                image_seq=item.seq,
                inference_ms=round(inference_ms, 4),
                result=prediction.to_json(kind),
                part_id=item.part_id,
            )
            self._publisher.publish(topic, message)
            self.published += 1
        self.scored += len(batch)

    def health(self) -> dict[str, Any]:
        """Per-model figures for the component's health message."""
        model = self._model
        with self._cond:
            pending = len(self._queue)
        return {
            "model": model.hosted.name,
            "kind": model.hosted.kind,
            "variant": model.config.variant,
            "version": model.version,
            "sha256": model.sha256,
            "batchable": model.runtime.batchable,
            "images": self.images,
            "ignored": self.ignored,
            "invalid": self.invalid,
            "imagesScored": self.scored,
            "imagesDropped": self.dropped,
            "imagesPending": pending,
            "predictionsPublished": self.published,
            "batches": self.batches,
            "largestBatch": self.largest_batch,
            "errors": self.errors,
            "swaps": self.swaps,
        }
