"""Finding what Sync missed of a source and asking its producer for it again.

Local pub/sub keeps nothing for a subscriber that is not there, so readings, alerts and
inspection decisions published while Sync was down or restarting, or received but not yet
committed when it was killed, would never reach the store. Their producers keep a replay window
(:mod:`components.common.replay`); :class:`GapTracker` is Sync's half of the protocol:

* **On start** (after :data:`START_REQUEST_DELAY_S`, once the subscriptions are up), it asks each
  replayed topic's producer for everything after the highest number the store knows of each
  source, and for every source it does not know (``others``), except the sources it has already
  seen live since it started (for those, the gap rule below asks exactly).
* **On a gap**: a live message whose ``seq`` is more than one above the highest seen of its source
  opens a gap (committed to the store at once, so a crash does not forget it) and asks for it.
  While a gap is open, the source's records above it are held back in the store (no batch, no
  alert goes past it; see :class:`~components.sync.store.base.Gap`).
* Replayed messages go through the ingestor like live ones (validated, deduplicated by
  ``(source, stream, seq)``, stored). When the producer's last answer arrives the gap closes, but
  only after the commit that holds the replayed records (a crash in between re-asks).
* A request unanswered after :data:`GAP_MAX_ATTEMPTS` tries :data:`GAP_RETRY_S` apart gives up:
  the gap closes, counted ``gapsUnanswered`` (the producer was down too: its window died with it).

Counted per stream in the store (and reported in the status): ``gapsOpened``, ``replayed``
(messages received in answers), ``replayEvicted`` (asked for, but already out of the producer's
window: lost, by this cause), ``gapsNotHeld`` (numbers from before the producer's current run:
a restarted producer numbers higher, so such a gap is usually no loss at all; readings the old
run published while Sync was down are lost with its window) and ``gapsUnanswered``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from components.common import topics
from components.common.exceptions import MessageError
from components.common.logs import kv
from components.common.messages import Replay, parse_message, replay_request_message
from components.sync.store.base import Gap, OfflineStore

log = logging.getLogger(__name__)

#: The streams whose producers answer replay requests, and the topic of each.
REPLAYED_STREAMS: dict[str, str] = {
    stream: topic for topic, stream in topics.TELEMETRY_TOPICS.items() if topic in topics.REPLAY_TOPICS
}
#: The component's ``source`` in its requests.
REQUEST_SOURCE = "sync"
GAP_RETRY_S = 2.0
GAP_MAX_ATTEMPTS = 5
START_REQUEST_DELAY_S = 1.0
# Most ranges in one request (a store that knows many sources asks in several). 24 ranges and 24
# excluded sources of the longest ids (64 characters) and widest numbers keep a request within
# wire_limits.MAX_MESSAGE_BYTES (tests/components/common/test_message_limits.py); a gateway's
# sensing reads at most 12 sensors.
MAX_RANGES_PER_REQUEST = 24

GAPS_OPENED = "gapsOpened"
REPLAYED = "replayed"
REPLAY_EVICTED = "replayEvicted"
GAPS_NOT_HELD = "gapsNotHeld"
GAPS_UNANSWERED = "gapsUnanswered"


class Counting(Protocol):
    """What the tracker needs of the ingestor (:class:`~components.sync.ingest.Ingestor`)."""

    def offer(self, stream: str, raw: Any, *, replayed: bool = False) -> bool:
        """Take one message of ``stream``."""
        ...

    def count(self, stream: str, name: str, by: int = 1) -> None:
        """Count an event for ``stream``; persisted with the next commit."""
        ...

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` after the commit of everything offered so far."""
        ...


@dataclass
class _Request:
    """A request waiting for its final answer."""

    message: dict[str, Any]
    stream: str
    gaps: list[Gap] = field(default_factory=list)
    attempts: int = 0
    next_at: float = 0.0


