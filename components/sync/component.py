"""The sync component: ingest, upload and status threads around one store, reconfigurable live.

:class:`SyncComponent` is built by the entry point from the deployment's configuration, the opened
store and the clients (S3, IoT Core, IPC); the tests build it with in-memory sinks. Like the other
components it is started once its first configuration is applied (``LiveConfig`` calls
:meth:`SyncComponent.apply` with each validated configuration) and subscribes to its topics itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.ipc import Closeable
from components.common.logs import kv
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.config import BatchSettings, StreamPolicy, SyncConfig, effective_policies
from components.sync.gaps import GapTracker
from components.sync.ingest import Ingestor
from components.sync.link import LinkMonitor
from components.sync.policies import DiskGuard
from components.sync.sinks import MessageSink, ObjectSink
from components.sync.state import StatusPublisher, StatusReporter, status_document
from components.sync.store.base import MALFORMED, AddResult, OfflineStore
from components.sync.store.recovery import is_unusable
from components.sync.uploader import AlertRetention, Uploader, UploadTargets

log = logging.getLogger(__name__)

STORE_FILE = "sync.db"
# Keys that pick the store, the bucket or the region: used from start to stop, changed by a restart.
RESTART_KEYS = {
    "store_dir": "storeDir",
    "bucket": "bucket",
    "bucket_prefix": "bucketPrefix",
    "region": "region",
}


class TelemetrySource(Protocol):
    """Where the telemetry and the IoT Core connection status come from (the component's IPC)."""

    def subscribe_json(
        self,
        topic: str,
        handler: Callable[[Any], None],
        on_undecodable: Callable[[Exception], None] | None = None,
    ) -> Closeable:
        """Call ``handler`` with each JSON message on ``topic``."""
        ...

    def subscribe_iot_connection_status(self, handler: Callable[[bool], None]) -> Closeable:
        """Call ``handler`` with True or False as the core's IoT Core connection comes and goes."""
        ...


def store_path(config: SyncConfig) -> Path:
    """The database file of a configuration (``storeDir`` is relative to the work folder)."""
    return Path(config.store_dir) / STORE_FILE


def upload_targets(config: SyncConfig, thing: str) -> UploadTargets:
    """The key prefixes and the alerts topic of one device, from its configuration."""
    return UploadTargets(
        thing=thing,
        batch_key_prefix=config.batch_key_prefix,
        image_key_prefix=config.image_key_prefix,
        alerts_topic_template=config.alerts_topic,
    )


class SyncComponent:
    """Everything the component runs, wired together.

    Args:
        config: the deployment's validated configuration (its store, bucket and region stay).
        store: the opened store.
        objects: S3 (or a fake).
        messages: IoT Core (or a fake).
        thing: the device's thing name (in keys and topics).
        publisher: where status goes (None: no status reporting).
        telemetry: what :meth:`start` subscribes to (None: messages come through
            :meth:`message_handler` only, as in unit tests).
        store_incident: what was wrong with a database file that was moved aside at start, if anything.
        on_failure: called once when the store becomes unusable (the entry point then stops).
        replay_requests: ``publish(topic, message)`` for the replay requests of the gap tracker
            (``ComponentIpc.publish_json``; None: requests go nowhere, as in unit tests).
        clock: Unix time.
    """

    def __init__(
        self,
        config: SyncConfig,
        store: OfflineStore,
        objects: ObjectSink,
        messages: MessageSink,
        thing: str,
        publisher: StatusPublisher | None = None,
        telemetry: TelemetrySource | None = None,
        store_incident: str | None = None,
        on_failure: Callable[[], None] | None = None,
        replay_requests: Callable[[str, dict[str, Any]], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.thing = thing
        self._telemetry = telemetry
        self._subscriptions: list[Closeable] = []
        self._on_failure = on_failure
        self.store = store
        self.store_incident = store_incident
        self._clock = clock
        self._policies = effective_policies(config)
        self.link = LinkMonitor(config.backoff_initial_seconds, config.backoff_max_seconds)
        self.budget = DailyBudget(store, config.daily_byte_budget, clock)
        self.limiter = BandwidthLimiter(config.bandwidth_bytes_per_second)
        self.disk = DiskGuard(store_path(config).parent, config.free_disk_watermark_bytes)
        self.ingestor = Ingestor(
            store,
            lambda: self._policies,
            self.disk,
            commit_interval=config.commit_interval_ms / 1000.0,
            commit_max_records=config.commit_max_records,
            on_commit=self._committed,
            clock=clock,
        )
        self.uploader = Uploader(
            store, objects, messages, self.link, self.budget, self.limiter, upload_targets(config, thing),
            policies=lambda: self._policies, settings=self._upload_settings,
            retention=self._alert_retention, clock=clock,
        )  # fmt: skip
        # What Sync missed of a source (it was down, a message was lost) is asked for again.
        self.gaps = GapTracker(store, self.ingestor, replay_requests, clock)
        self.ingestor.on_seen = self.gaps.observe
        self.reporter = StatusReporter(publisher, self.status, clock) if publisher is not None else None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self.ingestor.on_failure = self._store_failed
        self.uploader.on_failure = self._store_failed
        self.failed = threading.Event()
        self.failure: BaseException | None = None

    def _store_failed(self, error: BaseException) -> None:
        """A damaged database file: stop using it; the entry point moves it aside and exits."""
        if not is_unusable(error) or self.failed.is_set():
            return
        self.failure = error
        self.ingestor.halted = True
        log.error(kv(event="store_unusable", error=repr(error)))
        self.failed.set()
        if self._on_failure is not None:
            self._on_failure()

    @property
    def policies(self) -> dict[str, StreamPolicy]:
        """The per-stream policies in effect."""
        return self._policies

    def _upload_settings(self) -> tuple[BatchSettings, str, Path | None]:
        config = self.config
        spool = Path(config.image_spool_dir) if config.image_spool_dir else None
        return config.batch, config.compression, spool

    def _alert_retention(self) -> AlertRetention:
        config = self.config
        return AlertRetention(config.alert_retention_seconds, config.alert_retention_max_records)

    def _committed(self, result: AddResult) -> None:
        if any(self._policies.get(s) and self._policies[s].destination == "iot" for s in result.counts):
            self.link.wake.set()

    # -- live configuration ---------------------------------------------------------------------------
    def apply(self, config: SyncConfig) -> None:
        """Apply a new configuration without a restart (LiveConfig's ``apply``).

        Raises:
            ConfigError: the change needs a restart (``storeDir``, ``bucket``, ``bucketPrefix``,
                ``region``).
        """
        for field, key in RESTART_KEYS.items():
            wanted, in_use = getattr(config, field), getattr(self.config, field)
            if wanted != in_use:
                raise ConfigError(
                    f"{key}: cannot change while running (got {wanted!r}, in use {in_use!r}); "
                    "deploy it with a restart"
                )
        policies = effective_policies(config)
        self.config = config
        self._policies = policies
        self.uploader.targets = upload_targets(config, self.thing)
        self.budget.limit_bytes = config.daily_byte_budget
        self.limiter.rate = config.bandwidth_bytes_per_second
        self.disk.watermark_bytes = config.free_disk_watermark_bytes
        self.ingestor.commit_interval = config.commit_interval_ms / 1000.0
        self.ingestor.commit_max_records = config.commit_max_records
        self.link.initial_backoff = config.backoff_initial_seconds
        self.link.max_backoff = config.backoff_max_seconds
        self.link.wake.set()
        log.info(kv(event="policies_applied", streams=",".join(sorted(policies))))

    # -- status ---------------------------------------------------------------------------------------
    def update_blocker(self) -> str | None:
        """Why a component update must wait: a batch accepted but not yet committed to the store.

        Asked on each PreComponentUpdateEvent (:mod:`components.common.deployment_participation`):
        the update is deferred, and asked again, until what was accepted is durable.
        """
        # wait_idle(0) checks once, without waiting: nothing queued and nothing being committed.
        return None if self.ingestor.wait_idle(0) else "accepted records not yet committed to the store"

    def status(self) -> dict[str, Any]:
        """The current status document (see :mod:`components.sync.state`), with the open gaps."""
        document = status_document(
            self.store,
            self.link,
            self.budget,
            self._policies,
            self.uploader.last_upload,
            self.uploader.budget_paused,
            self.store_incident,
            self._clock(),
        )
        document["gaps"] = {"open": len(self.store.gaps()), "requestsWaiting": self.gaps.pending()}
        return document

    def message_handler(self, stream: str) -> Callable[[Any], None]:
        """The subscription handler of ``stream``'s topic."""

        def handle(payload: Any) -> None:
            self.ingestor.offer(stream, payload)

        return handle

    def undecodable_handler(self, stream: str) -> Callable[[Exception], None]:
        """Counts a message on ``stream``'s topic that was not even JSON, like any malformed one."""

        def handle(_error: Exception) -> None:
            self.ingestor.count(stream, MALFORMED)

        return handle

    # -- threads and subscriptions --------------------------------------------------------------------
    def start(self) -> None:
        """Start the commit, upload, gap and status threads, then subscribe to the telemetry topics,
        the producers' replays and the IoT Core connection status."""
        self._stop.clear()
        self.gaps.start()  # before any message: it must know the store's highest numbers first
        for name, target in (
            ("sync-commit", lambda: self.ingestor.run(self._stop)),
            ("sync-upload", lambda: self.uploader.run(self._stop)),
            ("sync-status", self._status_loop),
        ):
            self._start_thread(name, target)
        if self._telemetry is not None:
            # The replays first: an answer to a request must never come before its subscription.
            for topic in sorted(set(topics.REPLAY_TOPICS.values())):
                self._subscriptions.append(self._telemetry.subscribe_json(topic, self.gaps.on_replay))
            for topic, stream in topics.TELEMETRY_TOPICS.items():
                self._subscriptions.append(
                    self._telemetry.subscribe_json(
                        topic, self.message_handler(stream), on_undecodable=self.undecodable_handler(stream)
                    )
                )
        # Requests only once their answers can be received.
        self._start_thread("sync-gaps", lambda: self.gaps.run(self._stop))
        if self._telemetry is None:
            return
        try:
            self._subscriptions.append(self._telemetry.subscribe_iot_connection_status(self.link.mqtt_status))
        except Exception as err:  # an older nucleus: upload failures alone then tell the link state
            log.warning(kv(event="connection_status_unavailable", error=repr(err)))
        log.info(kv(event="started", store=store_path(self.config), thing=self.thing))

    def _start_thread(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _status_loop(self) -> None:
        while self.reporter is not None and not self._stop.is_set():
            try:
                self.reporter.report()
            except Exception:
                log.exception(kv(event="status_failed"))
            self._stop.wait(self.config.status_interval_seconds)

    def stop(self, timeout: float = 10.0) -> None:
        """Unsubscribe and stop the threads; whatever is queued is committed first."""
        for subscription in self._subscriptions:
            try:
                subscription.close()
            except Exception as err:
                log.debug(kv(event="close_failed", error=repr(err)))
        self._subscriptions.clear()
        self._stop.set()
        self.link.wake.set()
        self.gaps.wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self.reporter is not None:
            try:
                self.reporter.report()
            except Exception as err:
                log.debug(kv(event="final_status_failed", error=repr(err)))
