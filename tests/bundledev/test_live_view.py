"""The live view of `make run`: counters over the bundle's topics, the cloud summary, and a real run."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from bundledev.live_view import BundleLiveView, BundleTraffic
from components.common import messages, topics
from localcore.live_view import cloud_summary


def test_traffic_counts_alerts_inspections_and_rate() -> None:
    traffic = BundleTraffic()
    reading = messages.reading_message("s1", 1, 0.0, "dht22", {"t": 1.0}, {"t": "C"})
    for i in range(10):
        traffic.observe(topics.READINGS, reading, now=100.0 + i * 0.1)
    raised = messages.alert_message("s1", 1, 0.0, "a", "hot", "warning", "raised", "too hot")
    cleared = {**raised, "state": "cleared"}
    traffic.observe(topics.ALERTS, raised, now=101.0)
    assert traffic.active_alerts == {"hot": "warning"}
    traffic.observe(topics.ALERTS, cleared, now=102.0)
    assert traffic.active_alerts == {} and traffic.alerts_cleared == 1
    traffic.observe(topics.INSPECTION_DECISIONS, {"decision": "reject"}, now=102.0)
    traffic.observe(topics.SYNC_STATUS, {"metrics": {"backlog": {"readings": {"records": 3}}}}, now=102.0)
    traffic.observe(topics.READINGS, "not an object", now=102.0)
    assert traffic.readings == 10
    assert traffic.inspections["reject"] == 1
    assert traffic.sync["backlog"]["readings"]["records"] == 3
    assert traffic.readings_per_second(now=101.0) == 10 / 5.0
    assert traffic.readings_per_second(now=200.0) == 0.0


def test_traffic_counts_every_reading_of_a_batch_and_no_invalid_message() -> None:
    traffic = BundleTraffic()
    readings = [messages.reading_message("s1", i, 0.0, "dht22", {"t": 1.0}, {"t": "C"}) for i in range(40)]
    traffic.observe(topics.READINGS, readings[0], now=100.0)
    traffic.observe(topics.READINGS, messages.reading_batch_message("sensing", readings[1:]), now=100.5)
    traffic.observe(topics.READINGS, {"schema": messages.READING_BATCH_V1, "readings": "x"}, now=100.5)
    traffic.observe(topics.READINGS, messages.health_message("s", 1, 0.0, {}), now=100.5)
    assert traffic.readings == 40
    assert traffic.readings_per_second(now=104.0) == 40 / 5.0
    assert traffic.readings_per_second(now=105.2) == 39 / 5.0  # the single one left the window


def test_cloud_summary_reads_the_dump(tmp_path: Path) -> None:
    bucket = tmp_path / "cloud" / "s3" / "edge-bundle-data-1-us-east-1" / "telemetry" / "dev-1"
    bucket.mkdir(parents=True)
    (bucket / "a.zst").write_bytes(b"x" * 2048)
    (bucket / "b.zst").write_bytes(b"y" * 1024)
    tables = tmp_path / "cloud" / "dynamodb"
    tables.mkdir()
    (tables / "edge-bundle-alerts.jsonl").write_text(
        json.dumps({"a": 1}) + "\n" + json.dumps({"a": 2}) + "\n"
    )
    summary = cloud_summary(tmp_path)
    assert summary.objects == {"edge-bundle-data-1-us-east-1/telemetry": 2}
    assert summary.object_bytes == 3072
    assert summary.items == {"edge-bundle-alerts": 2}
    assert "2 S3 objects" in summary.lines()[0]


def test_live_view_watches_a_running_sensing_component(
    local_core: Callable[..., Any], repo_root: Path
) -> None:
    # GIVEN the sensing component running in a real core, and the view attached to it
    output = io.StringIO()
    view = BundleLiveView(console=Console(file=output, width=120, force_terminal=False), refresh_per_second=4)
    core = local_core(repo_root / "recipes" / "com.edgebundle.Sensing.yaml", thing_name="view-1")
    core.wait_for_state("com.edgebundle.Sensing", "RUNNING")
    view.state_changed("com.edgebundle.Sensing", "STARTING", "RUNNING")
    view.started(core.core)
    # WHEN readings flow THEN the view counts them through its own IPC subscription
    deadline = time.monotonic() + 30
    while view._traffic.readings == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view._traffic.readings > 0
    view.finished(core.core, 0)
    text = output.getvalue()
    assert "com.edgebundle.Sensing" in text and "RUNNING" in text
    assert "reached the cloud: 0 S3 objects" in text
