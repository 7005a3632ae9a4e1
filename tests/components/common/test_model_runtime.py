"""The TFLite runtime wrapper against every shipped variant and against deliberately bad files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.model_errors import (
    BatchResizeError,
    ChecksumMismatchError,
    InputShapeError,
    ManifestError,
    ModelError,
    ModelFileMissingError,
    ModelParseError,
    NotAFlatbufferError,
    RuntimeUnavailableError,
    TensorSpecMismatchError,
    TruncatedModelError,
)
from components.common.model_manifest import Manifest, TensorSpec, sha256_file
from components.common.model_runtime import ModelRuntime, dequantize, load_interpreter_class, quantize

MANIFEST = Manifest.load()
VARIANTS = [(name, variant) for name in MANIFEST.models for variant in MANIFEST.variants(name)]
SENSOR_INT8 = MANIFEST.variant("sensor_anomaly", "int8")


@pytest.mark.parametrize(("name", "variant"), VARIANTS)
def test_each_variant_loads_checked_and_batches_consistently(name: str, variant: str) -> None:
    spec = MANIFEST.variant(name, variant)
    runtime = ModelRuntime.load(spec.path, expected=spec, num_threads=2)
    assert runtime.inputs == spec.inputs and runtime.outputs == spec.outputs
    x = np.random.default_rng(1).uniform(0.0, 1.0, (5, *spec.inputs[0].shape[1:])).astype(np.float32)
    batch = runtime.predict_all(x)
    assert runtime.batchable  # every shipped model is batch-first and resizable
    for k, out in enumerate(batch):
        one_by_one = np.concatenate([runtime.predict_all(x[i : i + 1])[k] for i in range(5)])
        assert out.shape == (5, *spec.outputs[k].shape[1:]) and out.dtype == np.float32
        assert np.allclose(out, one_by_one, atol=1e-5)
        if spec.outputs[k].shape[-1] != 4:  # probabilities (raw boxes may reach past the image)
            assert np.all((out >= 0.0) & (out <= 1.0))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ModelFileMissingError, match="does not exist"):
        ModelRuntime.load(tmp_path / "nope.tflite", expected=SENSOR_INT8)


def test_not_a_flatbuffer(tmp_path: Path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_text(json.dumps({"hello": "world"}))
    with pytest.raises(NotAFlatbufferError, match="not a TFLite flatbuffer"):
        ModelRuntime.load(bad)


def test_truncated_against_the_manifest(tmp_path: Path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(SENSOR_INT8.path.read_bytes()[: SENSOR_INT8.size_bytes // 2])
    with pytest.raises(TruncatedModelError, match="truncated"):
        ModelRuntime.load(bad, expected=SENSOR_INT8)


def test_truncated_without_a_manifest_is_refused_by_the_interpreter(tmp_path: Path) -> None:
    bad = tmp_path / "model.tflite"
    bad.write_bytes(SENSOR_INT8.path.read_bytes()[: SENSOR_INT8.size_bytes // 2])
    # Without a manifest size to hold it to, the file is not "truncated" but unloadable.
    with pytest.raises(ModelParseError, match="cannot load"):
        ModelRuntime.load(bad)


def test_wrong_sha256(tmp_path: Path) -> None:
    content = bytearray(SENSOR_INT8.path.read_bytes())
    content[-100] ^= 0xFF
    bad = tmp_path / "model.tflite"
    bad.write_bytes(bytes(content))
    with pytest.raises(ChecksumMismatchError, match=SENSOR_INT8.sha256):
        ModelRuntime.load(bad, expected=SENSOR_INT8)
    with pytest.raises(ChecksumMismatchError):
        ModelRuntime.load(SENSOR_INT8.path, expected=SENSOR_INT8, sha256="0" * 64)


def test_wrong_input_shape_against_the_manifest() -> None:
    # GIVEN the image model presented (with its own correct sha256) as the sensor model
    image_model = MANIFEST.variant("part_defect", "int8")
    # THEN its tensors are refused, naming the shapes
    with pytest.raises(TensorSpecMismatchError, match=r"shape \[1, 64, 64, 1\], expected \[1, 64, 5\]"):
        ModelRuntime.load(image_model.path, expected=SENSOR_INT8, sha256=sha256_file(image_model.path))


def test_wrong_input_given_at_run_time() -> None:
    runtime = ModelRuntime.load(SENSOR_INT8.path, expected=SENSOR_INT8)
    with pytest.raises(InputShapeError, match=r"expected \[n, 64, 5\]"):
        runtime.predict(np.zeros((1, 32, 5), np.float32))
    with pytest.raises(InputShapeError, match="dtype int32"):
        runtime.predict(np.zeros((1, 64, 5), np.int32))
    with pytest.raises(InputShapeError):
        runtime.predict(np.zeros((0, 64, 5), np.float32))
    # A raw int8 input is passed as is; after errors the runtime still works.
    assert runtime.predict(np.zeros((2, 64, 5), np.int8)).shape == (2, 1)
    assert runtime.predict(np.zeros((300, 64, 5), np.float32)).shape == (300, 1)


def test_every_model_error_is_a_model_error() -> None:
    for cls in (
        ChecksumMismatchError,
        TruncatedModelError,
        ModelParseError,
        BatchResizeError,
        NotAFlatbufferError,
        TensorSpecMismatchError,
    ):
        assert issubclass(cls, ModelError)


def test_runtime_choice() -> None:
    with pytest.raises(RuntimeUnavailableError, match="unknown TFLite runtime"):
        load_interpreter_class("onnx")
    assert load_interpreter_class("ai-edge-litert")[0] == "ai-edge-litert"
    if importlib.util.find_spec("tflite_runtime") is None:
        with pytest.raises(RuntimeUnavailableError, match="tflite-runtime"):
            load_interpreter_class("tflite-runtime")


def test_manifest_errors_name_what_was_expected(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="does not exist"):
        Manifest.load(tmp_path / "manifest.json")
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ManifestError, match="schema"):
        Manifest.load(tmp_path / "manifest.json")
    with pytest.raises(ManifestError, match="expected one of"):
        MANIFEST.variant("sensor_anomaly", "int4")
    with pytest.raises(ManifestError, match="expected one of"):
        MANIFEST.variant("toaster", "int8")


INT8 = TensorSpec("x", (1,), "int8", scale=0.0625, zero_point=-3)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=(-128 + 3) * 0.0625, max_value=(127 + 3) * 0.0625))
def test_quantization_round_trip_within_half_a_step(value: float) -> None:
    q = quantize(np.array([value], np.float32), INT8)
    assert q.dtype == np.int8
    assert abs(float(dequantize(q, INT8)[0]) - value) <= INT8.scale / 2 + 1e-6


def test_quantization_saturates_and_integers_round_trip_exactly() -> None:
    q = np.arange(-128, 128, dtype=np.int8)
    assert np.array_equal(quantize(dequantize(q, INT8), INT8), q)
    assert quantize(np.array([1e6, -1e6], np.float32), INT8).tolist() == [127, -128]


def test_shipped_int8_input_quantization_round_trips() -> None:
    spec = SENSOR_INT8.inputs[0]
    x = np.random.default_rng(2).uniform(-4, 4, (100,)).astype(np.float32)
    assert np.max(np.abs(dequantize(quantize(x, spec), spec) - x)) <= spec.scale / 2 + 1e-6
