"""The sync component's entry point against the real IPC server, with the real awsiotsdk client.

The component runs in-process (``build_and_run`` in a thread) with a real
``GreengrassCoreIPCClientV2`` connected to ``localcore``'s IPC server, the real shadow store, the
in-memory IoT Core recorder, and moto's server for S3/STS. The whole-core subprocess runs (``kill -9``)
are in ``test_core_integration.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from awsiot.greengrasscoreipc.model import BinaryMessage, JsonMessage, PublishMessage

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.messages import parse_message
from components.sync.__main__ import build_and_run
from components.sync.encoding import decode_batch
from localcore.cloud.moto_server import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, MotoCloud
from localcore.ipc.recording_cloud import RecordingCloudAdapter
from localcore.ipc.testing import ipc_server
from tests.components.rig import ConfigShadow, component_thread, pubsub_acl, recipe_defaults, wait_until

from .conftest import alert, reading

SYNC = "com.edgebundle.Sync"
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


@pytest.fixture
def cloud_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto's server (the component talks HTTP to it through awscrt, not through botocore)."""
    cloud = MotoCloud(describe_bundle(load_spec()))
    cloud.start()
    for name, value in {
        "AWS_REGION": cloud.region,
        "AWS_ENDPOINT_URL": cloud.url,
        "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_STS"):
        monkeypatch.delenv(name, raising=False)
    assert cloud.bucket == BUCKET
    try:
        yield cloud.client("s3")
    finally:
        cloud.stop()


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
    defaults = recipe_defaults(SYNC, THING)
    config = {
        **defaults,
        "storeDir": str(tmp_path / "store"),
        "batch": {"maxRecords": 40, "maxBytes": 8388608, "maxAgeSeconds": 0},
        "statusIntervalSeconds": 0.2,
    }
    producer_acl = pubsub_acl("p", publish=["edgebundle/*"])
    watcher_acl = pubsub_acl("w", subscribe=[topics.SYNC_STATUS])
    components = {
        SYNC: defaults["accessControl"],
        "test.Producer": producer_acl,
        "test.Watcher": watcher_acl,
    }
    with ipc_server(tmp_path, components=components, config=DictConfig({SYNC: config})) as core:
        # ipc_server's defaults: the in-memory IoT Core recorder and the real shadow store
        assert isinstance(core.cloud, RecordingCloudAdapter) and core.shadows is not None
        ipc = ComponentIpc(core.client(SYNC), SYNC, THING)
        with component_thread(build_and_run, ipc, join_timeout=20) as component:
            producer = core.client("test.Producer")

            sent = [0]

            def publish(topic: str, message: Any) -> None:
                # alternately another producer's jsonMessage and the bundle's binary JSON: sync reads both
                sent[0] += 1
                if sent[0] % 2:
                    producer.publish_to_topic(
                        topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message=message))
                    )
                else:
                    ComponentIpc(producer, "test.Producer", THING).publish_json(topic, message)

            statuses: list[Any] = []
            watcher = ComponentIpc(core.client("test.Watcher"), "test.Watcher", THING)
            watcher.subscribe_json(topics.SYNC_STATUS, statuses.append)
            wait_until(lambda: core.server.reported_state(SYNC) == "RUNNING", what="RUNNING")
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
            wait_until(lambda: len(s3_records(cloud_s3)) == 100, what="100 readings in S3")
            assert sorted(s3_records(cloud_s3)) == [("line1", s) for s in range(100)]
            [published] = core.cloud.wait_for_publishes(1)
            assert published.topic == f"edgebundle/{THING}/alerts" and published.qos == 1
            assert json.loads(published.payload)["alertId"] == "a1"

            # and the shadow reports backlog, counters, link and policies
            reported = ConfigShadow(core, THING, topics.SHADOW_SYNC).reported

            wait_until(
                lambda: (
                    reported().get("counters", {}).get("readings", {}).get("delivered") == 100
                    and reported().get("counters", {}).get("readings", {}).get("malformed") == 1
                    and reported().get("counters", {}).get("health", {}).get("malformed") == 1
                ),
                what="counters in the shadow",
            )
            state = reported()
            # the same status goes out on the status topic, as a health message of source "sync"
            status = wait_until(lambda: statuses and statuses[-1], what="a status message")
            assert parse_message(status).source == "sync" and "backlog" in status["metrics"]
            assert state["backlog"]["readings"]["records"] == 0
            assert state["policies"]["alerts"]["destination"] == "iot"
            assert state["lastUpload"] is not None and state["link"] in ("online", "unknown")

            # WHEN the operator sets a bad policy in the shadow's desired state: refused, named
            core.shadows.update(
                THING, topics.SHADOW_SYNC,
                json.dumps({"state": {"desired": {"config": {"streams": {"readings": {"priority": -4}}}}}}).encode(),
            )  # fmt: skip
            wait_until(lambda: reported().get("status") == "rejected", what="rejection")
            assert "streams.readings.priority" in reported()["error"]
            # and a good one (the bad override removed): applied and reported
            core.shadows.update(
                THING, topics.SHADOW_SYNC,
                json.dumps({"state": {"desired": {"config": {"streams": None, "dailyByteBudget": 12345}}}}).encode(),
            )  # fmt: skip
            wait_until(lambda: reported().get("dailyByteBudget") == 12345, what="applied budget")
            assert reported()["status"] == "applied"

            # WHEN IoT Core disconnects, an alert waits in the store; on reconnect it goes at once,
            # after a re-send of a1 (sent before the outage: the nucleus' spooler may have lost it)
            core.cloud.set_connected(False)
            wait_until(lambda: reported().get("link") == "offline", what="offline link")
            publish(topics.ALERTS, alert(2))
            wait_until(
                lambda: reported().get("backlog", {}).get("alerts", {}).get("records") == 1, what="held alert"
            )
            assert len(core.cloud.published) == 1
            core.cloud.set_connected(True)
            after = [json.loads(m.payload)["alertId"] for m in core.cloud.wait_for_publishes(3)[1:3]]
            assert after == ["a1", "a2"]
    assert not component.thread.is_alive() and component.errors == []


