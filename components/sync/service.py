"""The running sync component: ingest, upload and status threads around one store.

Built from a validated :class:`SyncConfig` and the clients the entry point created; the tests
build it with in-memory sinks, the entry point with S3 and IPC.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.common.exceptions import ConfigError
from components.common.logs import kv
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.config import BatchSettings, StreamPolicy, SyncConfig, effective_policies
from components.sync.ingest import Ingestor
from components.sync.link import LinkMonitor
from components.sync.policies import DiskGuard
from components.sync.sinks import MessageSink, ObjectSink
from components.sync.state import StatusPublisher, StatusReporter, status_document
from components.sync.store.base import MALFORMED, AddResult, OfflineStore
from components.sync.store.sqlite import is_unusable
from components.sync.uploader import AlertRetention, Uploader, UploadTargets

log = logging.getLogger(__name__)

STORE_FILE = "sync.db"


def store_path(config: SyncConfig) -> Path:
    """The database file of a configuration (``storeDir`` is relative to the work folder)."""
    return Path(config.store_dir) / STORE_FILE


class SyncService:
    """Everything the component runs, wired together.

    Args:
        config: the validated configuration.
        store: the opened store.
        objects: S3 (or a fake).
        messages: IoT Core (or a fake).
        targets: key prefixes and topics for this device.
        publisher: where status goes (None: no status reporting).
        store_incident: what was wrong with a database file that was moved aside at start, if anything.
        clock: Unix time.
    """

    def __init__(
        self,
        config: SyncConfig,
        store: OfflineStore,
        objects: ObjectSink,
        messages: MessageSink,
        targets: UploadTargets,
        publisher: StatusPublisher | None = None,
        store_incident: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
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
            store, objects, messages, self.link, self.budget, self.limiter, targets,
            policies=lambda: self._policies, settings=self._upload_settings,
            retention=self._alert_retention, clock=clock,
        )  # fmt: skip
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
            ConfigError: the change needs a restart (``storeDir``).
        """
        if config.store_dir != self.config.store_dir:
            raise ConfigError(
                f"storeDir: cannot change while running (got {config.store_dir!r}, in use "
                f"{self.config.store_dir!r}); deploy it with a restart"
            )
        policies = effective_policies(config)
        self.config = config
        self._policies = policies
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
    def status(self) -> dict[str, Any]:
        """The current status document (see :mod:`components.sync.state`)."""
        return status_document(
            self.store,
            self.link,
            self.budget,
            self._policies,
            self.uploader.last_upload,
            self.uploader.budget_paused,
            self.store_incident,
            self._clock(),
        )

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

    # -- threads --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the commit, upload and status threads."""
        self._stop.clear()
        for name, target in (
            ("sync-commit", lambda: self.ingestor.run(self._stop)),
            ("sync-upload", lambda: self.uploader.run(self._stop)),
            ("sync-status", self._status_loop),
        ):
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
        """Stop the threads; whatever is queued is committed first."""
        self._stop.set()
        self.link.wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self.reporter is not None:
            try:
                self.reporter.report()
            except Exception as err:
                log.debug(kv(event="final_status_failed", error=repr(err)))
