"""The embedded cloud inside a real local core, exercised by test components that use the real
awsiotsdk GreengrassCoreIPCClientV2 and unmodified boto3 (tests/localcore/cloud/component)."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from localcore.cloud.service import CloudOptions, EmbeddedCloud, embedded_cloud_factory
from localcore.contracts import IotMessage
from localcore.testing import CoreHarness, running_core
from tests.localcore.cloud.description import ALERTS_TABLE, DESCRIPTION

THING = "dev-1"
PROBE = Path(__file__).resolve().parent / "component" / "cloud_probe.py"

ACCESS = {
    "probe.Alert": {
        "aws.greengrass.ipc.mqttproxy": {
            "probe.Alert:mqtt:1": {
                "operations": ["aws.greengrass#PublishToIoTCore"],
                "resources": [f"edgebundle/{THING}/alerts"],
            }
        }
    },
    "probe.Commands": {
        "aws.greengrass.ipc.mqttproxy": {
            "probe.Commands:mqtt:1": {
                "operations": ["aws.greengrass#SubscribeToIoTCore", "aws.greengrass#PublishToIoTCore"],
                "resources": [f"edgebundle/{THING}/commands", f"edgebundle/{THING}/status"],
            }
        }
    },
    "probe.Shadow": {
        "aws.greengrass.ShadowManager": {
            "probe.Shadow:shadow:1": {
                "operations": ["aws.greengrass#UpdateThingShadow"],
                "resources": [f"$aws/things/{THING}/shadow/name/cfg"],
            }
        },
        "aws.greengrass.ipc.pubsub": {
            "probe.Shadow:pubsub:1": {
                "operations": ["aws.greengrass#SubscribeToTopic"],
                "resources": [f"$aws/things/{THING}/shadow/name/cfg/update/delta", "test/shadow/report"],
            }
        },
    },
    "probe.Spool": {
        "aws.greengrass.ipc.pubsub": {
            "probe.Spool:pubsub:1": {
                "operations": ["aws.greengrass#SubscribeToTopic"],
                "resources": ["test/spool/go"],
            }
        },
        "aws.greengrass.ipc.mqttproxy": {
            "probe.Spool:mqtt:1": {
                "operations": ["aws.greengrass#PublishToIoTCore"],
                "resources": [f"edgebundle/{THING}/status"],
            }
        },
    },
    "probe.S3": {
        "aws.greengrass.ipc.pubsub": {
            "probe.S3:pubsub:1": {
                "operations": ["aws.greengrass#SubscribeToTopic"],
                "resources": ["test/s3/go"],
            }
        }
    },
}
ARGS = {
    "probe.Alert": "alert it-alert-1",
    "probe.Commands": "commands",
    "probe.Shadow": "shadow",
    "probe.Spool": "spool",
    "probe.S3": f"s3 {DESCRIPTION.buckets[0]}",
}


def _recipe(name: str) -> str:
    document: dict[str, Any] = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {"DefaultConfiguration": {"accessControl": ACCESS[name]}},
        "Manifests": [
            {
                "Platform": {"os": "linux"},
                "Lifecycle": {"Run": {"Script": f"exec {sys.executable} -u {PROBE} {ARGS[name]}"}},
            }
        ],
    }
    if name == "probe.S3":
        document["ComponentDependencies"] = {
            "aws.greengrass.TokenExchangeService": {"VersionRequirement": ">=2.0.0", "DependencyType": "HARD"}
        }
    return json.dumps(document)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Wait on a condition with a timeout (polling shared state, never sleeping as synchronisation)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Watched:
    """Cloud-side messages seen on the broker (what `localcore cloud watch` prints)."""

    def __init__(self, cloud: EmbeddedCloud, topic_filter: str) -> None:
        self.messages: list[IotMessage] = []
        self._lock = threading.Lock()
        cloud.broker.subscribe(topic_filter, self._add)

    def _add(self, message: IotMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def payloads(self) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoreHarness]:
    """GIVEN a local core with the embedded cloud, syncing shadow 'cfg', running every probe."""
    base = tmp_path_factory.mktemp("cloud-core")
    recipes = []
    for name in ACCESS:
        path = base / f"{name}.json"
        path.write_text(_recipe(name), encoding="utf-8")
        recipes.append(path)
    options = CloudOptions(
        shadow_sync={"synchronize": {"coreThing": {"classic": False, "namedShadows": ["cfg"]}}},
        shadow_poll_interval=0.2,
    )
    with running_core(
        base,
        recipes,
        thing_name=THING,
        cloud=embedded_cloud_factory(options=options, description=DESCRIPTION),
    ) as harness:
        for name in ACCESS:
            harness.wait_for_state(name, "RUNNING")
        harness.wait_for_log("probe.Alert", "event=published")
        for name in ("probe.Commands", "probe.Shadow", "probe.Spool", "probe.S3"):
            harness.wait_for_log(name, "event=subscribed")
        yield harness


def _cloud(core: CoreHarness) -> EmbeddedCloud:
    cloud = core.cloud
    assert isinstance(cloud, EmbeddedCloud)
    return cloud


def test_a_publish_lands_in_the_cloud_and_the_rule_writes_the_item(core: CoreHarness) -> None:
    cloud = _cloud(core)
    dynamodb = cloud.moto.client("dynamodb")
    key = {"thing": {"S": THING}, "alertKey": {"S": "it-alert-1"}}
    wait_for(lambda: "Item" in dynamodb.get_item(TableName=ALERTS_TABLE, Key=key), "the alert item")
    item = dynamodb.get_item(TableName=ALERTS_TABLE, Key=key)["Item"]
    assert item["severity"] == {"S": "critical"} and item["value"] == {"N": "42.5"}
    assert "receivedAt" in item


def test_a_cloud_command_reaches_the_subscribed_component(core: CoreHarness) -> None:
    cloud = _cloud(core)
    status = Watched(cloud, f"edgebundle/{THING}/status")
    assert cloud.publish_from_cloud(f"edgebundle/{THING}/commands", b'{"blink": 3}', qos=1) == 1
    wait_for(lambda: b'{"ack": {"blink": 3}}' in status.payloads(), "the component's ack")


def test_desired_in_the_cloud_arrives_as_a_delta_and_reported_goes_up(core: CoreHarness) -> None:
    cloud = _cloud(core)
    cloud.shadow_update(THING, "cfg", {"state": {"desired": {"rate": 9}}})
    wait_for(
        lambda: (cloud.shadow_get(THING, "cfg") or {}).get("state", {}).get("reported") == {"rate": 9},
        "reported state in the cloud",
    )
    core.wait_for_log("probe.Shadow", 'state={"rate":9}')
    assert "delta" not in (cloud.shadow_get(THING, "cfg") or {})["state"]


def test_both_sides_changed_while_offline_resolve_by_the_rules(core: CoreHarness) -> None:
    cloud = _cloud(core)
    sync = cloud.shadow_sync
    assert sync is not None
    cloud.shadow_update(THING, "cfg", {"state": {"desired": {"mode": "auto"}}})
    wait_for(
        lambda: core.shadows.document(THING, "cfg")["state"]["reported"].get("mode") == "auto", "first sync"
    )

    cloud.set_connectivity("offline")
    core.ipc.publish_local("test/shadow/report", b'{"mode": "device-mode", "fan": true}', "test")
    core.wait_for_log("probe.Shadow", '"mode":"device-mode"')
    cloud.shadow_update(
        THING, "cfg", {"state": {"desired": {"mode": "cloud-mode"}, "reported": {"mode": "stale"}}}
    )
    wait_for(lambda: (THING, "cfg") in sync.pending(), "the local change pending while offline")

    cloud.set_connectivity("online")

    def settled() -> bool:
        local = core.shadows.document(THING, "cfg")["state"]
        remote = (cloud.shadow_get(THING, "cfg") or {}).get("state", {})
        return (
            local.get("desired", {}).get("mode") == "cloud-mode"
            and remote.get("reported", {}).get("mode") in ("device-mode", "cloud-mode")
            and remote.get("reported", {}).get("fan") is True
            and not sync.pending()
        )

    wait_for(settled, "reconnect sync")
    # desired: the cloud won; reported: the device's value went up (the probe then reports the delta)
    assert (cloud.shadow_get(THING, "cfg") or {})["state"]["desired"]["mode"] == "cloud-mode"
    assert core.shadows.document(THING, "cfg")["state"]["reported"]["fan"] is True


def test_offline_spooling_keeps_qos1_and_drops_qos0(core: CoreHarness) -> None:
    cloud = _cloud(core)
    status = Watched(cloud, f"edgebundle/{THING}/status")
    cloud.set_connectivity("offline")
    core.wait_for_log("probe.Spool", "status=DISCONNECTED")
    core.ipc.publish_local("test/spool/go", b"go", "test")
    core.wait_for_log("probe.Spool", "event=done")
    assert status.payloads() == []

    cloud.set_connectivity("online")
    core.wait_for_log("probe.Spool", "status=CONNECTED")
    wait_for(lambda: len(status.payloads()) >= 3, "the spool to drain")
    assert status.payloads() == [b"q1-0", b"q1-1", b"q1-2"]
    assert cloud.adapter.stats.dropped_qos0 >= 3


def test_boto3_in_a_component_uploads_with_tes_credentials_and_fails_for_real_offline(
    core: CoreHarness,
) -> None:
    cloud = _cloud(core)
    s3 = cloud.moto.client("s3")
    core.ipc.publish_local("test/s3/go", b"tes/online-1.txt", "test")
    core.wait_for_log("probe.S3", "event=uploaded key=tes/online-1.txt")
    body = s3.get_object(Bucket=cloud.moto.bucket, Key="tes/online-1.txt")["Body"].read()
    assert body == b"from a component"
    assert cloud.tes is not None and cloud.tes.served >= 1

    cloud.set_connectivity("offline")
    try:
        core.ipc.publish_local("test/s3/go", b"tes/offline-1.txt", "test")
        line = core.wait_for_log("probe.S3", "key=tes/offline-1.txt")
        assert "event=upload_failed" in line
        assert "EndpointConnectionError" in line or "ConnectionClosedError" in line
    finally:
        cloud.set_connectivity("online")
    core.ipc.publish_local("test/s3/go", b"tes/online-2.txt", "test")
    core.wait_for_log("probe.S3", "event=uploaded key=tes/online-2.txt")
