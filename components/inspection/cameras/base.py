"""The one camera interface: open, read one frame, close.

A source raises :class:`~components.inspection.exceptions.CameraError` (or a subclass) when it
cannot deliver; :class:`~components.inspection.cameras.supervisor.CameraSupervisor` turns that
(and a read that never returns) into a reported failure and a retry with back-off.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np


@dataclass(slots=True)
class Frame:
    """One captured frame.

    ``image`` is ``(H, W)`` grayscale or ``(H, W, 3)`` RGB, uint8. ``captured`` is wall time and
    ``captured_perf`` a ``time.perf_counter()`` stamp taken as the frame became available, from
    which the decision latency is measured. ``defect`` is the ground truth where the source knows
    it (the synthetic camera): ``""`` for a good part, the defect kind otherwise, ``None`` unknown.
    """

    image: np.ndarray
    captured: float
    captured_perf: float
    index: int
    defect: str | None = None
    name: str | None = None

    @property
    def defective(self) -> bool | None:
        """Ground truth, where known."""
        return None if self.defect is None else self.defect != ""


class Camera(ABC):
    """A frame source. Not thread-safe: one thread reads it."""

    #: Short description for logs and health, e.g. ``synthetic(seed=7)``.
    description: str = "camera"
    #: False for a source that only computes (the synthetic camera): it is read on the caller's
    #: thread, without the stall watchdog's thread hand-off. Every device or file source stalls.
    may_stall: bool = True

    def open(self) -> None:  # noqa: B027 - sources with nothing to open keep the default
        """Acquire the device; raises ``CameraUnavailableError`` if it cannot be opened."""

    @abstractmethod
    def read(self) -> Frame:
        """The next frame; raises ``CameraError`` on failure, ``CameraExhaustedError`` at the end."""

    def close(self) -> None:  # noqa: B027 - sources with nothing to release keep the default
        """Release the device; safe to call more than once, and from another thread."""


def as_uint8_image(array: np.ndarray, where: str) -> np.ndarray:
    """Check a decoded image is ``(H, W)`` or ``(H, W, 3)`` uint8 (dropping an alpha channel).

    Raises:
        ValueError: naming ``where`` and the shape/dtype found.
    """
    if array.dtype != np.uint8:
        raise ValueError(f"{where}: expected 8-bit pixels, got {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"{where}: expected a grayscale or RGB image, got shape {list(array.shape)}")
    return array
