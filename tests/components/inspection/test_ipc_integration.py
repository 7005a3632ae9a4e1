"""The entry point over localcore's IPC server with the real awsiotsdk client, the real
configuration store and shadow store: a model swap from the ``inspection-config`` shadow is
applied or refused, the reason reported in the shadow, and the old model keeps deciding."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from components.common import topics
from components.common.ipc import ComponentIpc
from components.inspection.__main__ import build_and_run
from localcore.ipc.testing import IpcHarness
from tests.components.rig import (
    ConfigShadow,
    RecordingPublisher,
    component_ipc_server,
    pubsub_acl,
    running_component,
    wait_until,
)

NAME = "com.edgebundle.QualityInspection"
THING = "line-2"
LINE_ACL = pubsub_acl(publish=[topics.INSPECTION_TRIGGER], subscribe=["edgebundle/inspection/*"])


class Running(ConfigShadow):
    def __init__(self, core: IpcHarness, line: ComponentIpc, seen: RecordingPublisher) -> None:
        super().__init__(core, THING, topics.SHADOW_INSPECTION)
        self.line, self.seen = line, seen
        self.triggers = 0

    def inspect(self, part_id: str) -> dict[str, Any]:
        """Triggers alternate between a ``jsonMessage`` (a PLC bridge's form) and binary JSON (the
        bundle's): the component reads both."""
        self.triggers += 1
        if self.triggers % 2:
            self.line.client.publish_to_topic(
                topic=topics.INSPECTION_TRIGGER,
                publish_message=PublishMessage(json_message=JsonMessage(message={"partId": part_id})),
            )
        else:
            self.line.publish_json(topics.INSPECTION_TRIGGER, {"partId": part_id})
        self.seen.wait(
            lambda: any(m["partId"] == part_id for m in self.seen.on(topics.INSPECTION_DECISIONS)),
            what=f"decision on {part_id}",
        )
        return next(m for m in self.seen.on(topics.INSPECTION_DECISIONS) if m["partId"] == part_id)


@contextmanager
def running_inspection(tmp_path: Path) -> Iterator[Running]:
    deployment = {"trigger": {"mode": "topic"}, "spool": {"dir": str(tmp_path / "spool"), "minFreeBytes": 0}}
    with component_ipc_server(tmp_path, NAME, THING, deployment, {"test.Line": LINE_ACL}) as core:
        line = ComponentIpc(core.client("test.Line"), "test.Line", THING)
        seen = RecordingPublisher().subscribe(line, topics.INSPECTION_DECISIONS)
        with running_component(core, NAME, THING, build_and_run):
            yield Running(core, line, seen)


def test_model_swaps_from_the_shadow_are_applied_or_refused_and_reported(tmp_path: Path) -> None:
    with running_inspection(tmp_path) as running:
        first = running.inspect("before")
        assert first["inspected"] and first["model"] == "part_defect"
        wait_until(lambda: running.reported().get("status") == "applied", what="applied report")

        running.desire({"model": {"variant": "float32", "version": "9.9.9"}})
        wait_until(lambda: running.reported().get("config", {}).get("model", {}).get("variant") == "float32")
        assert running.inspect("after-good-swap")["modelVersion"] == "9.9.9"

        running.desire({"model": {"path": str(tmp_path / "nope.tflite"), "sha256": "a" * 64}})
        wait_until(lambda: running.reported().get("status") == "rejected", what="rejected report")
        reported = running.reported()
        assert "does not exist" in reported["error"]
        assert reported["config"]["model"]["variant"] == "float32"  # still the one in effect
        assert running.inspect("after-bad-swap")["modelVersion"] == "9.9.9"


def test_trigger_mode_changes_from_the_shadow_take_effect_live(tmp_path: Path) -> None:
    with running_inspection(tmp_path) as running:
        running.inspect("triggered-1")
        running.desire({"trigger": {"mode": "free_run", "rateHz": 50}})
        running.seen.wait(
            lambda: any(
                m["partId"].startswith("part-") for m in running.seen.on(topics.INSPECTION_DECISIONS)
            ),
            what="free-running decisions",
        )
        # Back to triggers (the subscription is opened again from the shadow's callback thread).
        running.desire({"trigger": {"mode": "topic"}})
        wait_until(lambda: running.reported().get("config", {}).get("trigger", {}).get("mode") == "topic")
        assert running.inspect("triggered-2")["inspected"] is True
