"""The sync component's entry point against the real IPC server, with the real awsiotsdk client.

The component runs in-process (``build_and_run`` in a thread) with a real
``GreengrassCoreIPCClientV2`` connected to ``localcore``'s IPC server, the real shadow store, the
in-memory IoT Core recorder, and moto for S3/STS. The whole-core subprocess runs (``kill -9``)
are in ``test_core_integration.py``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from awsiot.greengrasscoreipc.model import BinaryMessage, JsonMessage, PublishMessage
from moto import mock_aws

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.messages import parse_message
from components.sync.__main__ import build_and_run
from components.sync.encoding import decode_batch
from localcore.ipc.testing import ipc_server

from .conftest import alert, reading

RECIPE = Path(__file__).resolve().parents[3] / "recipes" / "com.edgebundle.Sync.yaml"
BUCKET = "edge-bundle-data-123456789012-us-east-1"
THING = "dev-1"


class DictConfig:
    """A ConfigService holding each component's configuration in a dict (no change events needed here)."""

    def __init__(self, trees: dict[str, Any]) -> None:
        self.trees = trees

    def get(self, component: str, key_path: list[str]) -> Any:
        node = self.trees[component]
        for part in key_path:
            node = node[part]
        return node

    def update(self, component: str, key_path: list[str], value_to_merge: Any, timestamp: float) -> None:
        raise NotImplementedError("not used by the sync component")

    def subscribe(self, component: str, key_path: list[str], callback: Any) -> Callable[[], None]:
        return lambda: None


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        pause.wait(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def recipe_defaults() -> dict[str, Any]:
    recipe = yaml.safe_load(RECIPE.read_text())
    defaults: dict[str, Any] = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    # What the runner does: interpolate recipe variables in accessControl.
    return json.loads(json.dumps(defaults).replace("{iot:thingName}", THING))


@pytest.fixture
def cloud_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        yield s3


def s3_records(s3: Any) -> list[tuple[str, int]]:
    found = []
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        if obj["Key"].startswith("telemetry/"):
            body = s3.get_object(Bucket=BUCKET, Key=obj["Key"])["Body"].read()
            found += [(m["source"], m["seq"]) for m in decode_batch(body)]
    return found


def test_component_over_real_ipc_stores_uploads_reports_and_follows_the_link(
    tmp_path: Path, cloud_s3: Any
) -> None:
    defaults = recipe_defaults()
    config = {
        **defaults,
        "storeDir": str(tmp_path / "store"),
        "batch": {"maxRecords": 40, "maxBytes": 8388608, "maxAgeSeconds": 0},
        "statusIntervalSeconds": 0.2,
    }
    producer_acl = {
        "aws.greengrass.ipc.pubsub": {
            "p": {"operations": ["aws.greengrass#PublishToTopic"], "resources": ["edgebundle/*"]}
        }
    }
    watcher_acl = {
        "aws.greengrass.ipc.pubsub": {
            "w": {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": [topics.SYNC_STATUS]}
        }
    }
    components = {
        "com.edgebundle.Sync": defaults["accessControl"],
        "test.Producer": producer_acl,
        "test.Watcher": watcher_acl,
    }
    with ipc_server(
        tmp_path, components=components, config=DictConfig({"com.edgebundle.Sync": config})
    ) as core:
        ipc = ComponentIpc(core.client("com.edgebundle.Sync"), "com.edgebundle.Sync", THING)
        stop = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                build_and_run(ipc, stop)
            except BaseException as err:  # surfaced by the assertion below
                errors.append(err)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            producer = core.client("test.Producer")

            def publish(topic: str, message: Any) -> None:
                producer.publish_to_topic(
                    topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message=message))
                )

            statuses: list[Any] = []
            watcher = ComponentIpc(core.client("test.Watcher"), "test.Watcher", THING)
            watcher.subscribe_json(topics.SYNC_STATUS, statuses.append)
            wait_for(lambda: core.server.reported_state("com.edgebundle.Sync") == "RUNNING", what="RUNNING")
            # GIVEN readings, an alert, and two malformed messages on the topics
            for seq in range(100):
                publish(topics.READINGS, reading(seq))
            publish(topics.ALERTS, alert(1))
            publish(topics.READINGS, {"schema": "nope"})
            producer.publish_to_topic(
                topic=topics.HEALTH,
                publish_message=PublishMessage(binary_message=BinaryMessage(message=b"\xff not json")),
            )
            # THEN the readings land in S3 once each and the alert in IoT Core
            wait_for(lambda: len(s3_records(cloud_s3)) == 100, what="100 readings in S3")
            assert sorted(s3_records(cloud_s3)) == [("line1", s) for s in range(100)]
            [published] = core.cloud.wait_for_publishes(1)
            assert published.topic == f"edgebundle/{THING}/alerts" and published.qos == 1
            assert json.loads(published.payload)["alertId"] == "a1"

            # and the shadow reports backlog, counters, link and policies
            def reported() -> dict[str, Any]:
                document = json.loads(core.shadows.get(THING, topics.SHADOW_SYNC))
                return document["state"].get("reported", {})

            wait_for(
                lambda: (
                    reported().get("counters", {}).get("readings", {}).get("delivered") == 100
                    and reported().get("counters", {}).get("readings", {}).get("malformed") == 1
                    and reported().get("counters", {}).get("health", {}).get("malformed") == 1
                ),
                what="counters in the shadow",
            )
            state = reported()
            # the same status goes out on the status topic, as a health message of source "sync"
            status = wait_for(lambda: statuses and statuses[-1], what="a status message")
            assert parse_message(status).source == "sync" and "backlog" in status["metrics"]
            assert state["backlog"]["readings"]["records"] == 0
            assert state["policies"]["alerts"]["destination"] == "iot"
            assert state["lastUpload"] is not None and state["link"] in ("online", "unknown")

            # WHEN the operator sets a bad policy in the shadow's desired state: refused, named
            core.shadows.update(
                THING, topics.SHADOW_SYNC,
                json.dumps({"state": {"desired": {"config": {"streams": {"readings": {"priority": -4}}}}}}).encode(),
            )  # fmt: skip
            wait_for(lambda: reported().get("status") == "rejected", what="rejection")
            assert "streams.readings.priority" in reported()["error"]
            # and a good one (the bad override removed): applied and reported
            core.shadows.update(
                THING, topics.SHADOW_SYNC,
                json.dumps({"state": {"desired": {"config": {"streams": None, "dailyByteBudget": 12345}}}}).encode(),
            )  # fmt: skip
            wait_for(lambda: reported().get("dailyByteBudget") == 12345, what="applied budget")
            assert reported()["status"] == "applied"

            # WHEN IoT Core disconnects, an alert waits in the store; on reconnect it goes at once
            core.cloud.set_connected(False)
            wait_for(lambda: reported().get("link") == "offline", what="offline link")
            publish(topics.ALERTS, alert(2))
            wait_for(
                lambda: reported().get("backlog", {}).get("alerts", {}).get("records") == 1, what="held alert"
            )
            assert len(core.cloud.published) == 1
            core.cloud.set_connected(True)
            assert json.loads(core.cloud.wait_for_publishes(2)[1].payload)["alertId"] == "a2"
        finally:
            stop.set()
            worker.join(20)
        assert not worker.is_alive() and errors == []


