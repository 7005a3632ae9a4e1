"""The inference component: hosts the configured models and applies configuration changes live.

:meth:`InferenceComponent.apply` is :class:`~components.common.live_config.LiveConfig`'s apply
hook: it loads and validates every model that changed *before* touching the running ones, so a
bad model (missing, wrong sha256, wrong tensors, failing test inference) raises
:class:`ModelSwapRejected`, ``LiveConfig`` reports the reason in the ``inference-config`` shadow,
and the old model keeps serving. A valid change swaps models between two batches.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from components.common import topics
from components.common.health import DEFAULT_INTERVAL_SECONDS, HealthLoop
from components.common.ipc import Closeable
from components.common.logs import kv
from components.common.messages import health_message
from components.common.model_card import ScoreOutput
from components.common.sequence_numbers import SequenceNumbers
from components.inference.config import HostedModelConfig, InferenceConfig
from components.inference.exceptions import ModelSwapRejected
from components.inference.host import LoadedModel, check_image_topics, load_model, model_identity
from components.inference.image_worker import ImageWorker
from components.inference.worker import ModelWorker, Publisher

log = logging.getLogger(__name__)

COMPONENT_SOURCE = "inference"
#: ``subscribe(topic, handler)``: ``ComponentIpc.subscribe_json`` in the component.
Subscribe = Callable[[str, Callable[[Any], None]], Closeable]


Worker = ModelWorker | ImageWorker


def _handler(worker: Worker) -> Callable[[Any], None]:
    return worker.on_reading if isinstance(worker, ModelWorker) else worker.on_image


class InferenceComponent:
    """Models, their workers and subscriptions, and the health report.

    Args:
        publisher: where events and health go.
        subscribe: subscribes a handler to a local topic.
        rejection: returns the last refused configuration's reason (``LiveConfig.last_error``), for health.
        clock: wall time.
    """

    def __init__(
        self,
        publisher: Publisher,
        subscribe: Subscribe,
        *,
        rejection: Callable[[], str | None] = lambda: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publisher = publisher
        self._subscribe = subscribe
        self._rejection = rejection
        self._clock = clock
        self._seq = SequenceNumbers(clock)
        self._lock = threading.Lock()
        self.config: InferenceConfig | None = None
        self.workers: dict[str, Worker] = {}
        self._subscriptions: dict[str, Closeable] = {}
        self._stop = threading.Event()
        self._health = HealthLoop(
            "inference-health",
            self.publish_health,
            lambda: (
                self.config.health_interval_seconds if self.config is not None else DEFAULT_INTERVAL_SECONDS
            ),
            self._stop,
        )

    # -- configuration -----------------------------------------------------------------------------
    def _prepare(self, hosted: HostedModelConfig, config: InferenceConfig) -> LoadedModel:
        worker = self.workers.get(hosted.name)
        running = worker.model if worker is not None else None
        if running is not None and running.identity == model_identity(hosted, config.num_threads):
            output = running.card.card.output
            if running.is_image:
                check_image_topics(hosted, f"model {hosted.name!r}")
            card_threshold = output.threshold if isinstance(output, ScoreOutput) else 0.0
            return dataclasses.replace(
                running,
                config=hosted,
                version=hosted.version or running.hosted.version,
                threshold=hosted.threshold if hosted.threshold is not None else card_threshold,
            )
        loaded = load_model(hosted, config.num_threads, config.manifest_path)
        if worker is None:
            return loaded
        if loaded.is_image != worker.model.is_image:
            raise ModelSwapRejected(
                f"model {hosted.name!r}: an {'image' if loaded.is_image else 'sensor window'} model cannot "
                f"replace a running {'image' if worker.model.is_image else 'sensor window'} model; "
                "deploy it under a new name instead"
            )
        if isinstance(worker, ModelWorker) and loaded.window.length != worker.windows.size:
            raise ModelSwapRejected(
                f"model {hosted.name!r}: windows of {loaded.window.length} readings, "
                f"the running model uses {worker.windows.size}; deploy it under a new name instead"
            )
        return loaded

    def apply(self, config: InferenceConfig) -> None:
        """Validate every changed model, then switch to ``config``.

        Raises:
            ModelSwapRejected: a model failed validation; nothing was changed.
        """
        with self._lock:
            prepared = {hosted.name: self._prepare(hosted, config) for hosted in config.models}
            for name in [n for n in self.workers if n not in prepared]:
                self._remove(name)
            for name, model in prepared.items():
                worker = self.workers.get(name)
                if worker is None:
                    self._add(model, config)
                    continue
                old_topic = worker.model.config.input_topic
                worker.max_batch = config.max_batch
                if isinstance(worker, ModelWorker):
                    worker.queue.capacity = config.max_pending_windows
                else:
                    worker.capacity = config.max_pending_windows
                if model.runtime is not worker.model.runtime:
                    log.info(
                        kv(
                            event="model_swapped",
                            model=name,
                            version=model.version,
                            variant=model.config.variant,
                        )
                    )
                worker.swap(model)
                if model.config.input_topic != old_topic:
                    self._subscriptions.pop(name).close()
                    self._subscriptions[name] = self._subscribe(model.config.input_topic, _handler(worker))
            self.config = config

    def _add(self, model: LoadedModel, config: InferenceConfig) -> None:
        kind = ImageWorker if model.is_image else ModelWorker
        worker = kind(
            model,
            self._publisher,
            self._seq.next,
            max_batch=config.max_batch,
            max_pending=config.max_pending_windows,
            clock=self._clock,
        )
        worker.start()
        self.workers[model.config.name] = worker
        self._subscriptions[model.config.name] = self._subscribe(model.config.input_topic, _handler(worker))
        log.info(kv(event="model_started", model=model.config.name, version=model.version, path=model.path))

    def _remove(self, name: str) -> None:
        subscription = self._subscriptions.pop(name, None)
        if subscription is not None:
            subscription.close()
        self.workers.pop(name).stop()
        log.info(kv(event="model_stopped", model=name))

    # -- running -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start publishing health (workers start as models are applied)."""
        self._health.start()

    def stop(self) -> None:
        """Unsubscribe, score what is queued, stop the workers."""
        self._stop.set()
        with self._lock:
            for name in list(self.workers):
                self._remove(name)
        self._health.join(2.0)

    def health(self) -> dict[str, Any]:
        """The component's health metrics: per model, and the last refused configuration."""
        with self._lock:
            models = {name: worker.health() for name, worker in self.workers.items()}
        publisher = {
            key: getattr(self._publisher, key)
            for key in ("sent", "failed", "dropped")
            if hasattr(self._publisher, key)
        }
        return {"models": models, "publisher": publisher, "lastRejection": self._rejection()}

    def publish_health(self) -> None:
        """Publish one health message on ``topics.INFERENCE_STATUS``."""
        now = self._clock()
        seq = self._seq.next(COMPONENT_SOURCE, topics.INFERENCE_STATUS)
        self._publisher.publish(
            topics.INFERENCE_STATUS, health_message(COMPONENT_SOURCE, seq, now, self.health())
        )
