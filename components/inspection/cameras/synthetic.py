"""The synthetic camera: part images from the model pipeline's generator, ground truth included."""

from __future__ import annotations

import time
from collections.abc import Callable

from components.inspection.cameras.base import Camera, Frame
from components.inspection.cameras.parts import PartGenerator


class SyntheticCamera(Camera):
    """Renders part ``n`` of stream ``seed`` on the n-th read (``defect_rate`` of them defective).

    Rendering is computation only, so it cannot stall: read on the inspection thread.

    Args:
        seed: the generator's stream.
        defect_rate: share of defective parts.
        start: first part index.
        clock: wall time.
    """

    def __init__(
        self, seed: int, defect_rate: float, start: int = 0, clock: Callable[[], float] = time.time
    ) -> None:
        self._generator = PartGenerator(seed, defect_rate, start)
        self._clock = clock
        self.description = f"synthetic(seed={seed},defectRate={defect_rate})"
        self.may_stall = False

    def read(self) -> Frame:
        """Render the next part."""
        part = self._generator.next()
        return Frame(
            image=part.image,
            captured=self._clock(),
            captured_perf=time.perf_counter(),
            index=part.index,
            defect=part.defect or "",
        )
