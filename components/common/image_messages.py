"""Image messages (``edgebundle.image.v1``) to and from numpy pixel arrays.

Apart from :mod:`components.common.messages` because it needs numpy: sensing and sync import the
message schemas and run without numpy, and their device artifacts carry only what they import.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from components.common.exceptions import MessageError
from components.common.messages import IMAGE_V1, MAX_IMAGE_BYTES, ImageMessage


def image_message(
    source: str, seq: int, ts: float, image: Any, *, part_id: str | None = None
) -> dict[str, Any]:
    """Build an image message from an ``(H, W)`` or ``(H, W, 3)`` uint8 array (see :class:`ImageMessage`)."""
    pixels = np.ascontiguousarray(image, dtype=np.uint8)
    if pixels.nbytes > MAX_IMAGE_BYTES:
        raise ValueError(
            f"image of {pixels.nbytes} bytes: more than {MAX_IMAGE_BYTES} do not fit one IPC message"
        )
    message: dict[str, Any] = {
        "schema": IMAGE_V1,
        "source": source,
        "seq": seq,
        "ts": ts,
        "width": int(pixels.shape[1]),
        "height": int(pixels.shape[0]),
        "channels": 1 if pixels.ndim == 2 else int(pixels.shape[2]),
        "encoding": "raw",
        "data": base64.b64encode(pixels.tobytes()).decode("ascii"),
    }
    if part_id is not None:
        message["partId"] = part_id
    return message


def image_pixels(message: ImageMessage) -> Any:
    """The ``(H, W)`` or ``(H, W, 3)`` uint8 array of an image message.

    Raises:
        MessageError: ``data`` is not base64, or not ``height * width * channels`` bytes.
    """
    if len(message.data) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise MessageError(f"{IMAGE_V1}: field 'data': more than {MAX_IMAGE_BYTES} bytes of pixels")
    try:
        raw = base64.b64decode(message.data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise MessageError(f"{IMAGE_V1}: field 'data': not base64 ({err})") from err
    expected = message.height * message.width * message.channels
    if expected > MAX_IMAGE_BYTES or len(raw) != expected:
        raise MessageError(
            f"{IMAGE_V1}: field 'data': {len(raw)} bytes, expected height*width*channels = {expected}"
        )
    pixels = np.frombuffer(raw, dtype=np.uint8)
    shape = (message.height, message.width) if message.channels == 1 else (message.height, message.width, 3)
    return pixels.reshape(shape)
