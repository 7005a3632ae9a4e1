"""Preprocessing against the manifest's input spec: float and int8 inputs, crop, resize, colour,
and buffers reused from frame to frame."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from components.common.image_preprocess import Preprocessor, affine_normalization
from components.common.model_manifest import TensorSpec
from components.common.model_runtime import quantize
from components.common.preprocessing import PART_IMAGE_V1, part_images_v1
from components.inspection.cameras.parts import PartGenerator
from components.inspection.config import CropConfig
from components.inspection.exceptions import FrameError

FLOAT_INPUT = TensorSpec(name="image", shape=(1, 64, 64, 1), dtype="float32")
# The kind of input tensor full-integer quantization gives an image model scaled to [0, 1].
INT8_INPUT = TensorSpec(name="image", shape=(1, 64, 64, 1), dtype="int8", scale=1 / 255, zero_point=-128)
PARTS = np.stack([PartGenerator(5, 0.5).part(i).image for i in range(6)])


def test_normalization_is_read_from_the_models_own_preprocessing() -> None:
    a, b = affine_normalization(PART_IMAGE_V1, (64, 64))
    assert a == pytest.approx(1 / 255) and b == pytest.approx(0.0)
    with pytest.raises(ValueError, match="unknown preprocessing 'nope'"):
        affine_normalization("nope", (64, 64))
    with pytest.raises(ValueError, match="does not take"):
        affine_normalization("sensor_window_v1", (64, 64))  # wrong kind of input altogether


def test_float_input_equals_the_training_preprocessing() -> None:
    pre = Preprocessor(FLOAT_INPUT, PART_IMAGE_V1, use_opencv=False)
    expected = part_images_v1(PARTS)
    for image, want in zip(PARTS, expected, strict=True):
        got = pre(image)
        assert got.shape == (1, 64, 64, 1) and got.dtype == np.float32
        np.testing.assert_allclose(got[0], want, rtol=1e-6, atol=1e-7)


def test_int8_input_equals_quantizing_the_training_preprocessing() -> None:
    pre = Preprocessor(INT8_INPUT, PART_IMAGE_V1, use_opencv=False)
    expected = quantize(part_images_v1(PARTS), INT8_INPUT)
    for image, want in zip(PARTS, expected, strict=True):
        got = pre(image)
        assert got.dtype == np.int8
        # One step of rounding difference at most (x*a/s+b vs (x*a)/s then +zp in float32).
        assert np.abs(got[0].astype(int) - want.astype(int)).max() <= 1
    assert pre(np.full((64, 64), 255, np.uint8)).max() == 127
    assert pre(np.zeros((64, 64), np.uint8)).min() == -128


def test_buffers_are_reused_frame_after_frame() -> None:
    pre = Preprocessor(
        INT8_INPUT, PART_IMAGE_V1, crop=CropConfig(x=10, y=5, width=128, height=128), use_opencv=False
    )
    frame = np.random.default_rng(0).integers(0, 256, (200, 300, 3), dtype=np.uint8)
    first = pre(frame)
    buffers = dict(pre._buffers)
    second = pre(frame[::-1].copy())
    assert second is first  # the same output buffer
    assert pre._buffers.keys() == buffers.keys()
    assert all(a is b for a, b in zip(pre._buffers[(128, 128, 3)], buffers[(128, 128, 3)], strict=True))


def test_crop_resize_and_grayscale_with_numpy() -> None:
    pre = Preprocessor(
        FLOAT_INPUT, PART_IMAGE_V1, crop=CropConfig(x=4, y=2, width=128, height=128), use_opencv=False
    )
    rgb = np.zeros((140, 140, 3), dtype=np.uint8)
    # A part image blown up 2x, in pure green, placed at the crop.
    part = PARTS[0]
    rgb[2:130, 4:132, 1] = np.repeat(np.repeat(part, 2, axis=0), 2, axis=1)
    got = pre(rgb)[0, :, :, 0]
    # Nearest sampling of a 2x blow-up gives the part back; green's luma weight is 0.587.
    np.testing.assert_allclose(got, part * 0.587 / 255, rtol=1e-5, atol=1e-6)


def test_a_grayscale_frame_feeds_a_colour_model() -> None:
    colour = TensorSpec(name="image", shape=(1, 64, 64, 3), dtype="float32")
    pre = Preprocessor(colour, PART_IMAGE_V1, use_opencv=False)
    got = pre(PARTS[1])
    for channel in range(3):
        np.testing.assert_allclose(got[0, :, :, channel], PARTS[1] / 255, rtol=1e-6)


@pytest.mark.skipif(importlib.util.find_spec("cv2") is None, reason="OpenCV is not installed")
def test_opencv_resize_agrees_on_a_clean_downscale() -> None:
    pre_cv = Preprocessor(FLOAT_INPUT, PART_IMAGE_V1, use_opencv=True)
    assert pre_cv.uses_opencv
    blown = np.repeat(np.repeat(PARTS[2], 2, axis=0), 2, axis=1)
    np.testing.assert_allclose(pre_cv(blown)[0, :, :, 0], PARTS[2] / 255, rtol=1e-5, atol=1e-6)
    # A reversed-channel view (how picamera2's BGR is handed on) is accepted too.
    bgr = np.stack([blown] * 3, axis=-1)
    np.testing.assert_allclose(pre_cv(bgr[:, :, ::-1])[0, :, :, 0], PARTS[2] / 255, rtol=1e-4, atol=1e-3)


def test_bad_frames_and_specs_are_clear_errors() -> None:
    pre = Preprocessor(
        FLOAT_INPUT, PART_IMAGE_V1, crop=CropConfig(x=50, y=0, width=64, height=64), use_opencv=False
    )
    with pytest.raises(FrameError, match="does not fit a 100x64 frame"):
        pre(np.zeros((64, 100), np.uint8))
    with pytest.raises(FrameError, match="expected \\(H, W\\) or \\(H, W, 3\\) uint8"):
        pre(np.zeros((64, 128), np.float32))
    with pytest.raises(ValueError, match="expected an image input tensor"):
        Preprocessor(TensorSpec(name="w", shape=(1, 64, 5), dtype="float32"), PART_IMAGE_V1)


def test_a_cards_colour_order_layout_and_normalisation_are_applied() -> None:
    from components.common.model_card import ImageInput, Normalisation

    # GIVEN an RGB frame whose channels differ, and a BGR, NCHW, mean/std card on a 2x2 input
    frame = np.zeros((2, 2, 3), dtype=np.uint8)
    frame[..., 0], frame[..., 1], frame[..., 2] = 10, 20, 30
    card = ImageInput(
        colour="bgr", layout="nchw", normalisation=Normalisation(mean=(0.0, 10.0, 20.0), std=(1.0, 2.0, 5.0))
    )
    pre = Preprocessor(TensorSpec("x", (1, 3, 2, 2), "float32"), card, use_opencv=False)
    # WHEN it is preprocessed
    out = pre(frame)
    # THEN channels come first, blue first, each standardised with its own mean and std
    assert out.shape == (1, 3, 2, 2)
    assert out[0, :, 0, 0].tolist() == [30.0, (20.0 - 10.0) / 2.0, (10.0 - 20.0) / 5.0]


def test_raw_normalisation_feeds_a_uint8_input_the_pixels_themselves() -> None:
    from components.common.model_card import ImageInput, Normalisation

    spec = TensorSpec("x", (1, 4, 4, 3), "uint8", scale=0.0078125, zero_point=128)
    pre = Preprocessor(spec, ImageInput(normalisation=Normalisation(raw=True)), use_opencv=False)
    frame = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    out = pre(frame)
    assert out.dtype == np.uint8 and np.array_equal(out[0], frame)


def test_a_range_card_on_an_int8_input_quantizes_like_the_runtime() -> None:
    from components.common.model_card import ImageInput, Normalisation

    spec = TensorSpec("x", (1, 8, 8, 3), "int8", scale=2.0 / 255.0, zero_point=0)
    pre = Preprocessor(spec, ImageInput(normalisation=Normalisation(range=(-1.0, 1.0))), use_opencv=False)
    frame = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    expected = quantize(frame.astype(np.float32) * (2.0 / 255.0) - 1.0, spec)
    assert np.abs(pre(frame)[0].astype(int) - expected.astype(int)).max() <= 1
