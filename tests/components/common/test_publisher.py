"""The IPC publisher: bounded in-flight, failures, flush, and readings coalesced while the window is full."""

from __future__ import annotations

import itertools
import json
import threading
import time
from concurrent.futures import Future
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.messages import READING_BATCH_V1, READING_V1, iter_readings, reading_message
from components.common.publisher import Coalescing, IpcPublisher
from components.common.wire_limits import MAX_MESSAGE_BYTES


class PendingIpc:
    """Stands in for ComponentIpc.publish_json_async: hands out futures the test completes."""

    def __init__(self, fail_on_call: bool = False) -> None:
        self.futures: list[Future[Any]] = []
        self.fail_on_call = fail_on_call

    def publish_json_async(self, topic: str, message: dict[str, Any]) -> Future[Any]:
        if self.fail_on_call:
            raise ConnectionError("socket closed")
        future: Future[Any] = Future()
        self.futures.append(future)
        return future


def test_publishes_are_bounded_and_counted() -> None:
    ipc = PendingIpc()
    publisher = IpcPublisher(ipc, max_in_flight=2, wait_s=0.05)  # type: ignore[arg-type]
    publisher.publish("t", {"n": 1})
    publisher.publish("t", {"n": 2})
    publisher.publish("t", {"n": 3})  # no room: waits wait_s, then counts a drop
    assert len(ipc.futures) == 2 and publisher.dropped == 1
    assert not publisher.flush(timeout=0.05)
    ipc.futures[0].set_result(None)
    ipc.futures[1].set_exception(PermissionError("not authorized"))
    assert publisher.flush(timeout=1.0)
    assert publisher.metrics() == {
        "sent": 1,
        "failed": 1,
        "dropped": 1,
        "lastError": "PermissionError('not authorized')",
    }


def test_a_waiting_publish_goes_through_when_an_acknowledgement_frees_room() -> None:
    ipc = PendingIpc()
    publisher = IpcPublisher(ipc, max_in_flight=1, wait_s=5.0)  # type: ignore[arg-type]
    publisher.publish("t", {"n": 1})
    done = threading.Event()

    def publish_then_mark_done() -> None:
        publisher.publish("t", {"n": 2})
        done.set()

    waiter = threading.Thread(target=publish_then_mark_done)
    waiter.start()
    assert not done.wait(0.05)
    ipc.futures[0].set_result(None)
    assert done.wait(5.0)
    waiter.join()
    assert len(ipc.futures) == 2 and publisher.dropped == 0


def test_a_publish_that_cannot_be_sent_is_counted_and_frees_its_slot() -> None:
    publisher = IpcPublisher(PendingIpc(fail_on_call=True), max_in_flight=1)  # type: ignore[arg-type]
    publisher.publish("t", {})
    publisher.publish("t", {})
    assert publisher.failed == 2 and publisher.flush(timeout=0.1)


# -- coalesced readings ------------------------------------------------------------------------------
READINGS = "edgebundle/sensing/readings"
ALERTS = "edgebundle/sensing/alerts"


class WireIpc:
    """A fake publish_json_async that records every message in wire order; the test acks them."""

    def __init__(self) -> None:
        self.wire: list[tuple[str, dict[str, Any], Future[Any]]] = []
        self.sent_at: list[float] = []  # time.monotonic() of each message on the wire
        self.lock = threading.Condition()
        self.fail_next_call = 0
        self.payloads: list[bytes] = []  # reading messages as the wire carries them

    def publish_json_async(self, topic: str, message: dict[str, Any]) -> Future[Any]:
        with self.lock:
            if self.fail_next_call:
                self.fail_next_call -= 1
                raise ConnectionError("socket closed")
            future: Future[Any] = Future()
            self.wire.append((topic, message, future))
            self.sent_at.append(time.monotonic())
            self.lock.notify_all()
            return future

    def publish_encoded_async(self, topic: str, payload: bytes) -> Future[Any]:
        """The reading path: the publisher hands over the JSON it encoded for the wire."""
        self.payloads.append(payload)
        return self.publish_json_async(topic, json.loads(payload))

    def wait_wire(self, count: int, timeout: float = 5.0) -> list[str]:
        """The topics on the wire once ``count`` messages were sent (the sender thread is async)."""
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.wire) >= count, timeout), f"{len(self.wire)} sent"
            return [topic for topic, _, _ in self.wire]

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self.lock:
            return [message for t, message, _ in self.wire if t == topic]

    def pending(self) -> list[Future[Any]]:
        with self.lock:
            return [future for _, _, future in self.wire if not future.done()]

    def settle(self, publisher: IpcPublisher) -> None:
        """Acknowledge everything sent until the publisher has nothing queued or in flight."""
        result: list[bool] = []

        def flush() -> None:
            ok = publisher.flush(timeout=10.0)
            with self.lock:
                result.append(ok)
                self.lock.notify_all()

        flusher = threading.Thread(target=flush)
        flusher.start()
        while True:
            with self.lock:
                self.lock.wait_for(lambda: bool(self.pending()) or bool(result), 10.0)
                if result:
                    break
            self.ack_oldest()
        flusher.join()
        assert result == [True]

    def ack_oldest(self, error: BaseException | None = None, timeout: float = 5.0) -> None:
        """Complete the oldest unacknowledged message, waiting for one to be sent if need be."""
        with self.lock:
            assert self.lock.wait_for(lambda: bool(self.pending()), timeout), "nothing was sent"
        future = self.pending()[0]
        if error is None:
            future.set_result(None)  # runs the publisher's callback here, like the SDK's ack thread
        else:
            future.set_exception(error)


