"""localcore's own live view (``run --view live``): states and link while running, the cloud's dump on exit."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from localcore.live_view import LiveView, cloud_summary
from localcore.testing import running_core

from .runner.conftest import lifecycle


def test_the_view_draws_states_and_link_then_what_reached_the_cloud(tmp_path: Path) -> None:
    output = io.StringIO()
    view = LiveView(console=Console(file=output, width=120, force_terminal=False), refresh_per_second=4)
    with running_core(tmp_path, lifecycle("steady")) as core:
        core.wait_for_state("test.life.Steady", "RUNNING")
        view.state_changed("test.life.Steady", "STARTING", "RUNNING")
        view.started(core.core)
        view.finished(core.core, 0)
    text = output.getvalue()
    assert "test.life.Steady" in text and "RUNNING" in text
    assert "online" in text  # the recording cloud is connected
    assert "reached the cloud: 0 S3 objects" in text


def test_cloud_summary_counts_objects_by_prefix_and_items_by_table(tmp_path: Path) -> None:
    objects = tmp_path / "cloud" / "s3" / "plant-data" / "raw" / "dev-1"
    objects.mkdir(parents=True)
    (objects / "a.json").write_bytes(b"x" * 2048)
    (tmp_path / "cloud" / "s3" / "plant-data" / "top.json").write_bytes(b"y" * 1024)
    tables = tmp_path / "cloud" / "dynamodb"
    tables.mkdir()
    (tables / "plant-events.jsonl").write_text(json.dumps({"a": 1}) + "\n\n" + json.dumps({"a": 2}) + "\n")
    summary = cloud_summary(tmp_path)
    assert summary.objects == {"plant-data/raw": 1, "plant-data": 1}
    assert summary.object_bytes == 3072
    assert summary.items == {"plant-events": 2}
    assert summary.lines()[0] == "reached the cloud: 2 S3 objects (3.0 KiB)"
