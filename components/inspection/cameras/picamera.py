"""The Raspberry Pi camera through ``picamera2`` (installed with the OS on Raspberry Pi OS)."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import Any

from components.inspection.cameras.base import Camera, Frame, as_uint8_image
from components.inspection.exceptions import CameraError, CameraUnavailableError


class Picamera2Camera(Camera):
    """One ``Picamera2`` in still/video configuration, RGB888 frames of ``width`` x ``height``."""

    def __init__(self, width: int, height: int, clock: Callable[[], float] = time.time) -> None:
        self.width = width
        self.height = height
        self._clock = clock
        self._camera: Any = None
        self._count = 0
        self.description = f"picamera2({width}x{height})"

    def open(self) -> None:
        """Start the camera.

        Raises:
            CameraUnavailableError: picamera2 is not installed or no camera is attached.
        """
        try:
            module = importlib.import_module("picamera2")
        except ImportError as err:
            raise CameraUnavailableError(
                f"the picamera2 camera needs the picamera2 package (Raspberry Pi OS: apt install python3-picamera2) ({err})"
            ) from err
        try:
            camera = module.Picamera2()
            config = camera.create_video_configuration(
                main={"size": (self.width, self.height), "format": "RGB888"}
            )
            camera.configure(config)
            camera.start()
        except Exception as err:  # the library raises RuntimeError, IndexError or OSError by case
            raise CameraUnavailableError(f"picamera2 cannot start the camera: {err!r}") from err
        self._camera = camera

    def read(self) -> Frame:
        """Capture the next frame (``RGB888`` is BGR in memory, as libcamera names it)."""
        if self._camera is None:
            self.open()
        try:
            array = self._camera.capture_array("main")
        except Exception as err:
            raise CameraError(f"picamera2 capture failed: {err!r}") from err
        try:
            image = as_uint8_image(array[:, :, 2::-1] if array.ndim == 3 else array, "picamera2")
        except ValueError as err:
            raise CameraError(str(err)) from err
        index = self._count
        self._count += 1
        return Frame(image=image, captured=self._clock(), captured_perf=time.perf_counter(), index=index)

    def close(self) -> None:
        """Stop and release the camera."""
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.stop()
            finally:
                camera.close()
