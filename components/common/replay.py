"""A producer's replay window: what it published stays recoverable until a consumer asks for it.

Greengrass local pub/sub keeps nothing for a subscriber that is not there (a Sync restart, a
message lost on its way through the core). A producer (sensing, inspection) therefore keeps the
last messages of each source on its replayed topics in a :class:`ReplayWindow`, bounded per
``(topic, source)`` by count (``maxMessages``) and age (``maxAgeSeconds``). A consumer that sees a
gap in a source's ``seq`` (or has just started) publishes an ``edgebundle.replay-request.v1`` on
``topics.REPLAY_REQUESTS``; the :class:`ReplayResponder` of the producer of that topic answers with
``edgebundle.replay.v1`` messages on its own replay topic: the messages it still holds, and, in the
last one, what it cannot give back and why (``evicted``: dropped from the window before anyone
asked, counted here as ``replayEvicted`` and by Sync; ``notHeld``: before this run's first number).

:class:`RecordingPublisher` puts the window in front of a component's publisher without the
component knowing: every message on a replayed topic is recorded, then handed on unchanged.
The window is in memory: a crash of the producer itself loses it (documented in
docs/delivery-guarantee.md).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from msgspec import Meta

from components.common import topics
from components.common.exceptions import MessageError
from components.common.logs import kv
from components.common.messages import ReplayRequest, parse_message, replay_message
from components.common.structs import ConfigStruct
from components.common.wire_limits import MAX_MESSAGE_BYTES, encode

log = logging.getLogger(__name__)

#: Most messages in one replay message; its bytes are held to ``wire_limits.MAX_MESSAGE_BYTES``
#: (nucleus lite closes the IPC connection of a larger one), envelope and ``missing`` included.
MAX_REPLAY_MESSAGES = 200
#: Requests waiting for the responder's thread before new ones are refused (and logged).
MAX_QUEUED_REQUESTS = 64


class ReplayConfig(ConfigStruct, frozen=True):
    """The replay window's bounds, per source and topic (the ``replay`` configuration key)."""

    max_messages: Annotated[int, Meta(ge=0, le=1_000_000)] = 5000
    max_age_seconds: Annotated[float, Meta(ge=0.0, le=86_400.0)] = 600.0


class Publisher(Protocol):
    """Where a component's messages go."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Send ``message`` on ``topic``."""


@dataclass
class _Held:
    """One source's messages on one topic, oldest first, and what this run numbered."""

    messages: deque[tuple[int, float, dict[str, Any]]]
    run_first: int  # the first seq published in this run: below it, nothing is known
    evicted_through: int = -1  # the highest seq dropped from the window so far


