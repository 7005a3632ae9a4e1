"""Camera frame (or image message) to model input, per the model card, into buffers allocated once per frame size.

Steps: crop (a view), resize to the input tensor's height and width (OpenCV's area
interpolation when ``cv2`` is importable, else nearest-neighbour sampling at pixel centres with
precomputed indices), the card's colour order (``rgb``, ``bgr``, or ``grey`` with ITU-R BT.601
weights), normalisation per channel (``a * x + b``: a ``range``, or ``mean``/``std``; ``raw``
passes pixel values through), for an int8/uint8 input tensor quantization with its scale and
zero point, and the card's layout (``nhwc`` or ``nchw``).

A card is the source of the normalisation; a preprocessing *name* (``part_image_v1``) is still
accepted, its affine map measured from the function in :mod:`components.common.preprocessing`
on probe images (and checked to be affine). Frames of a new size get their buffers on first
sight; after that the hot path allocates nothing of frame size.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

import numpy as np

from components.common.model_card import ImageInput, Normalisation
from components.common.model_errors import FrameError
from components.common.model_manifest import TensorSpec
from components.common.preprocessing import PREPROCESSORS


class CropConfig(Protocol):
    """The region of a frame the model looks at, in pixels (the inspection component's ``crop``)."""

    @property
    def x(self) -> int: ...
    @property
    def y(self) -> int: ...
    @property
    def width(self) -> int: ...
    @property
    def height(self) -> int: ...


# ITU-R BT.601 luma, as OpenCV's and Pillow's RGB to L conversions use.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def affine_normalization(name: str, size: tuple[int, int]) -> tuple[float, float]:
    """``(a, b)`` such that the manifest's preprocessing ``name`` maps a pixel ``x`` to ``a * x + b``.

    Raises:
        ValueError: no such preprocessing, or it is not one affine map for every pixel.
    """
    function: Any = PREPROCESSORS.get(name)
    if function is None:
        raise ValueError(f"unknown preprocessing {name!r}; expected one of {sorted(PREPROCESSORS)}")
    probe = np.empty((3, *size), dtype=np.uint8)
    probe[0], probe[1], probe[2] = 0, 255, 128
    try:
        out = np.asarray(function(probe), dtype=np.float64).reshape(3, -1)
    except (TypeError, ValueError) as err:
        raise ValueError(f"preprocessing {name!r} does not take (n, H, W) uint8 images: {err}") from err
    b = float(out[0, 0])
    a = (float(out[1, 0]) - b) / 255.0
    expected = a * np.array([0.0, 255.0, 128.0])[:, None] + b
    if not np.allclose(out, expected, rtol=1e-5, atol=1e-6):
        raise ValueError(f"preprocessing {name!r} is not an affine map of pixel values")
    return a, b


def card_normalisation(norm: Normalisation, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(a, b)`` such that a pixel ``x`` (0..255) becomes ``a * x + b``."""
    if norm.range is not None:
        low, high = norm.range
        a, b = np.full(channels, (high - low) / 255.0), np.full(channels, low)
    elif norm.mean is not None and norm.std is not None:
        mean = np.resize(np.asarray(norm.mean, dtype=np.float64), channels)
        std = np.resize(np.asarray(norm.std, dtype=np.float64), channels)
        a, b = 1.0 / std, -mean / std
    else:
        a, b = np.ones(channels), np.zeros(channels)
    return a.astype(np.float32), b.astype(np.float32)


def _nearest_indices(source: int, target: int) -> np.ndarray:
    return np.minimum(((np.arange(target) + 0.5) * source / target).astype(np.intp), source - 1)


class Preprocessor:
    """Turns frames into the model's input batch of one.

    Args:
        input_spec: the model's input tensor (``[1, H, W, C]``, or ``[1, C, H, W]`` for an
            ``nchw`` card; float32 or int8/uint8 quantized).
        image: the card's image input, or a preprocessing name (``part_image_v1``).
        crop: the part's region in the frame; ``None`` uses the whole frame.
        use_opencv: resize with OpenCV when ``None`` (default) and it is importable.

    Raises:
        ValueError: the input tensor does not fit the card, or the preprocessing is unknown.
    """

    def __init__(
        self,
        input_spec: TensorSpec,
        image: ImageInput | str,
        crop: CropConfig | None = None,
        use_opencv: bool | None = None,
    ) -> None:
        shape = tuple(input_spec.shape)
        layout = image.layout if isinstance(image, ImageInput) else "nhwc"
        if len(shape) != 4 or shape[0] != 1:
            raise ValueError(
                f"expected an image input tensor [1, H, W, C] or [1, C, H, W], got {list(shape)}"
            )
        height, width, channels = (
            (shape[1], shape[2], shape[3]) if layout == "nhwc" else (shape[2], shape[3], shape[1])
        )
        if channels not in (1, 3):
            raise ValueError(
                f"expected an image input tensor with 1 or 3 channels ({layout}), got {list(shape)}"
            )
        self.spec = input_spec
        self.height, self.width, self.channels = int(height), int(width), int(channels)
        self.layout = layout
        self.crop = crop
        raw = False
        if isinstance(image, ImageInput):
            self.colour = image.colour
            a, b = card_normalisation(image.normalisation, self.channels)
            raw = image.normalisation.raw
        else:
            self.colour = "grey" if self.channels == 1 else "rgb"
            a0, b0 = affine_normalization(image, (self.height, self.width))
            a, b = np.full(self.channels, a0, np.float32), np.full(self.channels, b0, np.float32)
        if (self.colour == "grey") != (self.channels == 1):
            raise ValueError(f"colour {self.colour!r} does not fit a tensor of {self.channels} channels")
        if input_spec.quantized and not raw:
            # Normalize and quantize in one multiply-add: q = x * a / s + (b / s + zero_point).
            self._a = a / input_spec.scale
            self._b = b / input_spec.scale + input_spec.zero_point
            info = np.iinfo(np.dtype(input_spec.dtype))
            self._limits: tuple[float, float] | None = (float(info.min), float(info.max))
        else:
            self._a, self._b, self._limits = a, b, None
        self._cv2: Any = None
        if use_opencv is not False:
            try:
                self._cv2 = importlib.import_module("cv2")
            except ImportError:
                if use_opencv:
                    raise
        self._work = np.empty((self.height, self.width, self.channels), dtype=np.float32)
        self._out = np.empty((1, *shape[1:]), dtype=np.dtype(input_spec.dtype))
        self._buffers: dict[tuple[int, ...], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    @property
    def uses_opencv(self) -> bool:
        """True when frames are resized by OpenCV."""
        return self._cv2 is not None

    def _cropped(self, image: np.ndarray) -> np.ndarray:
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
            raise FrameError(
                f"frame of shape {list(image.shape)} and dtype {image.dtype}: expected (H, W) or (H, W, 3) uint8"
            )
        crop = self.crop
        if crop is None:
            return image
        height, width = image.shape[:2]
        if crop.x + crop.width > width or crop.y + crop.height > height:
            raise FrameError(
                f"crop x={crop.x} y={crop.y} width={crop.width} height={crop.height} "
                f"does not fit a {width}x{height} frame"
            )
        return image[crop.y : crop.y + crop.height, crop.x : crop.x + crop.width]

    def _resized(self, region: np.ndarray) -> np.ndarray:
        """``region`` at the model's height and width (uint8, same channels), in a reused buffer."""
        h, w = region.shape[:2]
        if (h, w) == (self.height, self.width):
            return region
        key = region.shape
        buffers = self._buffers.get(key)
        if buffers is None:
            tail = region.shape[2:]
            buffers = (
                _nearest_indices(h, self.height),
                _nearest_indices(w, self.width),
                np.empty((self.height, w, *tail), dtype=np.uint8),
                np.empty((self.height, self.width, *tail), dtype=np.uint8),
            )
            self._buffers[key] = buffers
        rows, cols, partial, resized = buffers
        if self._cv2 is not None:
            # OpenCV takes row-strided views (a crop) but not reversed or strided pixels.
            contiguous_pixels = region.strides[-1] == region.itemsize and (
                region.ndim == 2 or region.strides[-2] == region.itemsize * region.shape[-1]
            )
            source = region if contiguous_pixels else np.ascontiguousarray(region)
            interpolation = self._cv2.INTER_AREA if h >= self.height else self._cv2.INTER_LINEAR
            self._cv2.resize(source, (self.width, self.height), dst=resized, interpolation=interpolation)
        else:
            np.take(region, rows, axis=0, out=partial)
            np.take(partial, cols, axis=1, out=resized)
        return resized

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """The model input for ``image``: ``(1, H, W, C)`` in the input tensor's dtype.

        The returned array is this preprocessor's buffer: valid until the next call.

        Raises:
            FrameError: the frame is not 8-bit grayscale/RGB, or the crop does not fit it.
        """
        resized = self._resized(self._cropped(image))
        work = self._work
        if resized.ndim == 3 and self.channels == 1:
            np.matmul(resized, LUMA, out=work[:, :, 0])
        elif resized.ndim == 2:
            work[:] = resized[:, :, None]
        elif self.channels == 1 or self.colour == "rgb":
            work[:] = resized
        else:
            work[:] = resized[:, :, ::-1]  # frames are RGB; the model reads BGR
        work *= self._a
        work += self._b
        if self._limits is not None:
            np.rint(work, out=work)
            np.clip(work, self._limits[0], self._limits[1], out=work)
        if self.layout == "nhwc":
            np.copyto(self._out[0], work, casting="unsafe")
        else:
            np.copyto(self._out[0], work.transpose(2, 0, 1), casting="unsafe")
        return self._out
