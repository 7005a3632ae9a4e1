"""The component with fakes at the edges (publisher, subscriptions, camera, disk) and the real
shipped model: triggered part ids carried through, spool, actuator, quality figures, failing
camera, bad frames, and model swaps refused or applied while the old model keeps serving."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common import topics
from components.common.exceptions import ConfigError
from components.common.live_config import validate_config
from components.common.messages import Inspection, parse_message, replay_request_message
from components.common.model_manifest import Manifest
from components.common.replay import RecordingPublisher as ReplayRecorder
from components.common.replay import ReplayResponder, ReplayWindow
from components.inspection.actuator import SimulatedOutput
from components.inspection.component import REPLAYED_TOPICS, InspectionComponent
from components.inspection.config import InspectionConfig
from components.inspection.exceptions import ModelSwapRejected

from .fakes import CameraMaker, FakeDisk, RecordingPublisher, ScriptedCamera, Subscriptions, wait_until

PART = np.full((64, 64), 90, dtype=np.uint8)


class Running:
    def __init__(
        self, component: InspectionComponent, publisher: RecordingPublisher, subs: Subscriptions
    ) -> None:
        self.component = component
        self.publisher = publisher
        self.subs = subs
        self.outputs: list[SimulatedOutput] = []

    def decisions(self) -> list[dict[str, Any]]:
        return self.publisher.on(topics.INSPECTION_DECISIONS)

    def trigger(self, part_id: str) -> None:
        self.subs.deliver(topics.INSPECTION_TRIGGER, {"partId": part_id})

    def wait_decisions(self, count: int) -> list[dict[str, Any]]:
        self.publisher.wait(lambda: len(self.decisions()) >= count, what=f"{count} decisions")
        return self.decisions()


def config(tmp_path: Path, **overrides: Any) -> InspectionConfig:
    raw: dict[str, Any] = {
        "camera": {"type": "synthetic", "seed": 21, "defectRate": 0.5},
        "trigger": {"mode": "topic"},
        "spool": {"dir": str(tmp_path / "spool"), "minFreeBytes": 0, "goodSampleRate": 0.0},
        "healthIntervalSeconds": 0.05,
    }
    raw.update(overrides)
    return validate_config(InspectionConfig, raw)


@pytest.fixture
def running(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Running]:
    publisher = RecordingPublisher()
    subs = Subscriptions()
    camera_factory = getattr(request, "param", None)
    outputs: list[SimulatedOutput] = []

    def make_output(_config: Any) -> SimulatedOutput:
        outputs.append(SimulatedOutput())
        return outputs[-1]

    options: dict[str, Any] = {"output_factory": make_output, "disk_usage": FakeDisk(10**12)}
    if camera_factory is not None:
        options["camera_factory"] = camera_factory
    component = InspectionComponent(publisher, subs, **options)
    component.apply(config(tmp_path))
    component.start()
    run = Running(component, publisher, subs)
    run.outputs = outputs
    try:
        yield run
    finally:
        component.stop()


def test_triggered_parts_are_decided_in_order_with_their_part_ids(running: Running, tmp_path: Path) -> None:
    ids = [f"L1-{i:04d}" for i in range(40)]
    for part_id in ids:
        running.trigger(part_id)
    decisions = running.wait_decisions(40)
    assert [d["partId"] for d in decisions] == ids
    for message in decisions:
        parsed = parse_message(message)  # the shared schema
        assert isinstance(parsed, Inspection)
        assert parsed.model == "part_defect" and message["inspected"] is True
        assert message["groundTruth"] in ("", "scratch", "spot", "crack")
        assert message["latencyMs"] >= 0.0
    rejects = [d for d in decisions if d["decision"] == "reject"]
    assert rejects, "half the parts are defective: some must be rejected"
    # Every reject drove the diverter and was spooled with its metadata (goodSampleRate is 0).
    assert running.component.serving is not None
    assert running.component.serving.actuator.metrics()["pulses"] == len(rejects)
    assert all(d["actuated"] for d in rejects)
    running.component.serving.spool.drain()
    spool = tmp_path / "spool"
    kept = [d for d in decisions if d["decision"] != "accept"]
    assert sorted(p.name for p in spool.glob("*.png")) == sorted(d["image"] for d in kept)
    assert all(d["image"] is None for d in decisions if d["decision"] == "accept")


def test_quality_figures_against_ground_truth_reach_health(running: Running) -> None:
    for i in range(60):
        running.trigger(f"p{i}")
    running.wait_decisions(60)
    running.publisher.wait(
        lambda: any(
            h["metrics"]["quality"]["scored"] == 60 for h in running.publisher.on(topics.INSPECTION_HEALTH)
        ),
        what="health with 60 scored parts",
    )
    health = [
        h for h in running.publisher.on(topics.INSPECTION_HEALTH) if h["metrics"]["quality"]["scored"] == 60
    ][-1]
    quality = health["metrics"]["quality"]
    decisions = running.decisions()
    truth = [d["groundTruth"] != "" for d in decisions]
    assert quality["trueRejects"] == sum(
        d["decision"] == "reject" and t for d, t in zip(decisions, truth, strict=True)
    )
    assert quality["falseAccepts"] == sum(
        d["decision"] == "accept" and t for d, t in zip(decisions, truth, strict=True)
    )
    assert quality["escapeRate"] is not None and quality["falseRejectRate"] is not None
    assert health["metrics"]["model"]["variant"] == "int8"
    assert health["metrics"]["camera"]["state"] == "ok"


def test_free_running_inspects_at_the_configured_rate(running: Running, tmp_path: Path) -> None:
    running.component.apply(config(tmp_path, trigger={"mode": "free_run", "rateHz": 200}))
    decisions = running.wait_decisions(20)
    assert all(d["partId"].startswith("part-") for d in decisions)
    assert len({d["partId"] for d in decisions}) == len(decisions)


def test_a_bad_model_swap_is_refused_and_the_old_model_keeps_serving(
    running: Running, tmp_path: Path
) -> None:
    component = running.component
    before = component.serving
    assert before is not None
    shipped = Manifest.load().variant("part_defect", "int8").path
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(shipped.read_bytes()[:2000])
    wrong_shape = Manifest.load().variant("sensor_anomaly", "int8").path

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    # a model of your own whose card says RGB for a grey input tensor
    own_card = tmp_path / "own.card.json"
    own_card.write_text(
        json.dumps(
            {"name": "own", "input": {"source": "image", "colour": "rgb"}, "output": {"kind": "score"}}
        )
    )
    cases = [
        (
            {"path": str(shipped), "sha256": sha(shipped), "card": str(own_card)},
            r"input 0 \(serving_default_image:0, shape \[1, 64, 64, 1\]\) does not fit the card",
        ),
        ({"path": str(tmp_path / "missing.tflite"), "sha256": "0" * 64}, "does not exist"),
        ({"path": str(shipped), "sha256": "1" * 64}, "sha256"),
        ({"path": str(truncated), "sha256": sha(truncated)}, "cannot load it|truncated"),
        ({"path": str(wrong_shape), "sha256": sha(wrong_shape)}, "input 0"),
        ({"variant": "int4"}, "has no variant 'int4'"),
        ({"model": "sensor_anomaly"}, "this component feeds 'image' models"),
    ]
    for model, reason in cases:
        with pytest.raises(ModelSwapRejected, match=reason):
            component.apply(config(tmp_path, model=model))
        assert component.serving is before
    running.trigger("after-bad-swaps")
    (decision,) = [d for d in running.wait_decisions(1) if d["partId"] == "after-bad-swaps"]
    assert decision["modelVersion"] == before.model.version


def test_a_good_swap_serves_the_next_part(running: Running, tmp_path: Path) -> None:
    running.component.apply(config(tmp_path, model={"variant": "float32", "version": "2.0.0-test"}))
    running.trigger("after-swap")
    (decision,) = running.wait_decisions(1)
    assert decision["modelVersion"] == "2.0.0-test"
    assert running.component.health()["model"]["variant"] == "float32"


def test_a_crop_that_does_not_fit_the_frames_flags_parts_for_review(running: Running, tmp_path: Path) -> None:
    # Frame sizes are only known per frame: a part whose frame cannot hold the crop is flagged.
    running.component.apply(config(tmp_path, crop={"x": 40, "y": 0, "width": 64, "height": 64}))
    running.trigger("cropped")
    (decision,) = running.wait_decisions(1)
    assert decision["decision"] == "review" and decision["inspected"] is False
    assert "does not fit a 64x64 frame" in decision["reason"]
    assert running.component.health()["badFrames"] == 1


@pytest.mark.parametrize(
    "running",
    [CameraMaker(ScriptedCamera(["fail"], name="flaky"), ScriptedCamera([], then=PART, name="good"))],
    indirect=True,
)
def test_a_failing_camera_flags_the_part_for_review_and_recovers(running: Running, tmp_path: Path) -> None:
    running.trigger("while-failing")
    (first,) = running.wait_decisions(1)
    assert (
        first["partId"] == "while-failing" and first["decision"] == "review" and first["inspected"] is False
    )
    assert "read failed" in first["reason"]
    # Once the back-off (0.5 s) has passed, the camera is rebuilt for the next part.
    supervisor = running.component._camera
    assert supervisor is not None and supervisor.wait_time() > 0
    wait_until(lambda: supervisor.wait_time() == 0, what="the back-off to pass")
    running.trigger("after-recovery")
    last = running.wait_decisions(2)[-1]
    assert last["partId"] == "after-recovery" and last["inspected"] is True
    camera = running.component.health()["camera"]
    assert camera["failures"] == 1 and camera["state"] == "ok"


def test_bad_triggers_are_counted_not_fatal(running: Running) -> None:
    running.subs.deliver(topics.INSPECTION_TRIGGER, {"part": "nope"})
    running.subs.deliver(topics.INSPECTION_TRIGGER, "nope")
    running.trigger("good-one")
    (decision,) = running.wait_decisions(1)
    assert decision["partId"] == "good-one"
    assert running.component.health()["triggers"]["invalid"] == 2


def test_an_unusable_actuator_is_refused_and_the_old_one_kept(tmp_path: Path) -> None:
    from components.inspection.actuator import build_output

    component = InspectionComponent(
        RecordingPublisher(), Subscriptions(), output_factory=build_output, disk_usage=FakeDisk(10**12)
    )
    component.apply(config(tmp_path))
    before = component.serving
    assert before is not None
    # No Blinka on this machine: the GPIO output cannot be built.
    with pytest.raises(ConfigError, match="actuator: cannot import 'digitalio'"):
        component.apply(config(tmp_path, actuator={"driver": "gpio", "pin": "D5"}))
    assert component.serving is before
    assert before.actuator.pulse()  # still usable
    component.stop()


def test_decisions_stay_recoverable_and_a_replay_request_gets_them_back(tmp_path: Path) -> None:
    """Decisions go through a recording publisher into the replay window; a request from Sync
    on edgebundle/sync/replay-requests is answered on edgebundle/inspection/replay."""
    inner = RecordingPublisher()
    window = ReplayWindow(REPLAYED_TOPICS)
    subs = Subscriptions()
    numbers = iter(range(1, 1000))
    responder = ReplayResponder(
        window, inner, "inspection", topics.INSPECTION_REPLAY, lambda _s, _t: next(numbers), subscribe=subs
    )
    component = InspectionComponent(
        ReplayRecorder(inner, window), subs, disk_usage=FakeDisk(10**12), replay=responder
    )
    component.apply(config(tmp_path, replay={"maxMessages": 3}))
    component.start()
    try:
        for index in range(5):
            subs.deliver(topics.INSPECTION_TRIGGER, {"partId": f"P{index}"})
        inner.wait(lambda: len(inner.on(topics.INSPECTION_DECISIONS)) >= 5, what="5 decisions")
        decisions = inner.on(topics.INSPECTION_DECISIONS)
        source = decisions[0]["source"]
        first = decisions[0]["seq"]
        subs.deliver(
            topics.REPLAY_REQUESTS,
            replay_request_message(
                "sync",
                1,
                1.0,
                request_id="r",
                topic=topics.INSPECTION_DECISIONS,
                ranges=[(source, first, None)],
            ),
        )
        inner.wait(lambda: bool(inner.on(topics.INSPECTION_REPLAY)), what="the replay")
        (reply,) = inner.on(topics.INSPECTION_REPLAY)
        assert [m["partId"] for m in reply["messages"]] == ["P2", "P3", "P4"]  # the window holds 3
        assert reply["missing"] == [
            {"source": source, "first": first, "last": first + 1, "reason": "evicted", "count": 2}
        ]
    finally:
        component.stop()
