"""Benchmark: the quality inspection pipeline beside raw ``invoke`` of the same model, one run.

Per shipped ``part_defect`` variant (int8 first):

1. raw ``invoke``: the model's prepared input set and invoked, nothing else (p50/p99, ms);
2. pipeline: frame captured to decision published (preprocess from a 64x64 frame, predict,
   decide, actuator, message built and handed to the publisher), p50/p99 ms, with the publisher
   (a) in memory and (b) the component's real ``IpcPublisher`` on localcore's IPC server with a
   real awsiotsdk client (publish pipelined, acknowledged asynchronously);
3. sustained frames/s at saturation: the component's own inspection loop (camera supervisor
   thread, free-running unpaced) with (a) a camera that replays pre-rendered frames
   and (b) the synthetic camera rendering every part;
4. quality: F1 (reject = defective) on the 2,000 held-out synthetic parts of
   ``models/heldout.py`` through the component's preprocessing, at the component's decision
   threshold (0.8) and at the manifest's threshold, with the review band's share.

Run: ``.venv/bin/python benchmarks/inspection.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.common import topics  # noqa: E402
from components.common.image_preprocess import Preprocessor  # noqa: E402
from components.common.ipc import ComponentIpc  # noqa: E402
from components.common.live_config import validate_config  # noqa: E402
from components.common.model_manifest import Manifest  # noqa: E402
from components.common.publisher import IpcPublisher  # noqa: E402
from components.common.sequence_numbers import SequenceNumbers  # noqa: E402
from components.inspection.actuator import PulseActuator, SimulatedOutput  # noqa: E402
from components.inspection.cameras.base import Camera, Frame  # noqa: E402
from components.inspection.cameras.parts import PartGenerator, part_dataset  # noqa: E402
from components.inspection.component import InspectionComponent  # noqa: E402
from components.inspection.config import InspectionConfig, ModelConfig  # noqa: E402
from components.inspection.decision import decide  # noqa: E402
from components.inspection.model import DefectModel, load_defect_model  # noqa: E402
from components.inspection.pipeline import Inspector, Serving  # noqa: E402
from components.inspection.spool import ImageSpool, SpoolWriter  # noqa: E402
from models.heldout import PARTS_HELDOUT  # noqa: E402


def pct(samples: list[float]) -> tuple[float, float]:
    """(p50, p99)."""
    array = np.asarray(samples)
    return float(np.percentile(array, 50)), float(np.percentile(array, 99))


class NullPublisher:
    """Drops messages (the in-memory peer of the IPC publisher)."""

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Nothing to do."""


class ReplayCamera(Camera):
    """Pre-rendered frames, round robin: a camera whose capture costs nothing."""

    description = "replay"

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images
        self.count = 0

    def read(self) -> Frame:
        """The next pre-rendered frame, stamped as captured now."""
        image = self.images[self.count % len(self.images)]
        self.count += 1
        return Frame(image, time.time(), time.perf_counter(), self.count - 1, "")


def raw_invoke(model: DefectModel, images: np.ndarray, runs: int) -> tuple[float, float]:
    """p50/p99 ms of set_tensor + invoke on an already prepared input."""
    pre = Preprocessor(model.runtime.inputs[0], model.image_input)
    items = [pre(image).copy() for image in images[:32]]
    for item in items:
        model.runtime.invoke_once(item)
    times = []
    for i in range(runs):
        item = items[i % len(items)]
        start = time.perf_counter()
        model.runtime.invoke_once(item)
        times.append((time.perf_counter() - start) * 1000.0)
    return pct(times)


def serving_for(model: DefectModel, spool_dir: Path) -> Serving:
    config = validate_config(InspectionConfig, {"spool": {"dir": str(spool_dir), "goodSampleRate": 0.0}})
    spool = SpoolWriter(
        ImageSpool(spool_dir, max_bytes=10**8, max_entries=1000, min_free_bytes=0), max_queued=1024
    )
    return Serving(
        config,
        model,
        Preprocessor(model.runtime.inputs[0], model.image_input),
        PulseActuator(SimulatedOutput(), 5.0),
        spool,
    )


def pipeline_latency(serving: Serving, publisher: Any, images: np.ndarray, runs: int) -> tuple[float, float]:
    """p50/p99 ms from frame captured to the decision handed to ``publisher`` (and returned)."""
    inspector = Inspector(publisher, SequenceNumbers().next)
    times = []
    for i in range(runs + 50):
        frame = Frame(images[i % len(images)], time.time(), time.perf_counter(), i, "")
        inspector.inspect(serving, frame)
        if i >= 50:
            times.append((time.perf_counter() - frame.captured_perf) * 1000.0)
    return pct(times)


def ipc_pipeline_latency(serving: Serving, images: np.ndarray, runs: int, tmp: Path) -> tuple[float, float]:
    """The same through the real IpcPublisher on localcore's IPC server."""
    from localcore.ipc.testing import ipc_server

    name = "com.edgebundle.QualityInspection"
    acl = {
        "aws.greengrass.ipc.pubsub": {
            "p": {"operations": ["aws.greengrass#PublishToTopic"], "resources": [topics.INSPECTION_DECISIONS]}
        }
    }
    with ipc_server(tmp, components={name: acl}) as core:
        publisher = IpcPublisher(ComponentIpc(core.client(name), name, "bench"))
        result = pipeline_latency(serving, publisher, images, runs)
        publisher.flush(10.0)
        assert publisher.metrics()["failed"] == 0, publisher.metrics()
    return result


