"""Each shipped model variant, re-checked on freshly generated held-out data with the device runtime.

Fails when a variant scores below the manifest's figures (beyond a small tolerance), when the
file no longer matches the manifest, or when int8 quantization costs more F1 than the issue
allows. Never retrains.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from components.common.model_manifest import Manifest, sha256_file
from components.common.model_runtime import ModelRuntime
from models.heldout import HELDOUT, HeldOut, binary_metrics

TOLERANCE = 0.005
MANIFEST = Manifest.load()
VARIANTS = [(name, variant) for name in MANIFEST.models for variant in MANIFEST.variants(name)]


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
    metrics = binary_metrics(runtime.predict(data.x), data.y, spec.threshold)
    # THEN it is at least as good as the manifest says
    assert metrics["samples"] == spec.metrics["samples"]
    for key in ("accuracy", "precision", "recall", "f1"):
        assert metrics[key] >= spec.metrics[key] - TOLERANCE, (key, metrics[key], spec.metrics[key])


@pytest.mark.parametrize("name", MANIFEST.models)
def test_int8_f1_within_a_point_of_float32(name: str) -> None:
    float_f1 = MANIFEST.variant(name, "float32").metrics["f1"]
    int8_f1 = MANIFEST.variant(name, "int8").metrics["f1"]
    assert int8_f1 >= float_f1 - 0.01


@pytest.mark.parametrize("name", MANIFEST.models)
def test_variants_are_usefully_accurate(name: str) -> None:
    for variant in MANIFEST.variants(name):
        assert MANIFEST.variant(name, variant).metrics["f1"] >= 0.95, variant


@pytest.mark.parametrize("name", MANIFEST.models)
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