class GapTracker:
    """Opens gaps from the sequence numbers Sync sees, asks for them, closes them.

    Args:
        store: the offline store (highest numbers, open gaps).
        ingestor: where replayed messages go, and the counters.
        publish: ``publish(topic, message)`` on the local pub/sub (None: requests are built and
            counted but go nowhere, as in unit tests without a core).
        clock: Unix time.
    """

    def __init__(
        self,
        store: OfflineStore,
        ingestor: Counting,
        publish: Callable[[str, dict[str, Any]], None] | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._ingestor = ingestor
        self._publish = publish
        self._clock = clock
        self._lock = threading.Lock()
        self._highest: dict[tuple[str, str], int] = {}
        self._seen_live: set[tuple[str, str]] = set()
        self._requests: dict[str, _Request] = {}
        self._ids = itertools.count(1)
        self._run_id = f"{int(clock() * 1000):x}"
        self._start_request_at: float | None = None
        self.wake = threading.Event()

    def start(self) -> None:
        """Load what the store knows, re-ask its open gaps, schedule the start request."""
        now = self._clock()
        with self._lock:
            self._highest = self._store.highest_seqs()
            for gap in self._store.gaps():
                if gap.stream in REPLAYED_STREAMS:
                    self._ask(gap.stream, [gap], now)
                else:  # a stream no longer replayed: never hold its records back
                    self._store.close_gaps([gap])
            self._start_request_at = now + START_REQUEST_DELAY_S

    # -- what the ingestor sees (IPC threads) ---------------------------------------------------------
    def observe(self, stream: str, source: str, seq: int, *, replayed: bool) -> None:
        """A valid message of ``source`` numbered ``seq`` arrived on ``stream``."""
        if stream not in REPLAYED_STREAMS:
            return
        key = (stream, source)
        gap: Gap | None = None
        with self._lock:
            previous = self._highest.get(key)
            if previous is None or seq > previous:
                self._highest[key] = seq
            if replayed:
                return
            self._seen_live.add(key)
            if previous is not None and seq > previous + 1:
                gap = Gap(stream, source, previous + 1, seq - 1)
                # Committed before the record that revealed it, so a crash cannot forget it. On a
                # full disk it is asked for all the same (only a crash meanwhile would forget it).
                try:
                    self._store.open_gaps([gap], self._clock())
                except Exception as err:
                    log.warning(kv(event="gap_not_persisted", stream=stream, source=source, error=repr(err)))
                self._ask(stream, [gap], self._clock())
        if gap is not None:
            self._ingestor.count(stream, GAPS_OPENED)
            log.info(kv(event="gap_opened", stream=stream, source=source, first=gap.first, last=gap.last))
            self.wake.set()

    def on_replay(self, raw: Any) -> None:
        """The subscription handler of the producers' replay topics."""
        try:
            reply = parse_message(raw)
            if not isinstance(reply, Replay):
                raise MessageError(f"schema {reply.schema_!r}; expected edgebundle.replay.v1")
        except MessageError as err:
            log.warning(kv(event="replay_malformed", error=err))
            return
        stream = topics.TELEMETRY_TOPICS.get(reply.topic)
        if stream is None or stream not in REPLAYED_STREAMS:
            log.warning(kv(event="replay_unexpected", topic=reply.topic))
            return
        received = 0
        for message in reply.messages:
            if self._ingestor.offer(stream, message, replayed=True):
                received += 1
        if received:
            self._ingestor.count(stream, REPLAYED, received)
        if not reply.final:
            return
        with self._lock:
            request = self._requests.pop(reply.request_id, None)
        if request is None:
            return  # answered before (a retried request), or not ours
        for missing in reply.missing:
            if missing.reason == "evicted" and missing.count:
                self._ingestor.count(stream, REPLAY_EVICTED, missing.count)
                log.warning(
                    kv(event="replay_evicted", stream=stream, source=missing.source, lost=missing.count)
                )
            elif missing.reason == "notHeld" and request.gaps:
                self._ingestor.count(stream, GAPS_NOT_HELD)
        if request.gaps:
            gaps = request.gaps
            # Closed only once the replayed records are committed: a crash before re-asks.
            self._ingestor.after_commit(lambda: self._store.close_gaps(gaps))

    # -- the tracker's thread -------------------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Send due requests until ``stop`` is set."""
        while not stop.is_set():
            try:
                self.tick()
            except Exception:
                log.exception(kv(event="gap_tick_failed"))
            self.wake.wait(0.25)
            self.wake.clear()

    def tick(self) -> None:
        """Send the start request once it is due, and every request due for a (re)send; give up
        the ones out of attempts."""
        now = self._clock()
        due: list[dict[str, Any]] = []
        given_up: list[_Request] = []
        with self._lock:
            if self._start_request_at is not None and now >= self._start_request_at:
                self._start_request_at = None
                self._ask_everything_after(now)
            for request_id, request in list(self._requests.items()):
                if request.next_at > now:
                    continue
                if request.attempts >= GAP_MAX_ATTEMPTS:
                    del self._requests[request_id]
                    given_up.append(request)
                    continue
                request.attempts += 1
                request.next_at = now + GAP_RETRY_S
                due.append(request.message)
        for request in given_up:
            if request.gaps:
                self._ingestor.after_commit(functools.partial(self._store.close_gaps, request.gaps))
                self._ingestor.count(request.stream, GAPS_UNANSWERED, len(request.gaps))
                log.warning(kv(event="gap_unanswered", stream=request.stream, gaps=len(request.gaps)))
        for message in due:
            if self._publish is None:
                continue
            try:
                self._publish(topics.REPLAY_REQUESTS, message)
            except Exception as err:  # the core is away: the next attempt tries again
                log.warning(kv(event="replay_request_failed", error=repr(err)))

    def pending(self) -> int:
        """Requests waiting for an answer."""
        with self._lock:
            return len(self._requests)

    # -- building requests (with the lock held) -------------------------------------------------------
    def _ask(self, stream: str, gaps: list[Gap], now: float) -> None:
        request_id = self._next_id()
        message = replay_request_message(
            REQUEST_SOURCE,
            self._next_seq(),
            now,
            request_id=request_id,
            topic=REPLAYED_STREAMS[stream],
            ranges=[(gap.source, gap.first, gap.last) for gap in gaps],
        )
        self._requests[request_id] = _Request(message, stream, gaps, next_at=now)

    def _ask_everything_after(self, now: float) -> None:
        for stream, topic in REPLAYED_STREAMS.items():
            known = sorted(
                (source, seq + 1)
                for (known_stream, source), seq in self._highest.items()
                if known_stream == stream and (stream, source) not in self._seen_live
            )
            seen = sorted(source for known_stream, source in self._seen_live if known_stream == stream)
            chunks = [
                known[i : i + MAX_RANGES_PER_REQUEST] for i in range(0, len(known), MAX_RANGES_PER_REQUEST)
            ]
            for index, chunk in enumerate(chunks or [[]]):
                request_id = self._next_id()
                message = replay_request_message(
                    REQUEST_SOURCE,
                    self._next_seq(),
                    now,
                    request_id=request_id,
                    topic=topic,
                    ranges=[(source, first, None) for source, first in chunk],
                    others=index == 0,
                    # Sources named in other chunks are not "others" either.
                    exclude=seen + [source for other in chunks if other is not chunk for source, _ in other],
                )
                self._requests[request_id] = _Request(message, stream, next_at=now)

    def _next_id(self) -> str:
        return f"sync-{self._run_id}-{next(self._ids)}"

    def _next_seq(self) -> int:
        # Requests are numbered from the run's start in microseconds, like every message.
        return int(self._run_id, 16) * 1000 + next(self._ids)
