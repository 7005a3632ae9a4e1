"""The upload loop: alerts to IoT Core at once, bulk batches to S3, then spooled images.

Order of work in each step: records past their TTL are dropped; IoT Core streams (alerts) are
published first, highest priority first, whatever the byte budget says; then, unless the link
is backing off or the day's budget is spent, one bulk batch: a batch planned before a crash is
re-sent first, unchanged, otherwise the highest-priority stream's oldest ready batch. One batch
per step keeps alerts from waiting behind a long drain. Records are purged only after the put or
publish returned successfully.

A publish to IoT Core returns once the nucleus accepted the message into its MQTT spooler, which
is in memory by default: a crash of the nucleus before it flushed loses the message. So a sent
alert is kept as *sent, unconfirmed* for ``alertRetentionSeconds`` and re-sent, ahead of anything
newer, after evidence that the spooler may have been lost: this process started (a nucleus crash
restarts its components), or the link was seen down (a publish or upload failed, or the nucleus
reported IoT Core disconnected); they go out again as soon as the link is back. Duplicates are
harmless downstream: each alert carries a stable ``alertKey``, the range key of the alerts table
(the topic rule's PutItem overwrites the same item). Sent alerts are forgotten once the retention
time passed since they were first sent (so a flapping link re-sends each a bounded number of
times), but only while the link is up (while it is down the spooler may still hold them) and
never while a re-send is due; beyond ``alertRetentionMaxRecords`` the oldest are forgotten.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.common.exceptions import SpoolEntryError
from components.common.image_spool import complete_entries, remove_uploaded_entry
from components.common.logs import kv
from components.sync.batching import batch_key, image_key
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.config import (
    DEFAULT_ALERT_RETENTION_MAX_RECORDS,
    DEFAULT_ALERT_RETENTION_SECONDS,
    BatchSettings,
    StreamPolicy,
)
from components.sync.encoding import encode_batch
from components.sync.exceptions import UploadError
from components.sync.link import LinkMonitor
from components.sync.sinks import MessageSink, ObjectSink
from components.sync.store.base import OfflineStore, PlannedBatch, StoredRecord

log = logging.getLogger(__name__)

ALERTS_PER_STEP = 100
# How often sent alerts past their retention time are looked for when nothing was sent (seconds).
PURGE_INTERVAL_SECONDS = 1.0


@dataclass(frozen=True)
class AlertRetention:
    """How long, and how many, sent alerts are kept for a re-send (``alertRetention*`` keys).

    ``seconds`` 0 forgets an alert as soon as the nucleus accepted it (no re-send).
    """

    seconds: float
    max_records: int


@dataclass(frozen=True)
class UploadTargets:
    """Where things go in the cloud, for one device."""

    thing: str
    batch_key_prefix: str
    image_key_prefix: str
    alerts_topic_template: str


def alert_key(message: dict[str, Any]) -> str:
    """The alert's DynamoDB range key: time-ordered and the same on every re-send of one record."""
    ts = float(message.get("ts") or 0.0)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1000):03d}Z"
    return f"{stamp}#{message.get('source')}#{message.get('seq')}"


