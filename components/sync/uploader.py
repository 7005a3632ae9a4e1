"""The upload loop: alerts to IoT Core at once, bulk batches to S3, then spooled images.

Order of work in each step: records past their TTL are dropped; IoT Core streams (alerts) are
published first, highest priority first, whatever the byte budget says; then, unless the link
is backing off or the day's budget is spent, one bulk batch: a batch planned before a crash is
re-sent first, unchanged, otherwise the highest-priority stream's oldest ready batch. One batch
per step keeps alerts from waiting behind a long drain. Records are purged only after the put or
publish returned successfully.
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

from components.common.logs import kv
from components.sync.batching import batch_key, image_key
from components.sync.budget import BandwidthLimiter, DailyBudget
from components.sync.config import BatchSettings, StreamPolicy
from components.sync.encoding import encode_batch
from components.sync.exceptions import SpoolError, UploadError
from components.sync.images import complete_entries, remove_entry
from components.sync.link import LinkMonitor
from components.sync.sinks import MessageSink, ObjectSink
from components.sync.store.base import OfflineStore, PlannedBatch, StoredRecord

log = logging.getLogger(__name__)

ALERTS_PER_STEP = 100


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
        self._clock = clock
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
        sent = self._send_iot(stop)
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
                records = self.store.next_records(stream, ALERTS_PER_STEP)
                if not records:
                    break
                for record in records:
                    if not self._publish(topic, record, stop):
                        return sent
                    sent = True
        return sent

    def _publish(self, topic: str, record: StoredRecord, stop: threading.Event) -> bool:
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
        self.store.delete_delivered([record])
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
            except (OSError, SpoolError) as err:
                log.warning(kv(event="spool_entry_unreadable", entry=entry.metadata_path.name, error=err))
                continue
            remove_entry(entry)
            sent = True
        return sent

    def _uploaded(self, size: int) -> None:
        self.budget.record(size)
        self.last_upload = self._clock()
        self.link.succeeded()
