"""The sync component run by the real local core from its recipe, next to the sensing component,
against the embedded cloud: S3 through the fault proxy with token-exchange credentials, IoT Core
with its topic rule into DynamoDB, outages, and ``kill -9`` of the component's process.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.common import topics
from components.sync.encoding import decode_batch
from localcore.cloud.service import embedded_cloud_factory
from localcore.runner.supervisor import SupervisorSettings
from localcore.testing import CoreHarness, running_core
from tests.components.rig import ConfigShadow, wait_until
from tests.components.sensing.fakes import HOT_RULE, spiky_sensor

ROOT = Path(__file__).resolve().parents[3]
SYNC = "com.edgebundle.Sync"
SENSING = "com.edgebundle.Sensing"
THING = "dev-1"

DEPLOYMENT = {
    "components": {
        SENSING: {
            "configurationUpdate": {
                "merge": {
                    "sensors": [spiky_sensor(interval_s=0.02, seed=5)],
                    "rules": [HOT_RULE],
                }
            }
        },
        SYNC: {
            "configurationUpdate": {
                "merge": {
                    "commitIntervalMs": 50,
                    "batch": {"maxRecords": 200, "maxAgeSeconds": 0.5},
                    "backoffInitialSeconds": 0.2,
                    "backoffMaxSeconds": 1,
                    "statusIntervalSeconds": 1,
                }
            }
        },
    }
}

# Killing a component is an error to the nucleus; let the core restart it as often as the test does.
SETTINGS = SupervisorSettings(backoff_base=0.1, backoff_max=0.5, stop_grace=5.0, max_errors=1000)


def start_core(tmp_path: Path, schedule: str | None = None) -> contextlib.AbstractContextManager[CoreHarness]:
    return running_core(
        tmp_path,
        [ROOT / "recipes" / f"{SYNC}.yaml", ROOT / "recipes" / f"{SENSING}.yaml"],
        thing_name=THING,
        deployment=DEPLOYMENT,
        cloud=embedded_cloud_factory(schedule, description=describe_bundle(load_spec(), THING)),
        settings=SETTINGS,
        project_root=ROOT,
    )


@pytest.fixture
def core(tmp_path: Path) -> Iterator[CoreHarness]:
    with start_core(tmp_path) as harness:
        yield harness


def store_file(core: CoreHarness) -> Path:
    return Path(core.root) / "work" / SYNC / "store" / "sync.db"


def committed(core: CoreHarness) -> set[tuple[str, int]]:
    path = store_file(core)
    if not path.exists():
        return set()
    db = sqlite3.connect(path)
    try:
        return set(db.execute("SELECT source, seq FROM records WHERE stream = 'readings'"))
    except sqlite3.OperationalError:
        return set()
    finally:
        db.close()


def s3_readings(core: CoreHarness) -> list[tuple[str, int]]:
    s3 = core.cloud.moto.client("s3")
    bucket = core.cloud.moto.bucket
    found: list[tuple[str, int]] = []
    for obj in s3.list_objects_v2(Bucket=bucket, Prefix=f"telemetry/{THING}/readings/").get("Contents", []):
        body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
        found += [(m["source"], m["seq"]) for m in decode_batch(body)]
    return found


def alert_items(core: CoreHarness) -> list[dict[str, Any]]:
    table = load_spec().data.alerts_table
    items: list[dict[str, Any]] = core.cloud.moto.client("dynamodb").scan(TableName=table)["Items"]
    return items


def sync_pid(core: CoreHarness) -> int | None:
    process = core.runner._supervisors[SYNC]._main  # the Run step's process (sh exec'd python)
    return None if process is None else int(process.pid)


def kill_sync(core: CoreHarness) -> set[tuple[str, int]]:
    """SIGKILL the sync process if one runs and wait until it is reaped; what its store then held."""
    pid = sync_pid(core)
    if pid is None:
        return set()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: sync_pid(core) != pid, what="the killed process reaped")
    return committed(core)


def stop_sensing_and_check_the_drain(core: CoreHarness, seen: set[tuple[str, int]], timeout: float) -> None:
    """Once sensing stops, everything committed drains to S3, each record exactly once."""
    ok, message = core.runner.stop_component(SENSING)
    assert ok, message
    core.wait_for_state(SYNC, "RUNNING")
    wait_until(lambda: not committed(core) and seen <= set(s3_readings(core)), timeout=timeout, what="drain")
    uploaded = s3_readings(core)
    assert len(uploaded) == len(set(uploaded)), "a reading is in two objects"
    assert seen <= set(uploaded)


def run_story(core: CoreHarness, kills: int, outage_seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    pause = threading.Event()
    seen: set[tuple[str, int]] = set()
    core.wait_for_state(SYNC, "RUNNING")
    core.wait_for_state(SENSING, "RUNNING")
    # GIVEN sensing publishing at 50 Hz: readings reach S3 and alerts reach the DynamoDB table
    wait_until(lambda: len(s3_readings(core)) >= 50, timeout=60, what="readings in S3")
    wait_until(lambda: alert_items(core), timeout=60, what="an alert in the alerts table")
    # WHEN the link goes down for a while (real connection errors through the proxy)
    core.cloud.set_connectivity("offline")
    pause.wait(outage_seconds)
    wait_until(lambda: "event=batch_upload_failed" in core.log(SYNC), what="upload failures while offline")
    core.cloud.set_connectivity("online")
    # AND the component is killed with SIGKILL at random points while it ingests and uploads
    for _ in range(kills):
        wait_until(lambda: sync_pid(core) is not None and core.state(SYNC) == "RUNNING", what="sync running")
        pause.wait(rng.uniform(0.5, 2.5))
        seen |= kill_sync(core)
    # THEN once sensing stops, everything committed drains to S3, each record exactly once
    stop_sensing_and_check_the_drain(core, seen, timeout=90)
    # alerts: every alert raised reached the table once (the alertKey makes re-sends idempotent)
    keys = [item["alertKey"]["S"] for item in alert_items(core)]
    assert len(keys) == len(set(keys)) and keys

    # and the shadow reports the drained backlog and the counters
    reported = ConfigShadow(core, THING, topics.SHADOW_SYNC).reported

    wait_until(lambda: reported()["backlog"]["readings"]["records"] == 0, what="empty backlog in the shadow")
    assert reported()["counters"]["readings"]["delivered"] > 0 and reported()["link"] == "online"
    assert reported()["policies"]["readings"]["destination"] == "s3"
    # everything sensing published matched its schema
    assert all(names.get("malformed", 0) == 0 for names in reported()["counters"].values())


def test_sync_in_the_real_core_survives_an_outage_and_kill_9(core: CoreHarness) -> None:
    run_story(core, kills=2, outage_seconds=2.0, seed=int(time.time()) % 1000)


@pytest.mark.soak
@pytest.mark.timeout(900)  # 150 s of outage and 25 kills; the suite's 120 s default is for short tests
def test_sync_soak_minutes_of_outage_and_many_kills(core: CoreHarness) -> None:
    run_story(core, kills=25, outage_seconds=150.0, seed=11)


@pytest.mark.soak
@pytest.mark.timeout(900)  # 300 s of schedule, then up to 180 s of drain
def test_sync_soak_under_a_connectivity_schedule(tmp_path: Path) -> None:
    # Minutes of outage and flakiness from the embedded cloud's own schedule, kills on top.
    schedule = "online:30,offline:150,flaky:60:0.3,offline:60,online:600"
    rng = random.Random(3)
    pause = threading.Event()
    seen: set[tuple[str, int]] = set()
    with start_core(tmp_path, schedule) as core:
        core.wait_for_state(SYNC, "RUNNING")
        deadline = time.monotonic() + 300  # through the outages and the flaky phase
        while time.monotonic() < deadline:
            pause.wait(rng.uniform(10, 40))
            seen |= kill_sync(core)
        stop_sensing_and_check_the_drain(core, seen, timeout=180)