def reading(seq: int, source: str = "s1") -> dict[str, Any]:
    return reading_message(source, seq, 1764331200.0 + seq, "environment", {"t": 20.0}, {"t": "C"})


def coalescing(**overrides: Any) -> Coalescing:
    return Coalescing(**{"topic": READINGS, "source": "sensing", "window": 2, **overrides})


def delivered_seqs(ipc: WireIpc) -> list[int]:
    return [r.seq for message in ipc.on(READINGS) for r in iter_readings(message)]


def test_with_room_in_the_window_each_reading_goes_at_once_as_its_own_message() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=2))  # type: ignore[arg-type]
    for seq in range(5):
        publisher.publish(READINGS, reading(seq))
        assert ipc.on(READINGS)[-1] == reading(seq)  # sent before publish returned
        ipc.ack_oldest()
    assert all(m["schema"] == READING_V1 for m in ipc.on(READINGS))
    assert publisher.metrics()["batches"] == 0 and publisher.metrics()["readingsSent"] == 5


def test_a_full_window_queues_readings_and_a_freed_slot_sends_them_as_one_batch() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=2))  # type: ignore[arg-type]
    for seq in range(7):
        publisher.publish(READINGS, reading(seq))
    assert len(ipc.on(READINGS)) == 2 and publisher.metrics()["readingsQueued"] == 5
    ipc.ack_oldest()
    ipc.wait_wire(3)
    batch = ipc.on(READINGS)[-1]
    assert batch["schema"] == READING_BATCH_V1 and batch["source"] == "sensing"
    assert [r.seq for r in iter_readings(batch)] == [2, 3, 4, 5, 6]
    assert batch["readings"][0] == reading(2)  # the very reading message, not a copy
    ipc.settle(publisher)
    assert delivered_seqs(ipc) == list(range(7))
    assert publisher.metrics() | {"lastError": None} == {
        "sent": 3,
        "failed": 0,
        "dropped": 0,
        "lastError": None,
        "readingsSent": 7,
        "readingsFailed": 0,
        "readingsDropped": 0,
        "readingsQueued": 0,
        "batches": 1,
        "batchedReadings": 5,
        "largestBatch": 5,
    }
    # once the core keeps up again, readings go one by one
    publisher.publish(READINGS, reading(7))
    assert ipc.on(READINGS)[-1] == reading(7)


def test_batches_are_capped_by_count_and_by_bytes() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1, max_batch=4))  # type: ignore[arg-type]
    for seq in range(11):
        publisher.publish(READINGS, reading(seq))
    ipc.settle(publisher)
    assert [len(m.get("readings", [m])) for m in ipc.on(READINGS)] == [1, 4, 4, 2]
    one = len(json.dumps(reading(0), separators=(",", ":")))
    cap = 4 * one  # the batch envelope takes part of the fourth reading's room: 3 a batch
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1, max_batch_bytes=cap))  # type: ignore[arg-type]
    for seq in range(8):
        publisher.publish(READINGS, reading(seq))
    ipc.settle(publisher)
    batches = [m["readings"] for m in ipc.on(READINGS) if "readings" in m]
    assert [len(b) for b in batches] == [3, 3]  # 0 went alone, 7 alone after them
    assert all(len(payload) <= cap for payload in ipc.payloads)  # the whole message, exactly
    assert delivered_seqs(ipc) == list(range(8))


def test_a_batch_size_over_the_wire_limit_is_refused_naming_the_key() -> None:
    """nucleus lite closes the IPC connection of a message over its 10,000-byte buffer
    (``GGL_IPC_MAX_MSG_LEN``, ``modules/ggipcd/src/ipc_server.h``; ../shared/reference/nucleus-lite.md),
    so no configuration may let a batch grow past ``wire_limits.MAX_MESSAGE_BYTES``."""
    with pytest.raises(ValueError, match=r"Coalescing\.max_batch_bytes: 100000; expected at most 6500"):
        coalescing(max_batch_bytes=100_000)
    assert coalescing().max_batch_bytes == MAX_MESSAGE_BYTES


