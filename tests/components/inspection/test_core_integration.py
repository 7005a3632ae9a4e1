"""The inspection component as the real runner starts it: from its recipe, in its own process,
with a line controller (a test component with a real IPC client) sending part-present triggers."""

from __future__ import annotations

from pathlib import Path

from components.common import topics
from tests.components.rig import RecordingPublisher, core_with_idle_component

NAME = "com.edgebundle.QualityInspection"
THING = "line-1"


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
    with core_with_idle_component(
        tmp_path,
        NAME,
        THING,
        deployment,
        "test.LineController",
        publish=[topics.INSPECTION_TRIGGER],
        subscribe=[topics.INSPECTION_DECISIONS, topics.INSPECTION_HEALTH],
    ) as (core, line):
        collected = RecordingPublisher().subscribe(
            line, topics.INSPECTION_DECISIONS, topics.INSPECTION_HEALTH
        )
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
