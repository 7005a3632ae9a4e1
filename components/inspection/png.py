"""A minimal PNG writer (8-bit grayscale or RGB) with the standard library's zlib.

The spool writes every defect image; this keeps that path free of an image library on the
device (Pillow is only needed by the folder camera). Filter type 0 on every row: part images are
small and the images are written off the hot path, so a smarter filter would buy little.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """Encode a ``(H, W)`` grayscale or ``(H, W, 3)`` RGB uint8 image as PNG bytes.

    Raises:
        ValueError: another shape or dtype.
    """
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"expected (H, W) or (H, W, 3) uint8, got {list(image.shape)} {image.dtype}")
    height, width = image.shape[:2]
    if height < 1 or width < 1:
        raise ValueError(f"expected a non-empty image, got {width}x{height}")
    colour_type = 0 if image.ndim == 2 else 2
    rows = np.ascontiguousarray(image).reshape(height, -1)
    raw = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    raw[:, 0] = 0  # filter type: none
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )
