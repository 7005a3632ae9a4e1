"""The inspection component: camera, trigger, pipeline, health, reconfigured live.

:meth:`InspectionComponent.apply` is ``LiveConfig``'s apply hook. It builds everything a new
configuration needs (model, preprocessor, actuator output, spool) *before* touching the running
ones; a failure raises a :class:`ConfigError` (:class:`ModelSwapRejected` for the model), which
``LiveConfig`` reports in the ``inspection-config`` shadow while the old model keeps serving.
A camera change is handed to the inspection thread, which swaps cameras between two frames.

Threads: the inspection loop (owns the camera, makes every decision), the health loop, and
the helpers' own (camera reader, actuator pulse, spool writer). Trigger messages arrive on the
IPC client's thread and are queued, bounded.
"""

from __future__ import annotations

import collections
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.health import DEFAULT_INTERVAL_SECONDS, HealthLoop
from components.common.image_preprocess import Preprocessor
from components.common.ipc import Closeable
from components.common.logs import kv
from components.common.messages import health_message
from components.common.model_errors import ModelError
from components.common.replay import ReplayResponder
from components.common.sequence_numbers import SequenceNumbers
from components.inspection.actuator import PulseActuator, RejectOutput, build_output
from components.inspection.cameras.factory import CameraFactory, build_camera
from components.inspection.cameras.supervisor import CameraSupervisor
from components.inspection.config import InspectionConfig
from components.inspection.decision import check_reject_classes
from components.inspection.exceptions import (
    ActuatorUnavailableError,
    FrameError,
    ModelSwapRejected,
    SpoolWriteError,
)
from components.inspection.frames import FramePublisher
from components.inspection.model import DefectModel, load_defect_model
from components.inspection.pipeline import COMPONENT_SOURCE, Inspector, Publisher, Serving
from components.inspection.spool import DiskUsage, ImageSpool, SpoolWriter

log = logging.getLogger(__name__)

#: Every local topic the component publishes on (its recipe grants exactly these).
PUBLISHED_TOPICS: tuple[str, ...] = (
    topics.INSPECTION_DECISIONS,
    topics.INSPECTION_HEALTH,
    topics.INSPECTION_REPLAY,
)
#: Topics whose messages stay recoverable in the replay window (components.common.replay).
REPLAYED_TOPICS: tuple[str, ...] = (topics.INSPECTION_DECISIONS,)
#: ``subscribe(topic, handler)``: ``ComponentIpc.subscribe_json`` in the component.
Subscribe = Callable[[str, Callable[[Any], None]], Closeable]
MAX_PART_ID = 128


def parse_trigger(payload: Any) -> str:
    """The part id of a trigger message ``{"partId": "A-1234", ...}``.

    Raises:
        ValueError: not an object, or ``partId`` missing, not a string or longer than 128.
    """
    if not isinstance(payload, dict):
        raise ValueError(f"trigger: expected a JSON object, got {type(payload).__name__}")
    part_id = payload.get("partId")
    if not isinstance(part_id, str) or not 1 <= len(part_id) <= MAX_PART_ID:
        raise ValueError(f"trigger: 'partId' must be a string of 1-{MAX_PART_ID} characters, got {part_id!r}")
    return part_id