class Uploader:
    """Drains the store to the cloud (see the module docstring).

    Args:
        store: the offline store.
        objects: where batches and images go (S3).
        messages: where IoT Core streams go (PublishToIoTCore).
        link: link state and back-off.
        budget: the daily byte budget.
        limiter: the bandwidth cap.
        targets: bucket key prefixes and topics for this device.
        policies: the policies in effect (read on every step, so live changes apply at once).
        settings: returns ``(batch settings, compression, image spool dir or None)`` in effect.
        retention: returns the :class:`AlertRetention` in effect (default: the configuration's).
        clock: Unix time.
    """

    def __init__(
        self,
        store: OfflineStore,
        objects: ObjectSink,
        messages: MessageSink,
        link: LinkMonitor,
        budget: DailyBudget,
        limiter: BandwidthLimiter,
        targets: UploadTargets,
        policies: Callable[[], dict[str, StreamPolicy]],
        settings: Callable[[], tuple[BatchSettings, str, Path | None]],
        retention: Callable[[], AlertRetention] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.objects = objects
        self.messages = messages
        self.link = link
        self.budget = budget
        self.limiter = limiter
        self.targets = targets
        self._policies = policies
        self._settings = settings
        self._retention = retention or (
            lambda: AlertRetention(DEFAULT_ALERT_RETENTION_SECONDS, DEFAULT_ALERT_RETENTION_MAX_RECORDS)
        )
        self._clock = clock
        # A new process: the nucleus may have restarted with us and lost what it spooled.
        self._requeue_reason: str | None = "started"
        self._link_was_down = False
        self._last_purge = float("-inf")
        self.last_upload: float | None = None
        self.budget_paused = False
        # Told of every failed step (the service decides whether the store is beyond use).
        self.on_failure: Callable[[Exception], None] | None = None

    # -- the loop ------------------------------------------------------------------------------------
    def run(self, stop: threading.Event, idle_wait: float = 1.0) -> None:
        """Step until ``stop`` is set; wait (interruptibly) when there is nothing to do."""
        while not stop.is_set():
            try:
                busy = self.step(stop)
            except Exception as err:
                # A bug or a store failure must not end uploading for good; the store keeps the data.
                log.exception(kv(event="upload_step_failed"))
                if self.on_failure is not None:
                    self.on_failure(err)
                busy = False
            if not busy:
                self.link.wake.wait(min(idle_wait, max(0.05, self.link.seconds_until_retry() or idle_wait)))
                self.link.wake.clear()

    def step(self, stop: threading.Event | None = None) -> bool:
        """Do one round of work; True if something was sent (so more may be ready)."""
        stop = stop or threading.Event()
        expired = self.store.expire(self._clock())
        if expired:
            log.info(kv(event="ttl_expired", **expired))
        self._watch_link()
        sent = self._send_iot(stop)
        self._forget_sent(force=sent)
        if stop.is_set() or not self.link.bulk_ready():
            return sent
        self.budget_paused = not self.budget.bulk_allowed()
        if self.budget_paused:
            return sent
        return self._send_one_batch(stop) or self._send_images(stop) or sent

    # -- IoT Core streams -------------------------------------------------------------------------------
    def _send_iot(self, stop: threading.Event) -> bool:
        policies = self._policies()
        streams = sorted(
            (s for s, p in policies.items() if p.destination == "iot"), key=lambda s: -policies[s].priority
        )
        sent = False
        for stream in streams:
            template = policies[stream].iot_topic or self.targets.alerts_topic_template
            topic = template.format(thing=self.targets.thing)
            while self.link.iot_ready() and not stop.is_set():
                # Re-sends first: they are older than anything waiting, and the cloud sees each
                # source's alerts in order.
                records = self.store.next_resends(stream, ALERTS_PER_STEP)
                resend = bool(records)
                if not resend:
                    records = self.store.next_records(stream, ALERTS_PER_STEP)
                if not records:
                    break
                for record in records:
                    if not self._publish(topic, record, stop, resend):
                        return sent
                    sent = True
        return sent

    def _watch_link(self) -> None:
        """Mark sent alerts due for a re-send on evidence the nucleus' spooler may be lost: our
        start, or the link seen going down. Marking at once (not when the link is back) puts them
        ahead of every alert sent after the outage, so the cloud still sees each source in order."""
        down = self.link.state() == "offline"
        if down and not self._link_was_down:
            self._requeue_reason = self._requeue_reason or "link_down"
        self._link_was_down = down
        if self._requeue_reason is not None:
            count = self.store.requeue_unconfirmed()
            if count:
                log.info(kv(event="alerts_requeued", reason=self._requeue_reason, records=count))
            self._requeue_reason = None

    def _forget_sent(self, force: bool) -> None:
        """Forget sent alerts past the retention time (only while the link is up) or over the cap."""
        now = self._clock()
        if not force and now - self._last_purge < PURGE_INTERVAL_SECONDS:
            return
        self._last_purge = now
        retention = self._retention()
        # While the link is down, the nucleus' spooler may still hold what we sent: keep it all.
        online = retention.seconds == 0 or self.link.state() == "online"
        purged = self.store.purge_unconfirmed(
            now - retention.seconds if online else None, retention.max_records
        )
        if purged:
            log.debug(kv(event="sent_alerts_forgotten", **purged))

    def _publish(self, topic: str, record: StoredRecord, stop: threading.Event, resend: bool) -> bool:
        message = json.loads(record.payload)
        if isinstance(message, dict):
            message.setdefault("alertKey", alert_key(message))
        payload = json.dumps(message, separators=(",", ":")).encode()
        if not self.limiter.acquire(len(payload), stop):
            return False
        try:
            self.messages.publish(topic, payload)
        except UploadError as err:
            delay = self.link.failed(str(err))
            log.warning(kv(event="publish_failed", topic=topic, error=err, retry_in=round(delay, 2)))
            return False
        if resend:
            self.store.mark_resent([record])
        elif self._retention().seconds == 0:
            self.store.delete_delivered([record])
        else:
            self.store.mark_sent([record], self._clock())
        self._uploaded(len(payload))
        return True

    # -- bulk ---------------------------------------------------------------------------------------------
    def _next_batch(self) -> PlannedBatch | None:
        planned = self.store.open_batches()
        if planned:
            return planned[0]
        batch, compression, _spool = self._settings()
        policies = self._policies()
        bulk = sorted((s for s, p in policies.items() if p.is_bulk), key=lambda s: -policies[s].priority)

        def key_for(stream: str, source: str, first: int, last: int, first_ts: float) -> str:
            return batch_key(
                self.targets.batch_key_prefix,
                self.targets.thing,
                stream,
                source,
                first,
                last,
                first_ts,
                compression,
            )

        for stream in bulk:
            planned_batch = self.store.plan_batch(
                stream,
                max_records=batch.max_records,
                max_bytes=batch.max_bytes,
                min_age_seconds=batch.max_age_seconds,
                now=self._clock(),
                key_for=key_for,
            )
            if planned_batch is not None:
                return planned_batch
        return None

    def _send_one_batch(self, stop: threading.Event) -> bool:
        batch = self._next_batch()
        if batch is None:
            return False
        payloads = self.store.batch_payloads(batch.id)
        if not payloads:
            self.store.complete_batch(batch.id)
            return True
        policy = self._policies().get(batch.stream)
        # The compression is fixed by the key chosen at planning time, so a re-send matches it.
        compression = "gzip" if batch.key.endswith(".gz") else "zstd"
        body = encode_batch(
            batch.stream,
            # One parse of a JSON array is ~3x faster than one parse per record on a long drain.
            json.loads(b"[" + b",".join(payloads) + b"]"),
            compression=compression,
            resolution=policy.resolution if policy else None,
        )
        if not self.limiter.acquire(len(body), stop):
            return False
        metadata = {
            "stream": batch.stream,
            "records": str(len(payloads)),
            "first-seq": str(batch.first_seq),
            "last-seq": str(batch.last_seq),
        }
        try:
            self.objects.put(batch.key, body, metadata)
        except UploadError as err:
            delay = self.link.failed(str(err))
            log.warning(kv(event="batch_upload_failed", key=batch.key, error=err, retry_in=round(delay, 2)))
            return False
        count = self.store.complete_batch(batch.id)
        self._uploaded(len(body))
        log.info(kv(event="batch_uploaded", key=batch.key, records=count, bytes=len(body)))
        return True

    def _send_images(self, stop: threading.Event) -> bool:
        _batch, _compression, spool = self._settings()
        if spool is None:
            return False
        sent = False
        for entry in complete_entries(spool, limit=10):
            if stop.is_set() or not self.budget.bulk_allowed():
                break
            try:
                parts = [(entry.image_path, entry.image_path.read_bytes())] if entry.image_path else []
                parts.append((entry.metadata_path, entry.metadata))
                for path, body in parts:
                    if not self.limiter.acquire(len(body), stop):
                        return sent
                    key = image_key(
                        self.targets.image_key_prefix, self.targets.thing, entry.captured_ts, path.name
                    )
                    self.objects.put(key, body, {"source": "inspection-spool"})
                    self._uploaded(len(body))
            except UploadError as err:
                delay = self.link.failed(str(err))
                log.warning(kv(event="image_upload_failed", entry=entry.metadata_path.name, error=err,
                               retry_in=round(delay, 2)))  # fmt: skip
                return sent
            except (OSError, SpoolEntryError) as err:
                log.warning(kv(event="spool_entry_unreadable", entry=entry.metadata_path.name, error=err))
                continue
            remove_uploaded_entry(entry)
            sent = True
        return sent

    def _uploaded(self, size: int) -> None:
        self.budget.record(size)
        self.last_upload = self._clock()
        self.link.succeeded()