def test_a_store_damaged_while_running_is_set_aside_and_the_component_exits_with_an_error(
    tmp_path: Path, cloud_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from components.sync.exceptions import StoreUnusableError
    from components.sync.store.sqlite import SqliteStore

    def damaged(self: SqliteStore, records: Any, limits: Any) -> Any:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(SqliteStore, "add", damaged)
    defaults = recipe_defaults()
    config = {**defaults, "storeDir": str(tmp_path / "store"), "commitIntervalMs": 10}
    producer_acl = {
        "aws.greengrass.ipc.pubsub": {
            "p": {"operations": ["aws.greengrass#PublishToTopic"], "resources": ["*"]}
        }
    }
    components = {"com.edgebundle.Sync": defaults["accessControl"], "test.Producer": producer_acl}
    with ipc_server(
        tmp_path, components=components, config=DictConfig({"com.edgebundle.Sync": config})
    ) as core:
        ipc = ComponentIpc(core.client("com.edgebundle.Sync"), "com.edgebundle.Sync", THING)
        stop = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                build_and_run(ipc, stop)
            except BaseException as err:
                errors.append(err)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        try:
            wait_for(lambda: core.server.reported_state("com.edgebundle.Sync") == "RUNNING", what="RUNNING")
            producer = core.client("test.Producer")
            producer.publish_to_topic(
                topic=topics.READINGS,
                publish_message=PublishMessage(json_message=JsonMessage(message=reading(1))),
            )
            worker.join(20)
        finally:
            stop.set()
            worker.join(10)
    # THEN the component ends with a clear error (the nucleus restarts it) and the file is set aside
    assert len(errors) == 1 and isinstance(errors[0], StoreUnusableError) and "malformed" in str(errors[0])
    names = [p.name for p in (tmp_path / "store").iterdir()]
    assert any(name.startswith("sync.db.unusable-") for name in names) and "sync.db" not in names