class InspectionComponent:
    """Everything between the camera and the published decision.

    Args:
        publisher: where decisions and health go.
        subscribe: subscribes a handler to a local topic (the trigger).
        camera_factory: builds a camera from its configuration (tests inject fakes).
        output_factory: builds the reject output from the actuator configuration.
        rejection: the last refused configuration's reason (``LiveConfig.last_error``), for health.
        disk_usage: ``shutil.disk_usage`` for the spool's free-space floor.
        replay: answers Sync's replay requests for decisions from the window ``publisher``
            records in (None: no replay); configured with ``replay`` of each configuration.
        clock: wall time.
    """

    def __init__(
        self,
        publisher: Publisher,
        subscribe: Subscribe,
        *,
        camera_factory: CameraFactory = build_camera,
        output_factory: Callable[[Any], RejectOutput] = build_output,
        rejection: Callable[[], str | None] = lambda: None,
        disk_usage: DiskUsage = shutil.disk_usage,
        replay: ReplayResponder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._publisher = publisher
        self.replay = replay
        self._subscribe = subscribe
        self._camera_factory = camera_factory
        self._output_factory = output_factory
        self._rejection = rejection
        self._disk_usage = disk_usage
        self._clock = clock
        self._seq = SequenceNumbers(clock)
        self.inspector = Inspector(publisher, self._seq.next, clock)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.serving: Serving | None = None
        self._camera: CameraSupervisor | None = None
        self._camera_pending: CameraSupervisor | None = None
        self._trigger_subscription: Closeable | None = None
        self._triggers: collections.deque[str] = collections.deque()
        self._trigger_cond = threading.Condition()
        self.triggers_received = 0
        self.triggers_dropped = 0
        self.bad_triggers = 0
        self.bad_frames = 0
        self.last_frame_error: str | None = None
        self.frames = FramePublisher(publisher, self._seq.next)
        self._threads: list[threading.Thread] = []
        self._health = HealthLoop(
            "inspection-health",
            self.publish_health,
            lambda: (
                self.serving.config.health_interval_seconds
                if self.serving is not None
                else DEFAULT_INTERVAL_SECONDS
            ),
            self._stop,
        )
        self._started_perf = time.perf_counter()

    # -- configuration -----------------------------------------------------------------------------
    def _model_for(self, config: InspectionConfig) -> DefectModel:
        current = self.serving
        if (
            current is not None
            and current.config.model == config.model
            and current.config.manifest_path == config.manifest_path
        ):
            return current.model
        return load_defect_model(config.model, config.manifest_path)

    def _actuator_for(self, config: InspectionConfig) -> PulseActuator:
        current = self.serving
        if current is not None and current.config.actuator == config.actuator:
            return current.actuator
        if current is not None and current.config.actuator.pin == config.actuator.pin:
            # The same pin: release it before the new output claims it (restored on failure below).
            current.actuator.close()
        try:
            output = self._output_factory(config.actuator)
        except ActuatorUnavailableError as err:
            if current is not None and current.config.actuator.pin == config.actuator.pin:
                self._restore_actuator(current)
            raise ConfigError(f"actuator: {err}") from err
        return PulseActuator(output, config.actuator.pulse_ms)

    def _restore_actuator(self, current: Serving) -> None:
        try:
            restored = PulseActuator(
                self._output_factory(current.config.actuator), current.config.actuator.pulse_ms
            )
        except ActuatorUnavailableError as err:
            log.error(kv(event="actuator_restore_failed", error=err))
            return
        self.serving = Serving(current.config, current.model, current.preprocessor, restored, current.spool)

    def _spool_for(self, config: InspectionConfig) -> SpoolWriter:
        current = self.serving
        if current is not None and current.config.spool == config.spool:
            return current.spool
        try:
            spool = ImageSpool(
                Path(config.spool.dir),
                max_bytes=config.spool.max_bytes,
                max_entries=config.spool.max_entries,
                min_free_bytes=config.spool.min_free_bytes,
                disk_usage=self._disk_usage,
            )
        except (SpoolWriteError, OSError) as err:
            raise ConfigError(f"spool.dir: {err}") from err
        return SpoolWriter(spool, config.spool.max_queued)

    def apply(self, config: InspectionConfig) -> None:
        """Validate and build what changed, then switch to ``config``.

        Raises:
            ModelSwapRejected: the model failed validation; nothing was changed.
            ConfigError: the crop, actuator or spool cannot be used; nothing was changed.
        """
        with self._lock:
            current = self.serving
            model = self._model_for(config)
            try:
                preprocessor = Preprocessor(model.runtime.inputs[0], model.image_input, config.crop)
            except (ValueError, ModelError) as err:
                raise ModelSwapRejected(f"model {config.model.model}/{config.model.variant}: {err}") from err
            problem = check_reject_classes(model.card, config.decision.reject_classes)
            if problem is not None:
                raise ModelSwapRejected(f"model {model.name}: {problem}")
            spool = self._spool_for(config)
            try:
                actuator = self._actuator_for(config)
            except ConfigError:
                if current is None or spool is not current.spool:
                    spool.close(timeout=0.5)
                raise
            current = self.serving  # _actuator_for may have restored the actuator
            self.serving = Serving(config, model, preprocessor, actuator, spool)
            if self.replay is not None:
                self.replay.window.configure(config.replay)
            if current is not None:
                if current.actuator is not actuator:
                    current.actuator.close()
                if current.spool is not spool:
                    current.spool.close(timeout=2.0)
                if current.model is not model:
                    log.info(
                        kv(
                            event="model_swapped",
                            model=model.name,
                            variant=config.model.variant,
                            version=model.version,
                        )
                    )
            if current is None or (current.config.camera, current.config.camera_retry) != (
                config.camera,
                config.camera_retry,
            ):
                camera_config = config.camera
                self._camera_pending = CameraSupervisor(
                    lambda: self._camera_factory(camera_config), config.camera_retry
                )
            self._follow_trigger(config)
        with self._trigger_cond:
            self._trigger_cond.notify_all()  # a waiting loop re-reads the trigger mode

    def _follow_trigger(self, config: InspectionConfig) -> None:
        wanted = config.trigger.mode == "topic"
        if wanted and self._trigger_subscription is None:
            self._trigger_subscription = self._subscribe(topics.INSPECTION_TRIGGER, self.on_trigger)
        elif not wanted and self._trigger_subscription is not None:
            self._trigger_subscription.close()
            self._trigger_subscription = None

    # -- triggers ----------------------------------------------------------------------------------
    def on_trigger(self, payload: Any) -> None:
        """Queue one part for inspection (called on the IPC client's thread)."""
        try:
            part_id = parse_trigger(payload)
        except ValueError as err:
            self.bad_triggers += 1
            log.warning(kv(event="trigger_rejected", error=err))
            return
        serving = self.serving
        limit = serving.config.trigger.max_pending if serving is not None else 1
        with self._trigger_cond:
            self.triggers_received += 1
            if len(self._triggers) < limit:
                self._triggers.append(part_id)
                self._trigger_cond.notify_all()
                return
            self.triggers_dropped += 1
        if serving is not None:
            self.inspector.uninspectable(serving, part_id, "trigger backlog full")

    def _next_trigger(self, timeout: float) -> str | None:
        with self._trigger_cond:
            if not self._triggers:
                self._trigger_cond.wait(timeout)
            return self._triggers.popleft() if self._triggers else None

    # -- running -----------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the inspection and health threads (after the first :meth:`apply`) and the replay
        responder."""
        if self.replay is not None:
            self.replay.start()
        thread = threading.Thread(target=self._loop, name="inspection-loop", daemon=True)
        thread.start()
        self._threads.append(thread)
        self._health.start()

    def _take_pending_camera(self) -> CameraSupervisor | None:
        with self._lock:
            pending, self._camera_pending = self._camera_pending, None
        if pending is not None:
            if self._camera is not None:
                self._camera.close()
            self._camera = pending
        return self._camera

    def _loop(self) -> None:
        next_due = time.monotonic()
        while not self._stop.is_set():
            camera = self._take_pending_camera()
            serving = self.serving
            if camera is None or serving is None:
                self._stop.wait(0.1)
                continue
            trigger = serving.config.trigger
            part_id: str | None = None
            if trigger.mode == "topic":
                part_id = self._next_trigger(0.5)
                if part_id is None:
                    continue
            else:
                now = time.monotonic()
                if next_due > now:
                    self._stop.wait(next_due - now)
                    continue
                # Behind by more than a period (a slow camera): start counting again from now
                # rather than bursting to catch up.
                next_due = max(next_due + 1.0 / trigger.rate_hz, now)
            frame = camera.grab()
            if frame is None:
                if part_id is not None:
                    self.inspector.uninspectable(
                        serving, part_id, f"camera {camera.state}: {camera.last_error}"
                    )
                else:
                    self._stop.wait(camera.wait_time())
                continue
            self.frames.offer(serving.config.frames, frame, part_id)
            try:
                self.inspector.inspect(self.serving or serving, frame, part_id)
            except (FrameError, ModelError) as err:
                self.bad_frames += 1
                first = self.last_frame_error != str(err)
                self.last_frame_error = str(err)
                if first:
                    log.warning(kv(event="frame_rejected", error=err))
                if part_id is not None:
                    self.inspector.uninspectable(serving, part_id, f"frame rejected: {err}")
        if self._camera is not None:
            self._camera.close()

    def stop(self) -> None:
        """Stop the threads, unsubscribe, release camera, actuator and spool (queued images written)."""
        self._stop.set()
        if self.replay is not None:
            self.replay.stop()
        with self._trigger_cond:
            self._trigger_cond.notify_all()
        for thread in self._threads:
            thread.join(5.0)
        self._health.join(5.0)
        with self._lock:
            if self._trigger_subscription is not None:
                self._trigger_subscription.close()
                self._trigger_subscription = None
            serving = self.serving
        if serving is not None:
            serving.actuator.close()
            serving.spool.close(timeout=5.0)

    # -- health ------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """The component's health metrics."""
        serving = self.serving
        camera = self._camera
        with self._trigger_cond:
            triggers = {
                "received": self.triggers_received,
                "pending": len(self._triggers),
                "dropped": self.triggers_dropped,
                "invalid": self.bad_triggers,
            }
        metrics: dict[str, Any] = {
            **self.inspector.metrics(),
            "camera": camera.metrics() if camera is not None else None,
            "triggers": triggers,
            "badFrames": self.bad_frames,
            "frames": self.frames.metrics(),
            "lastFrameError": self.last_frame_error,
            "lastRejection": self._rejection(),
            "uptimeSeconds": round(time.perf_counter() - self._started_perf, 1),
        }
        if serving is not None:
            model = serving.model
            metrics["model"] = {
                "name": model.name,
                "variant": serving.config.model.variant,
                "version": model.version,
                "sha256": model.sha256,
                "runtime": model.runtime.runtime_name,
            }
            metrics["actuator"] = serving.actuator.metrics()
            metrics["spool"] = serving.spool.metrics()
        metrics["publisher"] = getattr(self._publisher, "metrics", lambda: None)()
        return metrics

    def publish_health(self) -> None:
        """Publish one health message on ``topics.INSPECTION_HEALTH``."""
        seq = self._seq.next(COMPONENT_SOURCE, topics.INSPECTION_HEALTH)
        self._publisher.publish(
            topics.INSPECTION_HEALTH, health_message(COMPONENT_SOURCE, seq, self._clock(), self.health())
        )
