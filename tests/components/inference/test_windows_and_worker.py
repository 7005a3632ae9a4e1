"""Sliding windows, the bounded queue, model validation and the worker, with a recording publisher."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import numpy as np
import pytest

from components.common import topics
from components.common.live_config import ConfigError, validate_config
from components.common.messages import ANOMALY_V1, Anomaly, parse_message, reading_batch_message
from components.common.model_manifest import Manifest, sha256_file
from components.common.preprocessing import sensor_windows_v1
from components.inference.config import HostedModelConfig, InferenceConfig
from components.inference.exceptions import ModelSwapRejected
from components.inference.host import LoadedModel, load_model
from components.inference.windows import SlidingWindows, WindowQueue
from components.inference.worker import ModelWorker

from .conftest import RecordingPublisher, clean_readings, inject_spike

MANIFEST = Manifest.load()


def test_windows_emit_once_full_then_every_hop_in_order() -> None:
    windows = SlidingWindows(size=4, hop=2)
    emitted = [windows.add("s", float(i), float(i), None) for i in range(9)]
    assert [w is not None for w in emitted] == [False, False, False, True, False, True, False, True, False]
    last = emitted[7]
    assert last is not None
    assert last.temperature.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert np.isnan(last.humidity).all()
    assert (last.start_ts, last.end_ts) == (4.0, 7.0)
    # Sensors have their own rings.
    assert windows.add("other", 0.0, 1.0, 1.0) is None and windows.sensors == ["other", "s"]


def test_queue_is_bounded_drops_oldest_and_batches() -> None:
    queue = WindowQueue(capacity=3)
    windows = SlidingWindows(size=1, hop=1)
    for i in range(5):
        window = windows.add("s", float(i), 1.0, 1.0)
        assert window is not None
        queue.put(window)
    assert queue.dropped == 2 and len(queue) == 3
    assert [w.end_ts for w in queue.take(2, timeout=0.0)] == [2.0, 3.0]
    assert [w.end_ts for w in queue.take(10, timeout=0.0)] == [4.0]
    assert queue.take(10, timeout=0.0) == []


def test_config_errors_name_the_key() -> None:
    cases = [
        (
            {"models": [{"name": "m", "path": "/tmp/x.tflite"}]},
            "models.0: a model 'path' outside the manifest needs its 'sha256'",
        ),
        ({"models": [{"name": "m"}, {"name": "m"}]}, "models: names must be unique, got ['m', 'm']"),
        ({"models": [{"hop": 0}]}, "models.0.hop: Expected `int` >= 1 (got 0)"),
        (
            {"models": [{"preprocessing": "part_image_v1"}]},
            "models.0.preprocessing: Invalid enum value 'part_image_v1'",
        ),
        (
            {"models": [{"card": "/tmp/x.card.json"}]},
            "models.0: a 'card' describes a model 'path' of your own",
        ),
        ({"models": [{"sha256": "ABC"}]}, "models.0.sha256: Expected `str` matching regex"),
        ({"models": []}, "models: Expected `array` of length >= 1"),
        ({"numThreads": 9}, "numThreads: Expected `int` <= 8 (got 9)"),
        # keys are camelCase, as recipes, deployments and shadows write them
        ({"models": [{"input_topic": "t"}]}, "models.0: Object contains unknown field `input_topic`"),
    ]
    for raw, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            validate_config(InferenceConfig, raw)


def test_bad_models_are_rejected_with_the_reason(tmp_path: Path) -> None:
    spec = MANIFEST.variant("sensor_anomaly", "int8")
    cases: dict[str, HostedModelConfig] = {}
    cases["does not exist"] = HostedModelConfig(path=str(tmp_path / "gone.tflite"), sha256="0" * 64)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(spec.path.read_bytes()[:4000])
    cases["cannot load"] = HostedModelConfig(path=str(truncated), sha256=sha256_file(truncated))
    cases["sha256"] = HostedModelConfig(path=str(spec.path), sha256="1" * 64)
    image = MANIFEST.variant("part_defect", "int8").path
    cases["shape [1, 64, 64, 1]"] = HostedModelConfig(path=str(image), sha256=sha256_file(image))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    cases["not a TFLite flatbuffer"] = HostedModelConfig(path=str(junk), sha256=sha256_file(junk))
    cases["no variant 'fp16'"] = HostedModelConfig(variant="fp16")
    for reason, config in cases.items():
        with pytest.raises(ModelSwapRejected, match=re.escape(reason)):
            load_model(config, num_threads=1)


def test_the_card_input_must_be_one_the_component_feeds(tmp_path: Path) -> None:
    # GIVEN a manifest whose sensor model's card says it reads camera images
    raw = json.loads((MANIFEST.base_dir / "manifest.json").read_text())
    raw["models"]["sensor_anomaly"]["card"]["input"] = {"source": "image", "colour": "grey"}
    for variant in raw["models"]["sensor_anomaly"]["variants"].values():
        variant["file"] = str(MANIFEST.base_dir / variant["file"])
    (tmp_path / "manifest.json").write_text(json.dumps(raw))
    # THEN the model is refused, naming the tensor and what the card expects
    with pytest.raises(ModelSwapRejected, match=r"input 0 \(serving_default_window:0, shape \[1, 64, 5\]\)"):
        load_model(HostedModelConfig(), 1, str(tmp_path / "manifest.json"))


def test_an_image_model_of_your_own_on_the_readings_topic_is_refused(tmp_path: Path) -> None:
    spec = MANIFEST.variant("part_defect", "int8")
    card = tmp_path / "defects.card.json"
    card.write_text(json.dumps(MANIFEST.model("part_defect")["card"]))
    config = HostedModelConfig(path=str(spec.path), sha256=spec.sha256, card=str(card))
    with pytest.raises(ModelSwapRejected, match="an image model needs its own 'inputTopic'"):
        load_model(config, 1)


def test_a_sensor_model_of_your_own_whose_card_does_not_fit_is_refused(tmp_path: Path) -> None:
    # GIVEN the float model copied as "your own", with a card saying raw standardised fields
    spec = MANIFEST.variant("sensor_anomaly", "float32")
    own = tmp_path / "own.tflite"
    own.write_bytes(spec.path.read_bytes())
    (tmp_path / "own.card.json").write_text(
        json.dumps(
            {
                "name": "own-model",
                "version": "2.0.0",
                "input": {"source": "sensorWindow", "fields": ["temperature", "humidity"], "length": 64},
                "output": {"kind": "score", "threshold": 0.7},
            }
        )
    )
    # THEN a 5-channel tensor does not fit two fields: refused naming the expected shapes
    with pytest.raises(ModelSwapRejected, match=re.escape("expected [1, 64, 2] or [1, 128]")):
        load_model(HostedModelConfig(path=str(own), sha256=spec.sha256), 1)


def make_worker(model: LoadedModel, publish: str = "changes") -> tuple[ModelWorker, RecordingPublisher]:
    publisher = RecordingPublisher()
    counter = iter(range(10**9))
    config = msgspec.structs.replace(model.config, publish=publish)
    loaded = LoadedModel(**{**model.__dict__, "config": config})
    worker = ModelWorker(loaded, publisher, lambda _s, _t: next(counter), max_batch=16, max_pending=10_000)
    return worker, publisher


def test_a_spike_raises_then_clears_one_event_each(int8_model: LoadedModel) -> None:
    worker, publisher = make_worker(int8_model)
    readings = clean_readings("line1", 200)
    inject_spike(readings, 100)
    for reading in readings:
        worker.on_reading(reading)
    while batch := worker.queue.take(16, timeout=0.0):
        worker.score(batch)
    events = publisher.on(topics.ANOMALIES)
    assert [e["isAnomaly"] for e in events] == [True, False]
    raised = parse_message(events[0])
    assert isinstance(raised, Anomaly)
    assert raised.schema_ == ANOMALY_V1 and raised.source == "line1"
    spike_ts = readings[100]["ts"]
    assert raised.window_start <= spike_ts <= raised.window_end  # within the first window that holds it
    assert events[1]["windowStart"] > spike_ts  # cleared once the spike left the window
    assert worker.scored == 200 - 63 and worker.health()["windowsDropped"] == 0


def test_batched_scores_equal_one_by_one_and_swap_loses_nothing(
    int8_model: LoadedModel, float_model: LoadedModel
) -> None:
    worker, publisher = make_worker(int8_model, publish="all")
    for reading in clean_readings("line1", 63 + 40):
        worker.on_reading(reading)
    batch = worker.queue.take(40, timeout=0.0)
    worker.score(batch[:10])
    worker.swap(
        LoadedModel(
            **{
                **float_model.__dict__,
                "config": msgspec.structs.replace(worker.model.config, variant="float32"),
            }
        )
    )
    worker.score(batch[10:])
    events = publisher.on(topics.ANOMALIES)
    assert [e["windowEnd"] for e in events] == [w.end_ts for w in batch]
    assert worker.swaps == 1 and worker.scored == 40
    one = float_model.runtime.predict(
        sensor_windows_v1(batch[20].temperature[None], batch[20].humidity[None])
    )
    assert events[20]["score"] == pytest.approx(float(one[0, 0]), abs=1e-5)


def test_readings_that_are_not_environment_readings_are_skipped(int8_model: LoadedModel) -> None:
    worker, _ = make_worker(int8_model)
    worker.on_reading({"schema": "nope"})
    worker.on_reading(
        {
            "schema": "edgebundle.reading.v1",
            "source": "gw",
            "seq": 1,
            "ts": 1.0,
            "kind": "system",
            "values": {"cpu_percent": 3.0},
            "units": {},
            "quality": "good",
        }
    )
    failed = clean_readings("line1", 1)[0]
    failed["values"] = {"temperature": None, "humidity": None}
    failed["quality"] = "bad"
    worker.on_reading(failed)
    assert (worker.invalid, worker.ignored, worker.readings) == (1, 1, 1)


def test_a_batch_of_readings_gives_the_same_windows_as_the_readings_one_by_one(
    int8_model: LoadedModel,
) -> None:
    readings = clean_readings("line1", 63 + 40)
    inject_spike(readings, 80)
    one_by_one, _ = make_worker(int8_model)
    for reading in readings:
        one_by_one.on_reading(reading)
    batched, _ = make_worker(int8_model)
    for start in range(0, len(readings), 25):  # batches of several sizes, in order
        batched.on_reading(reading_batch_message("sensing", readings[start : start + 25]))
    expected = one_by_one.queue.take(100, timeout=0.0)
    got = batched.queue.take(100, timeout=0.0)
    assert len(got) == len(expected) == 40 and batched.readings == len(readings)
    for a, b in zip(got, expected, strict=True):
        assert (a.sensor, a.start_ts, a.end_ts) == (b.sensor, b.start_ts, b.end_ts)
        assert np.array_equal(a.temperature, b.temperature) and np.array_equal(a.humidity, b.humidity)


def test_a_batch_with_a_bad_reading_is_invalid_whole_and_other_sensors_are_ignored(
    int8_model: LoadedModel,
) -> None:
    worker, _ = make_worker(int8_model)
    good = clean_readings("line1", 3)
    worker.on_reading(reading_batch_message("sensing", [*good, {**good[0], "ts": "soon"}]))
    assert (worker.invalid, worker.readings) == (1, 0)
    system = {**good[0], "kind": "system", "values": {"cpu_percent": 3.0}, "units": {"cpu_percent": "%"}}
    worker.on_reading(reading_batch_message("sensing", [system, *good]))
    assert (worker.invalid, worker.ignored, worker.readings) == (1, 1, 3)


def test_a_standardising_card_feeds_time_first_fields_with_failed_reads_carried_forward() -> None:
    from components.common.model_card import SensorWindowInput
    from components.inference.host import window_input

    card = SensorWindowInput(
        fields=("humidity", "temperature"),
        length=3,
        preprocessing="standardise",
        mean=(50.0, 20.0),
        std=(10.0, 2.0),
    )
    t = np.array([[20.0, np.nan, 24.0]])
    h = np.array([[60.0, 40.0, 50.0]])
    x = window_input(card, (1, 3, 2), t, h)
    assert x.shape == (1, 3, 2) and x.dtype == np.float32
    assert x[0].tolist() == [[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0]]  # the failed read carries 20.0 forward
    flat = window_input(card, (1, 6), t, h)
    assert flat.shape == (1, 6) and flat[0].tolist() == [1.0, 0.0, -1.0, 0.0, 0.0, 2.0]


def test_a_card_marked_stateful_is_never_batched_and_starts_fresh(tmp_path: Path) -> None:
    # GIVEN the float sensor model as a model of your own whose card says it is stateful
    spec = MANIFEST.variant("sensor_anomaly", "float32")
    card = dict(MANIFEST.model("sensor_anomaly")["card"], stateful=True)
    (tmp_path / "own.card.json").write_text(json.dumps(card))
    own = tmp_path / "own.tflite"
    own.write_bytes(spec.path.read_bytes())
    model = load_model(HostedModelConfig(path=str(own), sha256=spec.sha256), 1)
    # THEN it runs item by item, with the same numbers as the stateless copy
    assert model.runtime.stateful and not model.runtime.batchable
    x = np.random.default_rng(5).normal(0, 1, (3, 64, 5)).astype(np.float32)
    plain = load_model(HostedModelConfig(variant="float32"), 1)
    assert np.allclose(model.runtime.predict(x), plain.runtime.predict(x), atol=1e-6)