def test_a_store_damaged_while_running_is_set_aside_and_the_component_exits_with_an_error(
    tmp_path: Path, cloud_s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from components.sync.exceptions import StoreUnusableError
    from components.sync.store.sqlite import SqliteStore

    def damaged(self: SqliteStore, records: Any, limits: Any) -> Any:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(SqliteStore, "add", damaged)
    defaults = recipe_defaults(SYNC, THING)
    config = {**defaults, "storeDir": str(tmp_path / "store"), "commitIntervalMs": 10}
    producer_acl = pubsub_acl("p", publish=["*"])
    components = {SYNC: defaults["accessControl"], "test.Producer": producer_acl}
    with ipc_server(tmp_path, components=components, config=DictConfig({SYNC: config})) as core:
        ipc = ComponentIpc(core.client(SYNC), SYNC, THING)
        with component_thread(build_and_run, ipc) as component:
            wait_until(lambda: core.server.reported_state(SYNC) == "RUNNING", what="RUNNING")
            producer = core.client("test.Producer")
            producer.publish_to_topic(
                topic=topics.READINGS,
                publish_message=PublishMessage(json_message=JsonMessage(message=reading(1))),
            )
            component.thread.join(20)
    errors = component.errors
    # THEN the component ends with a clear error (the nucleus restarts it) and the file is set aside
    assert len(errors) == 1 and isinstance(errors[0], StoreUnusableError) and "malformed" in str(errors[0])
    names = [p.name for p in (tmp_path / "store").iterdir()]
    assert any(name.startswith("sync.db.unusable-") for name in names) and "sync.db" not in names