class ReplayWindow:
    """The last messages per ``(topic, source)``, bounded by count and age.

    Args:
        topics: the topics whose messages are kept.
        config: the bounds (see :meth:`configure` for live changes).
        clock: Unix time (ages count from when a message was recorded).
    """

    def __init__(
        self,
        topics: Iterable[str],
        config: ReplayConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.topics = frozenset(topics)
        self._config = config or ReplayConfig()
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[tuple[str, str], _Held] = {}
        self.recorded = 0
        self.dropped = 0  # left the window by count or age (normal; a loss only if asked for later)
        self.requests = 0
        self.replayed = 0
        self.evicted_asked = 0  # asked for after they had left the window: lost

    def configure(self, config: ReplayConfig) -> None:
        """Use new bounds from now on (messages over them leave at the next record or lookup)."""
        with self._lock:
            self._config = config
            now = self._clock()
            for held in self._held.values():
                self._trim(held, now)

    def record(self, topic: str, message: dict[str, Any]) -> None:
        """Keep ``message`` if ``topic`` is replayed and it carries a ``source`` and ``seq``."""
        if topic not in self.topics:
            return
        source, seq = message.get("source"), message.get("seq")
        if not isinstance(source, str) or not isinstance(seq, int):
            return
        now = self._clock()
        with self._lock:
            held = self._held.get((topic, source))
            if held is None:
                held = self._held[(topic, source)] = _Held(deque(), run_first=seq)
            held.messages.append((seq, now, message))
            self.recorded += 1
            self._trim(held, now)

    def _trim(self, held: _Held, now: float) -> None:
        """Drop what is over the bounds; called with the lock held."""
        config = self._config
        messages = held.messages
        oldest_kept = now - config.max_age_seconds
        while messages and (len(messages) > config.max_messages or messages[0][1] < oldest_kept):
            seq, _, _ = messages.popleft()
            held.evicted_through = max(held.evicted_through, seq)
            self.dropped += 1

    def lookup(self, request: ReplayRequest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The held messages ``request`` asks for (oldest first per source) and what is missing.

        Returns:
            ``(messages, missing)``; ``missing`` entries are ``edgebundle.replay.v1`` ``missing``
            items: ``evicted`` ranges (with their count) and ``notHeld`` ranges.
        """
        found: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        named = {r.source for r in request.ranges}
        with self._lock:
            self.requests += 1
            self._trim_all()
            for wanted in request.ranges:
                held = self._held.get((request.topic, wanted.source))
                last = wanted.last
                if held is None:
                    if last is not None:
                        missing.append(_missing(wanted.source, wanted.first, last, "notHeld"))
                    continue
                if wanted.first < held.run_first:
                    upto = held.run_first - 1 if last is None else min(last, held.run_first - 1)
                    missing.append(_missing(wanted.source, wanted.first, upto, "notHeld"))
                evicted_first = max(wanted.first, held.run_first)
                evicted_last = held.evicted_through if last is None else min(last, held.evicted_through)
                if evicted_last >= evicted_first:
                    # Within one run a source's numbers are consecutive: the range is the count.
                    count = evicted_last - evicted_first + 1
                    self.evicted_asked += count
                    missing.append(_missing(wanted.source, evicted_first, evicted_last, "evicted", count))
                found.extend(
                    message
                    for seq, _, message in held.messages
                    if seq >= wanted.first and (last is None or seq <= last)
                )
            if request.others:
                skip = named | set(request.exclude)
                for (topic, source), held in self._held.items():
                    if topic == request.topic and source not in skip:
                        found.extend(message for _, _, message in held.messages)
            self.replayed += len(found)
        return found, missing

    def _trim_all(self) -> None:
        now = self._clock()
        for held in self._held.values():
            self._trim(held, now)

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message (``replay`` key)."""
        with self._lock:
            return {
                "held": sum(len(held.messages) for held in self._held.values()),
                "recorded": self.recorded,
                "droppedFromWindow": self.dropped,
                "requests": self.requests,
                "replayed": self.replayed,
                "replayEvicted": self.evicted_asked,
                "maxMessages": self._config.max_messages,
                "maxAgeSeconds": self._config.max_age_seconds,
            }


def _missing(source: str, first: int, last: int, reason: str, count: int | None = None) -> dict[str, Any]:
    return {"source": source, "first": first, "last": last, "reason": reason, "count": count}


class RecordingPublisher:
    """A publisher that records every message on a replayed topic in ``window``, then hands it on.

    Everything else of ``inner`` (``flush``, ``metrics``, ``close``) is reached through this one;
    ``metrics()`` adds the window's under ``replay``.
    """

    def __init__(self, inner: Any, window: ReplayWindow) -> None:
        self.inner = inner
        self.window = window

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Record (if replayed), then publish through the inner publisher."""
        self.window.record(topic, message)
        self.inner.publish(topic, message)

    def flush(self, timeout: float = 5.0) -> bool:
        """The inner publisher's flush."""
        return bool(self.inner.flush(timeout))

    def metrics(self) -> dict[str, Any]:
        """The inner publisher's metrics plus the window's under ``replay``."""
        inner = getattr(self.inner, "metrics", None)
        metrics: dict[str, Any] = dict(inner()) if callable(inner) else {}
        metrics["replay"] = self.window.metrics()
        return metrics


class ReplayResponder:
    """Answers replay requests for the window's topics on ``replay_topic``, on its own thread.

    Requests arrive on the IPC client's event thread; looking up and publishing (which may wait
    for the core) happens on the responder's thread so no other subscription waits behind it.

    Args:
        window: what can be replayed.
        publisher: where the answers go (the component's publisher, not the recording one).
        source: the component, the ``source`` of its replay messages.
        replay_topic: where this producer answers.
        next_seq: the component's sequence numbers, ``next_seq(source, topic)``.
        subscribe: ``subscribe(topic, handler)`` (``ComponentIpc.subscribe_json``); :meth:`start`
            subscribes to ``topics.REPLAY_REQUESTS`` with it (None: requests come through
            :meth:`on_request` only, as in unit tests).
        clock: Unix time.
    """

    def __init__(
        self,
        window: ReplayWindow,
        publisher: Publisher,
        source: str,
        replay_topic: str,
        next_seq: Callable[[str, str], int],
        subscribe: Callable[[str, Callable[[Any], None]], Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.window = window
        self._subscribe = subscribe
        self._subscription: Any = None
        self._publisher = publisher
        self._source = source
        self._replay_topic = replay_topic
        self._next_seq = next_seq
        self._clock = clock
        self._queue: queue.Queue[ReplayRequest | None] = queue.Queue(MAX_QUEUED_REQUESTS)
        self._thread: threading.Thread | None = None
        self.refused = 0

    def on_request(self, raw: Any) -> None:
        """The subscription handler of ``topics.REPLAY_REQUESTS``: a malformed request is logged."""
        try:
            request = parse_message(raw)
            if not isinstance(request, ReplayRequest):
                raise MessageError(f"schema {request.schema_!r}; expected edgebundle.replay-request.v1")
        except MessageError as err:
            log.warning(kv(event="replay_request_malformed", error=err))
            return
        if request.topic not in self.window.topics:
            return  # another producer's topic
        try:
            self._queue.put_nowait(request)
        except queue.Full:
            self.refused += 1
            log.warning(kv(event="replay_request_refused", request=request.request_id, reason="queue full"))

    def start(self) -> None:
        """Start answering (and subscribe to the requests)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=f"{self._source}-replay", daemon=True)
            self._thread.start()
        if self._subscribe is not None and self._subscription is None:
            self._subscription = self._subscribe(topics.REPLAY_REQUESTS, self.on_request)

    def stop(self) -> None:
        """Unsubscribe, and stop after the request being answered."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                subscription.close()
            except Exception as err:
                log.debug(kv(event="close_failed", error=repr(err)))
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(5.0)

    def _serve(self) -> None:
        while True:
            request = self._queue.get()
            if request is None:
                return
            try:
                self.answer(request)
            except Exception:
                log.exception(kv(event="replay_failed", request=request.request_id))

    def answer(self, request: ReplayRequest) -> int:
        """Publish the answer to ``request``; returns how many messages were replayed."""
        messages, missing = self.window.lookup(request)

        def build(chunk: list[dict[str, Any]], final: bool, seq: int = 0) -> dict[str, Any]:
            return replay_message(
                self._source,
                seq,
                self._clock(),
                request_id=request.request_id,
                topic=request.topic,
                messages=chunk,
                missing=missing if final else [],
                final=final,
            )

        # Room for the messages: the limit less the largest envelope (the final one, with
        # `missing`, and the widest seq a message can carry).
        envelope = len(encode(build([], True, seq=2**63)))
        chunks = _chunks(messages, MAX_MESSAGE_BYTES - envelope)
        for index, chunk in enumerate(chunks):
            final = index == len(chunks) - 1
            self._publisher.publish(
                self._replay_topic, build(chunk, final, self._next_seq(self._source, self._replay_topic))
            )
        log.info(
            kv(
                event="replayed",
                request=request.request_id,
                topic=request.topic,
                messages=len(messages),
                missing=len(missing),
            )
        )
        return len(messages)


def _chunks(messages: list[dict[str, Any]], room: int) -> list[list[dict[str, Any]]]:
    """``messages`` cut into replay messages of at most ``MAX_REPLAY_MESSAGES`` whose encoded
    messages (with their separating commas) take at most ``room`` bytes; always at least one
    (possibly empty) chunk, which carries ``final``. Each message already passed the wire limit
    when it was first published, and ``room`` leaves it that much less the envelope."""
    chunks: list[list[dict[str, Any]]] = [[]]
    size = 0
    for message in messages:
        length = len(encode(message)) + 1
        current = chunks[-1]
        if current and (len(current) >= MAX_REPLAY_MESSAGES or size + length > room):
            chunks.append([])
            size = 0
        chunks[-1].append(message)
        size += length
    return chunks
