"""Detection boxes drawn into a copy of a frame, for the spooled image a person reviews."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from components.common.detections import Detection

HIGHLIGHT = (255, 40, 40)  # a detection that decided a reject
OTHER = (255, 220, 0)
THICKNESS = 1


def draw_boxes(
    image: np.ndarray, detections: Sequence[Detection], highlight: Sequence[Detection] = ()
) -> np.ndarray:
    """A copy of ``image`` (grey ``(H, W)`` or RGB ``(H, W, 3)`` uint8) with each box outlined.

    Boxes are normalised ``(ymin, xmin, ymax, xmax)``; a grey frame becomes RGB so the colours
    show. The original frame is left untouched.
    """
    out = np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image.copy()
    height, width = out.shape[:2]
    for detection in detections:
        colour = HIGHLIGHT if detection in highlight else OTHER
        ymin, xmin, ymax, xmax = detection.box
        top = int(np.clip(round(ymin * (height - 1)), 0, height - 1))
        bottom = int(np.clip(round(ymax * (height - 1)), 0, height - 1))
        left = int(np.clip(round(xmin * (width - 1)), 0, width - 1))
        right = int(np.clip(round(xmax * (width - 1)), 0, width - 1))
        t = THICKNESS
        out[top : top + t, left : right + 1] = colour
        out[max(bottom - t + 1, 0) : bottom + 1, left : right + 1] = colour
        out[top : bottom + 1, left : left + t] = colour
        out[top : bottom + 1, max(right - t + 1, 0) : right + 1] = colour
    return out
