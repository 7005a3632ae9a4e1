"""``kill -9`` of the sync component (a real subprocess) at random points, and outages with real
connection errors: nothing committed is lost and no record lands in S3 twice.

The component runs as ``python -m components.sync`` (what the recipe's Run step executes) with the
environment a nucleus gives it, against localcore's IPC server (real awsiotsdk client in the
child), the moto server of the embedded cloud behind its fault proxy (``AWS_ENDPOINT_URL``), and a
recording IoT Core whose connection follows the same connectivity switch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.common import topics
from components.sync.encoding import decode_batch
from localcore.cloud.connectivity import Connectivity
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.proxy import FaultProxy
from localcore.ipc.recording_cloud import RecordingCloudAdapter
from localcore.ipc.testing import IpcHarness, ipc_server
from tests.components.rig import recipe_defaults
from tests.components.rig import wait_until as wait_for

from .conftest import alert, reading
from .test_ipc_integration import THING, DictConfig

REPO = Path(__file__).resolve().parents[3]
SYNC = "com.edgebundle.Sync"


class Rig:
    """The core-side pieces a sync subprocess runs against."""

    def __init__(
        self, tmp_path: Path, core: IpcHarness, moto: MotoCloud, link: Connectivity, proxy: FaultProxy
    ):
        self.tmp_path = tmp_path
        self.core = core
        self.moto = moto
        self.link = link
        self.proxy = proxy
        self.s3 = moto.client("s3")
        self.work = tmp_path / "work" / SYNC
        self.work.mkdir(parents=True, exist_ok=True)
        self.store_file = self.work / "store" / "sync.db"
        self.log = (tmp_path / "sync.log").open("ab")

    def start_component(self) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.core.env(SYNC))
        env.update(
            AWS_IOT_THING_NAME=THING,
            AWS_REGION="us-east-1",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=self.proxy.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            PYTHONPATH=str(REPO),
        )
        return subprocess.Popen(
            [sys.executable, "-u", "-m", "components.sync"],
            cwd=self.work,
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    def log_tail(self, lines: int = 40) -> str:
        """The end of the component's log, for failure messages."""
        self.log.flush()
        path = self.tmp_path / "sync.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def starts(self) -> int:
        """How many times the component logged that it started."""
        self.log.flush()
        path = self.tmp_path / "sync.log"
        return path.read_bytes().count(b"event=started") if path.exists() else 0

    def s3_records(self) -> list[tuple[str, str, int]]:
        found = []
        listing = self.s3.list_objects_v2(Bucket=self.moto.bucket, Prefix="telemetry/")
        for obj in listing.get("Contents", []):
            body = self.s3.get_object(Bucket=self.moto.bucket, Key=obj["Key"])["Body"].read()
            found += [(obj["Key"], m["source"], m["seq"]) for m in decode_batch(body)]
        return found

    def committed(self) -> set[tuple[str, int]]:
        """What the store holds right now (read after the process died)."""
        if not self.store_file.exists():
            return set()
        db = sqlite3.connect(self.store_file)
        try:
            return {
                (s, q) for s, q in db.execute("SELECT source, seq FROM records WHERE stream = 'readings'")
            }
        except sqlite3.OperationalError:  # killed before the schema was created
            return set()
        finally:
            db.close()


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    moto = MotoCloud(describe_bundle(load_spec()))
    moto.start()
    link = Connectivity()
    host, port = moto.url.removeprefix("http://").split(":")
    proxy = FaultProxy(link, host, int(port))
    proxy.start()
    cloud = RecordingCloudAdapter()
    link.add_listener(lambda state, _drop: cloud.set_connected(state != "offline"))
    defaults = recipe_defaults(SYNC, THING)
    config = {
        **defaults,
        "commitIntervalMs": 50,
        "batch": {"maxRecords": 150, "maxBytes": 8388608, "maxAgeSeconds": 0.3},
        "backoffInitialSeconds": 0.2,
        "backoffMaxSeconds": 1,
        "statusIntervalSeconds": 1,
    }
    producer = {"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["edgebundle/*"]}}}
    try:
        with ipc_server(
            tmp_path,
            components={SYNC: defaults["accessControl"], "test.Producer": producer},
            config=DictConfig({SYNC: config}),
            cloud=cloud,
        ) as core:
            rig = Rig(tmp_path, core, moto, link, proxy)
            yield rig
            rig.log.close()
    finally:
        proxy.stop()
        moto.stop()


class Producer:
    """Publishes readings (and every 50th an alert) as fast as IPC takes them, until stopped."""

    def __init__(self, core: IpcHarness) -> None:
        self.client = core.client("test.Producer")
        self.seq = 0
        self.alerts = 0
        self.running = threading.Event()
        self._thread: threading.Thread | None = None

    def _publish(self, topic: str, message: dict[str, Any]) -> None:
        self.client.publish_to_topic(
            topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message=message))
        )

    def _run(self) -> None:
        pause = threading.Event()
        while self.running.is_set():
            self._publish(topics.READINGS, reading(self.seq))
            self.seq += 1
            if self.seq % 50 == 0:
                self.alerts += 1
                self._publish(topics.ALERTS, alert(self.alerts))
            pause.wait(0.002)

    def start(self) -> None:
        self.running.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.running.clear()
        if self._thread is not None:
            self._thread.join(10)


def chaos(rig: Rig, iterations: int, seed: int) -> None:
    """Kill -9 the component at random points while it ingests and uploads; then let it finish."""
    rng = random.Random(seed)
    producer = Producer(rig.core)
    producer.start()
    committed: set[tuple[str, int]] = set()
    pause = threading.Event()
    try:
        for iteration in range(iterations):
            rig.link.set_state("offline" if iteration % 3 == 2 else "online")
            started_before = rig.starts()
            process = rig.start_component()
            # A random moment: during start-up (a quarter of the kills), or while it ingests and
            # uploads (or retries against the outage) after it started.
            if rng.random() >= 0.25:

                def started(n: int = started_before) -> bool:
                    return rig.starts() > n

                wait_for(started, timeout=60, what="component start")
            pause.wait(rng.uniform(0.05, 1.5))
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            committed |= rig.committed()
    finally:
        producer.stop()
    rig.link.set_state("online")
    # The last run drains everything, then stops cleanly on SIGTERM (the nucleus' Shutdown).
    started_before = rig.starts()
    process = rig.start_component()
    try:
        # (SIGTERM before the component installed its handler would just kill it: wait for the start)
        wait_for(lambda: rig.starts() > started_before, timeout=60, what="the final start")
        committed |= {(s, q) for _k, s, q in rig.s3_records()}
        wait_for(lambda: committed <= {(s, q) for _k, s, q in rig.s3_records()}, timeout=60, what="drain")
        wait_for(lambda: len(rig.core.cloud.published) >= 1, what="alerts")  # type: ignore[union-attr]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, rig.log_tail()
    uploaded = rig.s3_records()
    pairs = [(s, q) for _k, s, q in uploaded]
    # THEN every committed record reached S3, none twice, and only records that were published
    assert committed <= set(pairs), f"lost {sorted(committed - set(pairs))[:10]}\n{rig.log_tail()}"
    assert len(pairs) == len(set(pairs)), "a record is in two objects"
    assert all(q < producer.seq for _s, q in pairs)
    # alerts: at least once over MQTT, each with a stable alertKey so the table holds it once
    alert_keys = [json.loads(m.payload)["alertKey"] for m in rig.core.cloud.published]  # type: ignore[union-attr]
    remaining = sqlite3.connect(rig.store_file).execute("SELECT COUNT(*) FROM records").fetchone()[0]
    assert remaining == 0 and len(set(alert_keys)) >= 1, rig.log_tail()


def test_kill_9_at_random_points_loses_no_committed_record_and_duplicates_nothing(rig: Rig) -> None:
    chaos(rig, iterations=4, seed=int(time.time()) % 1000)


@pytest.mark.soak
def test_kill_9_soak(rig: Rig) -> None:
    chaos(rig, iterations=40, seed=7)
