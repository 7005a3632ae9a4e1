"""A component's subscription callbacks run one at a time, in the order the core sent the events.

``GreengrassCoreIPCClientV2`` hands every stream event to its executor; its default is a
``ThreadPoolExecutor`` with many workers, so a slower callback lets later messages overtake it
(the whole-system test once saw two alerts of a sensor reach sync in swapped order). Components
connect through :meth:`ComponentIpc.connect`, which gives the client a single-worker executor.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from components.common.ipc import ComponentIpc
from localcore.ipc.testing import ipc_server
from tests.components.rig import pubsub_acl, wait_until

TOPIC = "test/order"
COUNT = 300


def test_subscription_events_arrive_in_publish_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    components = {
        "test.Producer": pubsub_acl(publish=[TOPIC]),
        "test.Consumer": pubsub_acl(subscribe=[TOPIC]),
    }
    with ipc_server(tmp_path, components=components) as core:
        for key, value in core.env("test.Consumer").items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AWS_IOT_THING_NAME", "dev-1")
        consumer = ComponentIpc.connect("test.Consumer")
        seen: list[int] = []
        lock = threading.Lock()

        def handle(message: dict[str, Any]) -> None:
            if message["n"] % 3 == 0:
                time.sleep(0.002)  # a callback that sometimes takes longer, as a store write does
            with lock:
                seen.append(message["n"])

        try:
            consumer.subscribe_json(TOPIC, handle)
            producer = ComponentIpc(core.client("test.Producer"), "test.Producer", "dev-1")
            futures = [producer.publish_json_async(TOPIC, {"n": n}) for n in range(COUNT)]
            for future in futures:
                future.result(10)
            wait_until(lambda: len(seen) == COUNT, what=f"{COUNT} messages")
            assert seen == list(range(COUNT))
        finally:
            consumer.close()