def test_batches_of_the_default_cap_stay_under_the_wire_limit_and_lose_nothing() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1))  # type: ignore[arg-type]
    for seq in range(400):
        publisher.publish(READINGS, reading(seq))
    ipc.settle(publisher)
    assert max(len(payload) for payload in ipc.payloads) <= MAX_MESSAGE_BYTES
    assert len(ipc.payloads) > 10  # 400 readings could not go in a few messages
    assert delivered_seqs(ipc) == list(range(400))


def test_a_reading_too_large_for_the_wire_is_refused_alone_and_the_others_go() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1))  # type: ignore[arg-type]
    publisher.publish(READINGS, reading(0))  # goes at once; the rest queue behind its ack
    huge = {**reading(1), "error": "x" * MAX_MESSAGE_BYTES}
    publisher.publish(READINGS, huge)
    for seq in range(2, 6):
        publisher.publish(READINGS, reading(seq))
    ipc.settle(publisher)
    assert delivered_seqs(ipc) == [0, 2, 3, 4, 5]
    assert publisher.metrics()["readingsFailed"] == 1
    assert "MessageTooLargeError" in str(publisher.metrics()["lastError"])


def test_overflow_drops_the_oldest_queued_readings_and_counts_them_without_blocking() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1, max_queued=3))  # type: ignore[arg-type]
    for seq in range(10):  # the core never acknowledges meanwhile: publish must not wait
        publisher.publish(READINGS, reading(seq))
    metrics = publisher.metrics()
    assert metrics["readingsDropped"] == 6 and metrics["dropped"] == 6 and metrics["readingsQueued"] == 3
    ipc.settle(publisher)
    assert delivered_seqs(ipc) == [0, 7, 8, 9]


def test_alerts_never_wait_behind_queued_readings() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, max_in_flight=4, coalescing=coalescing(window=1))  # type: ignore[arg-type]
    for seq in range(20):
        publisher.publish(READINGS, reading(seq))
    publisher.publish(ALERTS, {"schema": "edgebundle.alert.v1", "seq": 1})
    # sent at once, ahead of the 19 queued readings, and on its own
    assert [t for t, _, _ in ipc.wire] == [READINGS, ALERTS]
    ipc.ack_oldest()
    assert ipc.wait_wire(3) == [READINGS, ALERTS, READINGS]
    assert len(ipc.on(READINGS)[-1]["readings"]) == 19


def test_flush_sends_what_is_queued_and_waits_for_the_acknowledgements() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1))  # type: ignore[arg-type]
    for seq in range(20):
        publisher.publish(READINGS, reading(seq))
    assert not publisher.flush(timeout=0.05)  # the core does not answer: flush gives up

    def ack_two() -> None:
        for _ in range(2):
            ipc.ack_oldest()

    acker = threading.Thread(target=ack_two)
    result: list[bool] = []
    flusher = threading.Thread(target=lambda: result.append(publisher.flush(timeout=10.0)))
    flusher.start()
    acker.start()
    acker.join()
    flusher.join(10.0)
    assert result == [True] and delivered_seqs(ipc) == list(range(20))


def test_failed_reading_messages_are_counted_in_readings_and_the_queue_moves_on() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=1))  # type: ignore[arg-type]
    for seq in range(6):
        publisher.publish(READINGS, reading(seq))
    ipc.fail_next_call = 1  # the batch 1..5 cannot be sent at all
    ipc.ack_oldest(PermissionError("not authorized"))  # reading 0 was refused by the core
    assert publisher.flush(timeout=5.0)  # the failed batch is not retried: nothing is left
    assert publisher.metrics()["readingsFailed"] == 6 and publisher.metrics()["failed"] == 2
    publisher.publish(READINGS, reading(6))
    ipc.ack_oldest()
    assert publisher.metrics()["readingsSent"] == 1 and publisher.flush(timeout=1.0)


def test_readings_sooner_than_the_minimum_interval_wait_for_it_and_leave_as_one_batch() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=4, min_interval_s=0.2))  # type: ignore[arg-type]
    publisher.publish(READINGS, reading(0))
    assert ipc.on(READINGS) == [reading(0)]  # the first goes at once, alone
    for seq in range(1, 6):  # the window has room, but the interval has not passed
        publisher.publish(READINGS, reading(seq))
    assert len(ipc.on(READINGS)) == 1 and publisher.metrics()["readingsQueued"] == 5
    ipc.wait_wire(2)
    assert [r.seq for r in iter_readings(ipc.on(READINGS)[1])] == [1, 2, 3, 4, 5]
    assert ipc.sent_at[1] - ipc.sent_at[0] >= 0.2  # not one message sooner than the interval
    ipc.settle(publisher)
    assert delivered_seqs(ipc) == list(range(6))


