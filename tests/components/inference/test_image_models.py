"""Image models in the inference component: images from a topic, predictions out, batched only where correct.

The IPC test runs the entry point on a real awsiotsdk client against localcore, with the
component's accessControl extended for the two topics as a deployment would: policies "can be
merged at deployment" (``/work/shared/reference/greengrass-deployments.md`` section 4, citing
DOCS ``interprocess-communication.md``), each policy id a map key, so a merge adds one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from components.common import topics
from components.common.image_messages import image_message
from components.common.ipc import ComponentIpc
from components.common.messages import PredictionMessage, parse_message
from components.inference.__main__ import build_and_run
from components.inference.config import HostedModelConfig
from components.inference.exceptions import ModelSwapRejected
from components.inference.host import load_model
from components.inference.image_worker import ImageWorker
from localcore.ipc.testing import ipc_server
from models.data.shelf import PRODUCT_LABELS, render_product, render_scene
from tests.components.rig import (
    RecordingPublisher,
    config_store,
    pubsub_acl,
    recipe_defaults,
    running_component,
    wait_until,
)

NAME = "com.edgebundle.Inference"
THING = "dev-1"
IMAGES = "factory/shelf/images"
PREDICTIONS = "factory/shelf/predictions"


def shelf_config(model: str, **extra: Any) -> HostedModelConfig:
    return HostedModelConfig(name="shelf", model=model, input_topic=IMAGES, output_topic=PREDICTIONS, **extra)


def worker_for(model: str) -> tuple[ImageWorker, RecordingPublisher]:
    publisher = RecordingPublisher()
    counter = iter(range(10**9))
    loaded = load_model(shelf_config(model), 1)
    return ImageWorker(
        loaded, publisher, lambda _s, _t: next(counter), max_batch=8, max_pending=100
    ), publisher


def test_a_detector_runs_a_batch_of_images_in_one_invoke_with_every_detection() -> None:
    # GIVEN the shelf detector (batch-first, resizable) and five scenes queued
    worker, publisher = worker_for("shelf_detector")
    scenes = [render_scene(31, i) for i in range(5)]
    for i, (image, _, _) in enumerate(scenes):
        worker.on_image(image_message("cam-1", i, 1.79e9 + i, image, part_id=f"shelf-{i}"))
    # WHEN the worker takes them
    worker.score(worker.take(0.0))
    # THEN one batch, one prediction per image, its detections' classes those of the scene
    assert worker.batches == 1 and worker.largest_batch == 5 and worker.model.runtime.batchable
    predictions = [parse_message(m) for m in publisher.on(PREDICTIONS)]
    assert all(isinstance(p, PredictionMessage) and p.kind == "detection" for p in predictions)
    for (_, _, classes), message, prediction in zip(
        scenes, publisher.on(PREDICTIONS), predictions, strict=True
    ):
        assert isinstance(prediction, PredictionMessage)
        assert prediction.part_id == f"shelf-{prediction.image_seq}"
        found = sorted(d["classId"] for d in message["detections"])
        assert found == sorted(classes.tolist())


def test_bad_image_messages_are_counted_and_skipped() -> None:
    worker, publisher = worker_for("shelf_products")
    good = image_message("cam-1", 0, 1.79e9, np.zeros((96, 96, 3), np.uint8))
    worker.on_image({**good, "data": good["data"][:-8]})  # short
    worker.on_image({**good, "channels": 2})  # not grey or RGB
    worker.on_image({"schema": "edgebundle.health.v1", "source": "x", "seq": 1, "ts": 1.0, "metrics": {}})
    worker.on_image(good)
    worker.score(worker.take(0.0))
    assert (worker.invalid, worker.ignored, worker.images) == (2, 1, 1)
    assert len(publisher.on(PREDICTIONS)) == 1


def test_an_image_model_needs_topics_of_its_own() -> None:
    with pytest.raises(ModelSwapRejected, match=re.escape("an image model needs its own 'inputTopic'")):
        load_model(HostedModelConfig(name="shelf", model="shelf_products", output_topic=PREDICTIONS), 1)
    with pytest.raises(ModelSwapRejected, match=re.escape("an image model needs its own 'outputTopic'")):
        load_model(HostedModelConfig(name="shelf", model="shelf_products", input_topic=IMAGES), 1)


def test_a_classifier_on_a_topic_of_images_publishes_predictions_over_real_ipc(tmp_path: Path) -> None:
    # GIVEN the component with the sensor model and a shelf classifier, its accessControl
    # extended for the image topics as a deployment would
    acl = recipe_defaults(NAME, THING)["accessControl"]
    extra = pubsub_acl("images", publish=[PREDICTIONS], subscribe=[IMAGES])["aws.greengrass.ipc.pubsub"]
    acl = {**acl, "aws.greengrass.ipc.pubsub": {**acl["aws.greengrass.ipc.pubsub"], **extra}}
    camera_acl = pubsub_acl(publish=[IMAGES], subscribe=[PREDICTIONS, topics.INFERENCE_STATUS])
    deployment = {
        "healthIntervalSeconds": 0.2,
        "models": [
            {"name": "sensor-anomaly"},
            {"name": "shelf", "model": "shelf_products", "inputTopic": IMAGES, "outputTopic": PREDICTIONS},
        ],
    }
    with ipc_server(
        tmp_path,
        components={NAME: acl, "test.Camera": camera_acl},
        config=config_store(NAME, THING, deployment),
    ) as core:
        camera = ComponentIpc(core.client("test.Camera"), "test.Camera", THING)
        seen = RecordingPublisher().subscribe(camera, PREDICTIONS, topics.INFERENCE_STATUS)
        with running_component(core, NAME, THING, build_and_run, join_timeout=15):
            # WHEN a camera publishes four shelf images
            shots = [render_product(64, i) for i in range(4)]
            for i, (image, _) in enumerate(shots):
                camera.publish_json(IMAGES, image_message("shelf-cam", i, 1.79e9 + i, image))
            wait_until(lambda: len(seen.on(PREDICTIONS)) == 4, what="four predictions")
            wait_until(
                lambda: any(
                    h["metrics"]["models"].get("shelf", {}).get("imagesScored") == 4
                    for h in seen.on(topics.INFERENCE_STATUS)
                ),
                what="health counting them",
            )
        # THEN each image's prediction names its true product first
        by_seq = {m["imageSeq"]: m for m in seen.on(PREDICTIONS)}
        for i, (_, label) in enumerate(shots):
            assert by_seq[i]["classes"][0]["label"] == PRODUCT_LABELS[label]
            assert by_seq[i]["model"] == "shelf" and by_seq[i]["kind"] == "classification"
