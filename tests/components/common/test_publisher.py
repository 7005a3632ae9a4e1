"""The IPC publisher's bookkeeping (bounded in-flight, failures, flush)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Any

from components.common.publisher import IpcPublisher


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
    waiter = threading.Thread(target=lambda: (publisher.publish("t", {"n": 2}), done.set()))
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
