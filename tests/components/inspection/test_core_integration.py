"""The inspection component as the real runner starts it: from its recipe, in its own process,
with a line controller (a test component with a real IPC client) sending part-present triggers."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from components.common import topics
from components.common.ipc import ComponentIpc
from localcore.testing import running_core

ROOT = Path(__file__).resolve().parents[3]
NAME = "com.edgebundle.QualityInspection"
THING = "line-1"

LINE_RECIPE = """
RecipeFormatVersion: "2020-01-25"
ComponentName: test.LineController
ComponentVersion: "1.0.0"
ComponentConfiguration:
  DefaultConfiguration:
    accessControl:
      aws.greengrass.ipc.pubsub:
        test.LineController:pubsub:1:
          operations: [aws.greengrass#PublishToTopic]
          resources: [edgebundle/inspection/trigger]
        test.LineController:pubsub:2:
          operations: [aws.greengrass#SubscribeToTopic]
          resources: [edgebundle/inspection/decisions, edgebundle/inspection/health]
Manifests:
  - Platform: {os: linux}
    Lifecycle:
      Run:
        Script: exec python3 -c "import signal; signal.pause()"
"""


class Collected:
    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.cond = threading.Condition()

    def add(self, topic: str, payload: dict[str, Any]) -> None:
        with self.cond:
            self.messages.append((topic, payload))
            self.cond.notify_all()

    def on(self, topic: str) -> list[dict[str, Any]]:
        with self.cond:
            return [m for t, m in self.messages if t == topic]

    def wait(self, predicate: Any, timeout: float = 30.0, what: str = "messages") -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self.cond.wait(remaining)


def test_triggered_inspections_publish_decisions_and_spool_defect_images(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    deployment = {
        "components": {
            NAME: {
                "configurationUpdate": {
                    "merge": {
                        "camera": {"type": "synthetic", "seed": 5, "defectRate": 0.5},
                        "trigger": {"mode": "topic"},
                        "spool": {"dir": str(spool), "minFreeBytes": 0, "goodSampleRate": 0.0},
                        "healthIntervalSeconds": 0.5,
                    }
                }
            }
        }
    }
    line_recipe = tmp_path / "test.LineController.yaml"
    line_recipe.write_text(LINE_RECIPE)
    with running_core(
        tmp_path,
        [ROOT / "recipes" / f"{NAME}.yaml", line_recipe],
        thing_name=THING,
        deployment=deployment,
        project_root=ROOT,
    ) as core:
        core.wait_for_state("test.LineController", "RUNNING")
        collected = Collected()
        line = ComponentIpc(core.client_for("test.LineController"), "test.LineController", THING)
        for topic in (topics.INSPECTION_DECISIONS, topics.INSPECTION_HEALTH):
            line.subscribe_json(topic, lambda payload, topic=topic: collected.add(topic, payload))
        core.wait_for_state(NAME, "RUNNING")
        core.wait_for_log(NAME, "event=running")

        ids = [f"L1-{i:05d}" for i in range(30)]
        for part_id in ids:
            line.publish_json(topics.INSPECTION_TRIGGER, {"partId": part_id})
        collected.wait(lambda: len(collected.on(topics.INSPECTION_DECISIONS)) >= 30, what="30 decisions")
        decisions = collected.on(topics.INSPECTION_DECISIONS)
        assert [d["partId"] for d in decisions] == ids
        assert all(d["inspected"] and d["model"] == "part_defect" for d in decisions)
        rejected = [d for d in decisions if d["decision"] == "reject"]
        assert rejected

        # Each reject's image and metadata are in the spool, complete (metadata present).
        def spooled() -> set[str]:
            return {p.stem for p in spool.glob("*.json")}

        wanted = {Path(d["image"]).stem for d in rejected}
        collected.wait(lambda: wanted <= spooled(), what="rejected parts' images in the spool")
        assert all((spool / f"{stem}.png").stat().st_size > 0 for stem in wanted)

        collected.wait(
            lambda: any(
                h["metrics"]["quality"]["scored"] >= 30 for h in collected.on(topics.INSPECTION_HEALTH)
            ),
            what="health with the quality figures",
        )

        ok, message = core.runner.stop_component(NAME)
        assert ok, message
        core.wait_for_state(NAME, "FINISHED", timeout=10)
        core.wait_for_log(NAME, "run: ended with code 0")
