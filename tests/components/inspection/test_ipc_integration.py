"""The entry point over localcore's IPC server with the real awsiotsdk client, the real
configuration store and shadow store: a model swap from the ``inspection-config`` shadow is
applied or refused, the reason reported in the shadow, and the old model keeps deciding."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from components.common import topics
from components.common.ipc import ComponentIpc
from components.inspection.__main__ import build_and_run
from localcore.config.store import ConfigStore
from localcore.ipc.testing import IpcHarness, ipc_server

from .fakes import RecordingPublisher, wait_until

ROOT = Path(__file__).resolve().parents[3]
NAME = "com.edgebundle.QualityInspection"
THING = "line-2"
LINE_ACL = {
    "aws.greengrass.ipc.pubsub": {
        "p": {"operations": ["aws.greengrass#PublishToTopic"], "resources": [topics.INSPECTION_TRIGGER]},
        "s": {"operations": ["aws.greengrass#SubscribeToTopic"], "resources": ["edgebundle/inspection/*"]},
    }
}


def recipe_defaults() -> dict[str, Any]:
    recipe = yaml.safe_load((ROOT / "recipes" / f"{NAME}.yaml").read_text())
    defaults: dict[str, Any] = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    return json.loads(json.dumps(defaults).replace("{iot:thingName}", THING))


class Running:
    def __init__(self, core: IpcHarness, line: ComponentIpc, seen: RecordingPublisher) -> None:
        self.core, self.line, self.seen = core, line, seen

    def shadow(self) -> dict[str, Any]:
        assert self.core.shadows is not None
        document: dict[str, Any] = json.loads(self.core.shadows.get(THING, topics.SHADOW_INSPECTION))
        return document

    def reported(self) -> dict[str, Any]:
        return dict(self.shadow()["state"].get("reported") or {})

    def desire(self, config: dict[str, Any]) -> None:
        assert self.core.shadows is not None
        payload = json.dumps({"state": {"desired": {"config": config}}}).encode()
        self.core.shadows.update(THING, topics.SHADOW_INSPECTION, payload, source="cloud")

    def inspect(self, part_id: str) -> dict[str, Any]:
        self.line.publish_json(topics.INSPECTION_TRIGGER, {"partId": part_id})
        self.seen.wait(
            lambda: any(m["partId"] == part_id for m in self.seen.on(topics.INSPECTION_DECISIONS)),
            what=f"decision on {part_id}",
        )
        return next(m for m in self.seen.on(topics.INSPECTION_DECISIONS) if m["partId"] == part_id)


@contextmanager
def running_inspection(tmp_path: Path) -> Iterator[Running]:
    store = ConfigStore()
    store.set_defaults(NAME, recipe_defaults())
    store.merge(
        NAME,
        {"trigger": {"mode": "topic"}, "spool": {"dir": str(tmp_path / "spool"), "minFreeBytes": 0}},
    )
    components = {NAME: recipe_defaults()["accessControl"], "test.Line": LINE_ACL}
    with ipc_server(tmp_path, components=components, config=store) as core:
        seen = RecordingPublisher()
        line = ComponentIpc(core.client("test.Line"), "test.Line", THING)
        line.subscribe_json(
            topics.INSPECTION_DECISIONS, lambda m: seen.publish(topics.INSPECTION_DECISIONS, m)
        )
        ipc = ComponentIpc(core.client(NAME), NAME, THING)
        stop = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                build_and_run(ipc, stop)
            except BaseException as err:  # surfaced below
                errors.append(err)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            wait_until(lambda: core.server.reported_state(NAME) == "RUNNING" or errors, what="RUNNING")
            assert not errors, errors
            yield Running(core, line, seen)
        finally:
            stop.set()
            thread.join(10)
            assert not thread.is_alive(), "the component did not stop when asked"
            assert not errors, errors


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