def test_readings_spaced_wider_than_the_minimum_interval_each_go_at_once() -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(ipc, coalescing=coalescing(window=4, min_interval_s=0.01))  # type: ignore[arg-type]
    for seq in range(3):
        publisher.publish(READINGS, reading(seq))
        assert ipc.on(READINGS)[-1] == reading(seq)  # sent before publish returned
        time.sleep(0.02)
    assert publisher.metrics()["batches"] == 0


def test_coalescing_settings_are_checked() -> None:
    with pytest.raises(ValueError, match=r"Coalescing.window: 0; expected an integer >= 1"):
        Coalescing(READINGS, "sensing", window=0)
    with pytest.raises(ValueError, match=r"Coalescing.min_interval_s: 5; expected seconds from 0 to 1"):
        Coalescing(READINGS, "sensing", min_interval_s=5)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("read"), st.sampled_from(["s1", "s2"])),
            st.tuples(st.just("ack"), st.booleans()),
            st.tuples(st.just("alert"), st.just("")),
        ),
        max_size=120,
    ),
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 8),
)
def test_every_reading_is_delivered_once_in_order_unless_counted_dropped_or_failed(
    steps: list[tuple[str, Any]], window: int, max_batch: int, max_queued: int
) -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(
        ipc,  # type: ignore[arg-type]
        coalescing=coalescing(window=window, max_batch=max_batch, max_queued=max_queued),
    )
    published = {"s1": 0, "s2": 0}
    failed_messages: set[int] = set()
    for action, arg in steps:
        if action == "read":
            publisher.publish(READINGS, reading(published[arg], arg))
            published[arg] += 1
        elif action == "ack" and ipc.pending():
            future = ipc.pending()[0]
            if not arg:
                failed_messages.add(id(future))
            ipc.ack_oldest(None if arg else ConnectionError("lost"))
        elif action == "alert":
            publisher.publish(ALERTS, {"seq": 0})
    ipc.settle(publisher)  # the core catches up
    ok = [
        r
        for topic, message, future in ipc.wire
        if topic == READINGS and id(future) not in failed_messages
        for r in iter_readings(message)
    ]
    sent = [r for topic, message, _ in ipc.wire if topic == READINGS for r in iter_readings(message)]
    metrics = publisher.metrics()
    assert len(sent) + metrics["readingsDropped"] == sum(published.values())
    assert len(ok) == metrics["readingsSent"] and len(sent) - len(ok) == metrics["readingsFailed"]
    for source in published:
        seqs = [r.seq for r in sent if r.source == source]
        assert seqs == sorted(set(seqs))  # once each, in order
    for message in ipc.on(READINGS):
        assert len(message.get("readings", [message])) <= max_batch
    publisher.close()


@pytest.mark.parametrize("min_interval_s", [0.0, 0.002])
def test_concurrent_sensors_and_acknowledgements_deliver_every_reading_once_in_order(
    min_interval_s: float,
) -> None:
    ipc = WireIpc()
    publisher = IpcPublisher(
        ipc,  # type: ignore[arg-type]
        coalescing=coalescing(window=3, max_batch=50, min_interval_s=min_interval_s),
    )
    per_sensor = 3000
    done = threading.Event()
    arrived = threading.Condition()

    def sensor(source: str) -> None:
        for seq in range(per_sensor):
            publisher.publish(READINGS, reading(seq, source))
            if seq % 100 == 0:
                publisher.publish(ALERTS, {"seq": seq})

    def acker() -> None:
        while not done.is_set() or ipc.pending():
            pending = ipc.pending()
            if pending:
                pending[0].set_result(None)
            else:
                with arrived:
                    arrived.wait(0.001)

    sensors = [threading.Thread(target=sensor, args=(f"s{i}",)) for i in range(3)]
    ack_thread = threading.Thread(target=acker)
    ack_thread.start()
    for thread in sensors:
        thread.start()
    for thread in sensors:
        thread.join()
    assert publisher.flush(timeout=30.0)
    done.set()
    ack_thread.join(10.0)
    sent = [r for m in ipc.on(READINGS) for r in iter_readings(m)]
    assert publisher.metrics()["readingsDropped"] == 0
    for i in range(3):
        assert [r.seq for r in sent if r.source == f"s{i}"] == list(range(per_sensor))
    reading_times = [at for (topic, _, _), at in zip(ipc.wire, ipc.sent_at, strict=True) if topic == READINGS]
    gaps = [later - earlier for earlier, later in itertools.pairwise(reading_times)]
    assert min(gaps) >= min_interval_s  # however many threads publish, no message comes sooner