def saturation(
    variant: str, camera: str, images: list[np.ndarray], seconds: float, tmp: Path
) -> tuple[float, float]:
    """(frames/s, p99 ms) of the component's own loop, free-running at its cap, for ``seconds``."""
    publisher = NullPublisher()
    factory = (lambda _c: ReplayCamera(images)) if camera == "replay" else None
    options: dict[str, Any] = {"camera_factory": factory} if factory else {}
    component = InspectionComponent(publisher, lambda _t, _h: _Closed(), **options)
    config = validate_config(
        InspectionConfig,
        {
            "camera": {"type": "synthetic", "seed": 3, "defectRate": 0.1},
            "trigger": {"mode": "free_run", "rateHz": 10000},
            "model": {"variant": variant},
            "spool": {"dir": str(tmp / f"sat-{variant}-{camera}"), "minFreeBytes": 0, "goodSampleRate": 0.0},
            "healthIntervalSeconds": 3600,
        },
    )
    component.apply(config)
    component.start()
    pause = threading.Event()
    pause.wait(1.0)  # warm-up; a benchmark measures over a duration
    start_count = sum(component.inspector.decisions.values())
    start = time.perf_counter()
    pause.wait(seconds)
    count = sum(component.inspector.decisions.values()) - start_count
    elapsed = time.perf_counter() - start
    p99 = component.inspector.latency.summary()["p99"] or 0.0
    component.stop()
    return count / elapsed, p99


class _Closed:
    def close(self) -> None:
        """Nothing subscribed."""


def quality(model: DefectModel, threshold: float, review_threshold: float) -> dict[str, float]:
    """F1 etc. of reject decisions on the held-out parts, through the component's preprocessing."""
    images, labels, _ = part_dataset(**PARTS_HELDOUT)  # type: ignore[arg-type]
    pre = Preprocessor(model.runtime.inputs[0], model.image_input)
    decisions = [decide(model.probability(pre(image)), threshold, review_threshold) for image in images]
    reject = np.array([d == "reject" for d in decisions])
    review = np.array([d == "review" for d in decisions])
    truth = labels.astype(bool)
    tp = int(np.sum(reject & truth))
    fp = int(np.sum(reject & ~truth))
    fn = int(np.sum(~reject & truth))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall, "review": float(review.mean())}


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    args = parser.parse_args()
    runs = 500 if args.quick else 3000
    seconds = 2.0 if args.quick else 5.0
    manifest = Manifest.load()
    variants = sorted(manifest.variants("part_defect"), key=lambda v: (v != "int8", v))
    generator = PartGenerator(seed=77, defect_rate=0.3)
    images = np.stack([generator.part(i).image for i in range(256)])

    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for variant in variants:
            model = load_defect_model(ModelConfig(variant=variant))
            serving = serving_for(model, tmp / f"spool-{variant}")
            raw = raw_invoke(model, images, runs)
            memory = pipeline_latency(serving, NullPublisher(), images, runs)
            ipc = ipc_pipeline_latency(serving, images, runs, tmp / f"ipc-{variant}")
            replay_fps, replay_p99 = saturation(variant, "replay", list(images), seconds, tmp)
            synth_fps, _ = saturation(variant, "synthetic", list(images), seconds, tmp)
            q_component = quality(model, 0.8, 0.5)
            q_manifest = quality(model, model.score_threshold, model.score_threshold)
            serving.actuator.close()
            serving.spool.close()
            rows.append(
                (variant, raw, memory, ipc, replay_fps, replay_p99, synth_fps, q_component, q_manifest)
            )

    print(
        f"\nquality inspection, part_defect, runtime {model.runtime.runtime_name}, 1 thread, {runs} frames per latency row"
    )
    print("\nlatency, frame captured -> decision published (ms)")
    header = f"{'variant':8} {'raw invoke p50/p99':>19} {'pipeline mem p50/p99':>21} {'added p99':>9} {'pipeline IPC p50/p99':>21} {'added p99':>9}"
    print(header)
    for variant, raw, memory, ipc, *_ in rows:
        print(
            f"{variant:8} {raw[0]:8.3f} /{raw[1]:8.3f} {memory[0]:9.3f} /{memory[1]:9.3f} {memory[1] - raw[1]:9.3f}"
            f" {ipc[0]:9.3f} /{ipc[1]:9.3f} {ipc[1] - raw[1]:9.3f}"
        )
    print("\nsustained frames/s at saturation (the component's inspection loop, free-running unpaced)")
    print(
        f"{'variant':8} {'replay camera':>14} {'loop p99 ms':>12} {'synthetic camera':>17} {'raw invoke max/s':>17} {'replay/raw':>10}"
    )
    for variant, raw, _m, _i, replay_fps, replay_p99, synth_fps, *_ in rows:
        raw_max = 1000.0 / raw[0]
        print(
            f"{variant:8} {replay_fps:14.0f} {replay_p99:12.3f} {synth_fps:17.0f} {raw_max:17.0f} {replay_fps / raw_max:10.2f}"
        )
    print(f"\nquality on {PARTS_HELDOUT['count']} held-out parts (reject = defective)")
    print(f"{'variant':8} {'F1 @0.8':>8} {'prec':>6} {'recall':>7} {'review':>7} {'F1 @manifest':>13}")
    for variant, *_rest, q_component, q_manifest in rows:
        print(
            f"{variant:8} {q_component['f1']:8.4f} {q_component['precision']:6.3f} {q_component['recall']:7.3f}"
            f" {q_component['review']:7.3f} {q_manifest['f1']:13.4f}"
        )


if __name__ == "__main__":
    main()
