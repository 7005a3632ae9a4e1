"""Each shipped model variant, re-checked on freshly generated held-out data with the device runtime.

Fails when a variant scores below the manifest's figures (beyond a small tolerance), when the
file no longer matches the manifest, or when int8 quantization costs more F1 than the issue
allows. Never retrains.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from components.common.model_interpret import interpret
from components.common.model_manifest import Manifest, sha256_file
from components.common.model_runtime import ModelRuntime
from models.data.shelf import PRODUCT_LABELS, classification_dataset, detection_dataset
from models.heldout import (
    HELDOUT,
    SHELF_DETECTOR_HELDOUT,
    SHELF_PRODUCTS_HELDOUT,
    HeldOut,
    binary_metrics,
    classification_metrics,
    detector_batch_metrics,
)
from models.train_shelf import to_unit_range

TOLERANCE = 0.005
MANIFEST = Manifest.load()
#: The binary (score) models, with the pruned variant; the shelf models are checked below.
BINARY = sorted(HELDOUT)
VARIANTS = [(name, variant) for name in BINARY for variant in MANIFEST.variants(name)]


@functools.cache
def heldout(name: str) -> HeldOut:
    return HELDOUT[name]()


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_variant_meets_its_manifest_figures(name: str, variant: str) -> None:
    # GIVEN a shipped variant and its manifest entry
    spec = MANIFEST.variant(name, variant)
    assert sha256_file(spec.path) == spec.sha256
    runtime = ModelRuntime.load(spec.path, expected=spec)
    # WHEN it scores the held-out set regenerated here
    data = heldout(name)
    assert spec.threshold is not None
    metrics = binary_metrics(runtime.predict(data.x), data.y, spec.threshold)
    # THEN it is at least as good as the manifest says
    assert metrics["samples"] == spec.metrics["samples"]
    for key in ("accuracy", "precision", "recall", "f1"):
        assert metrics[key] >= spec.metrics[key] - TOLERANCE, (key, metrics[key], spec.metrics[key])


@pytest.mark.parametrize("name", BINARY)
def test_int8_f1_within_a_point_of_float32(name: str) -> None:
    float_f1 = MANIFEST.variant(name, "float32").metrics["f1"]
    int8_f1 = MANIFEST.variant(name, "int8").metrics["f1"]
    assert int8_f1 >= float_f1 - 0.01


@pytest.mark.parametrize("name", BINARY)
def test_variants_are_usefully_accurate(name: str) -> None:
    for variant in MANIFEST.variants(name):
        assert MANIFEST.variant(name, variant).metrics["f1"] >= 0.95, variant


@pytest.mark.parametrize("name", BINARY)
def test_int8_is_smaller_and_pruned_compresses_better(name: str) -> None:
    entry = MANIFEST.model(name)["variants"]
    assert (
        entry["int8"]["size_bytes"] < entry["float32"]["size_bytes"] * 0.6
    )  # weights 4x, graph overhead not
    assert entry["pruned"]["gzip_bytes"] < entry["float32"]["gzip_bytes"]
    assert entry["pruned"]["sparsity"] >= 0.5


def test_int8_variant_takes_int8_input_and_float32_takes_float() -> None:
    for name in MANIFEST.models:
        assert MANIFEST.variant(name, "int8").inputs[0].dtype == "int8"
        assert MANIFEST.variant(name, "int8").inputs[0].scale > 0
        assert MANIFEST.variant(name, "float32").inputs[0].dtype == "float32"


def test_heldout_data_is_deterministic() -> None:
    a = HELDOUT["sensor_anomaly"]()
    assert np.array_equal(a.x, heldout("sensor_anomaly").x)
    assert np.array_equal(a.y, heldout("sensor_anomaly").y)


def test_the_manifest_lists_every_shipped_model() -> None:
    assert MANIFEST.models == sorted([*BINARY, "shelf_detector", "shelf_products"])


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_the_product_classifier_meets_its_manifest_figures(variant: str) -> None:
    # GIVEN the shipped classifier and its card (96x96 RGB, [-1, 1], four labels)
    spec = MANIFEST.variant("shelf_products", variant)
    card = MANIFEST.card("shelf_products")
    assert sha256_file(spec.path) == spec.sha256 and card.labels == PRODUCT_LABELS
    runtime = ModelRuntime.load(spec.path, expected=spec)
    # WHEN it classifies the regenerated held-out set through the host's interpretation
    images, labels = classification_dataset(**SHELF_PRODUCTS_HELDOUT)
    predictions = interpret(card, runtime.predict_all(to_unit_range(images)))
    top = np.array([PRODUCT_LABELS.index(p.classes[0][0]) for p in predictions])
    metrics = classification_metrics(top, labels, len(PRODUCT_LABELS))
    # THEN it is as good as the manifest says, and usefully accurate
    for key in ("accuracy", "macro_f1", "min_recall"):
        assert metrics[key] >= spec.metrics[key] - TOLERANCE, (key, metrics[key], spec.metrics[key])
    assert metrics["accuracy"] >= 0.95


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_the_product_detector_meets_its_manifest_figures(variant: str) -> None:
    # GIVEN the shipped detector: two outputs (boxes, per-class scores), NMS by the host
    spec = MANIFEST.variant("shelf_detector", variant)
    card = MANIFEST.card("shelf_detector")
    assert sha256_file(spec.path) == spec.sha256 and len(spec.outputs) == 2
    runtime = ModelRuntime.load(spec.path, expected=spec)
    # WHEN it detects on the regenerated held-out scenes
    images, boxes, classes = detection_dataset(**SHELF_DETECTOR_HELDOUT)
    predictions = interpret(card, runtime.predict_all(to_unit_range(images)))
    metrics = detector_batch_metrics(predictions, boxes, classes)
    # THEN precision, recall and counting are as the manifest says
    for key in ("precision", "recall", "f1", "count_accuracy"):
        assert metrics[key] >= spec.metrics[key] - TOLERANCE, (key, metrics[key], spec.metrics[key])
    assert metrics["f1"] >= 0.9


@pytest.mark.parametrize("name", ["shelf_products", "shelf_detector"])
def test_shelf_int8_variants_are_smaller_and_as_good(name: str) -> None:
    f32, i8 = MANIFEST.variant(name, "float32"), MANIFEST.variant(name, "int8")
    assert i8.size_bytes < f32.size_bytes * 0.6 and f32.size_bytes < 256 * 1024
    key = "accuracy" if name == "shelf_products" else "f1"
    assert i8.metrics[key] >= f32.metrics[key] - 0.01
