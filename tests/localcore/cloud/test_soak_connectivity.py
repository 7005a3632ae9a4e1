"""Soak: a steady QoS 1 producer in a real core under a fast repeating connectivity schedule."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from localcore.cloud.service import EmbeddedCloud, embedded_cloud_factory
from localcore.contracts import CloudContext, IotMessage
from localcore.testing import running_core
from tests.localcore.cloud.description import DESCRIPTION

THING = "dev-1"
PROBE = Path(__file__).resolve().parent / "component" / "cloud_probe.py"
COUNT = 600


@pytest.mark.soak
def test_qos1_survives_a_repeating_outage_schedule_in_order(tmp_path: Path) -> None:
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": "probe.Stream",
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {
            "DefaultConfiguration": {
                "accessControl": {
                    "aws.greengrass.ipc.mqttproxy": {
                        "probe.Stream:mqtt:1": {
                            "operations": ["aws.greengrass#PublishToIoTCore"],
                            "resources": [f"edgebundle/{THING}/status"],
                        }
                    }
                }
            }
        },
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Run": {"Script": f"exec {sys.executable} -u {PROBE} stream {COUNT} 0.02"}},
            }
        ],
    }
    path = tmp_path / "stream.json"
    path.write_text(json.dumps(recipe), encoding="utf-8")
    received: list[bytes] = []
    states: list[str] = []
    arrived = threading.Condition()

    def on_message(message: IotMessage) -> None:
        with arrived:
            received.append(message.payload)
            arrived.notify_all()

    factory = embedded_cloud_factory("online:2,offline:1,flaky:2:0.5", description=DESCRIPTION)

    def cloud_factory(context: CloudContext) -> EmbeddedCloud:
        cloud = factory(context)
        cloud.broker.subscribe(f"edgebundle/{THING}/status", on_message)
        cloud.connectivity.add_listener(lambda state, _drop: states.append(state))
        return cloud

    with running_core(tmp_path, [path], thing_name=THING, cloud=cloud_factory) as core:
        core.wait_for_log("probe.Stream", "event=done", timeout=120)
        with arrived:  # at most one schedule period until the spool drains
            arrived.wait_for(lambda: len(received) >= COUNT, timeout=30)
    assert received == [f"seq-{i:05d}".encode() for i in range(COUNT)]
    assert {"offline", "flaky", "online"} <= set(states)
