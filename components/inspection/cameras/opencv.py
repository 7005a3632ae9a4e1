"""USB cameras, RTSP/HTTP streams, video files and GStreamer pipelines through OpenCV.

``cv2`` (the ``camera`` extra, opencv-python-headless) is imported when the source is opened,
so the component runs without it for every other source. Frames come out of OpenCV as BGR and
are handed on as RGB (or grayscale, for a single-channel device).
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from typing import Any

from components.inspection.cameras.base import Camera, Frame, as_uint8_image
from components.inspection.exceptions import CameraError, CameraExhaustedError, CameraUnavailableError

_BACKENDS = {"any": "CAP_ANY", "gstreamer": "CAP_GSTREAMER", "ffmpeg": "CAP_FFMPEG", "v4l2": "CAP_V4L2"}


def import_cv2() -> Any:
    """The ``cv2`` module.

    Raises:
        CameraUnavailableError: OpenCV is not installed.
    """
    try:
        return importlib.import_module("cv2")
    except ImportError as err:
        raise CameraUnavailableError(
            f"the opencv camera needs OpenCV: install the 'camera' extra (opencv-python-headless) ({err})"
        ) from err


class OpenCvCamera(Camera):
    """One ``cv2.VideoCapture``.

    Args:
        device: a camera index (``"0"``), a URL, a file path or a GStreamer pipeline.
        backend: ``any``, ``gstreamer``, ``ffmpeg`` or ``v4l2``.
        width, height: requested capture size (a hint the driver may ignore).
    """

    def __init__(
        self,
        device: str,
        backend: str = "any",
        width: int | None = None,
        height: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.device = device
        self.backend = backend
        self.width = width
        self.height = height
        self._clock = clock
        self._capture: Any = None
        self._cv2: Any = None
        self._count = 0
        self._lock = threading.Lock()
        self.description = f"opencv({device},{backend})"

    def open(self) -> None:
        """Open the capture.

        Raises:
            CameraUnavailableError: OpenCV is missing or the device cannot be opened.
        """
        cv2 = self._cv2 = import_cv2()
        target: int | str = int(self.device) if self.device.isdigit() else self.device
        capture = cv2.VideoCapture(target, getattr(cv2, _BACKENDS[self.backend]))
        if not capture.isOpened():
            capture.release()
            raise CameraUnavailableError(f"opencv cannot open {self.device!r} with backend {self.backend}")
        if self.width is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height is not None:
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        with self._lock:
            self._capture = capture

    def read(self) -> Frame:
        """Grab and decode the next frame.

        Raises:
            CameraExhaustedError: a video file ended.
            CameraError: the device returned no frame.
        """
        if self._capture is None:
            self.open()
        capture = self._capture
        ok, image = capture.read()
        if not ok or image is None:
            frames = capture.get(self._cv2.CAP_PROP_FRAME_COUNT)
            if frames > 0 and self._count >= frames:
                raise CameraExhaustedError(f"opencv source {self.device!r} ended after {self._count} frames")
            raise CameraError(f"opencv source {self.device!r} returned no frame")
        if image.ndim == 3 and image.shape[2] == 3:
            image = self._cv2.cvtColor(image, self._cv2.COLOR_BGR2RGB)
        try:
            image = as_uint8_image(image, f"opencv source {self.device!r}")
        except ValueError as err:
            raise CameraError(str(err)) from err
        index = self._count
        self._count += 1
        return Frame(image=image, captured=self._clock(), captured_perf=time.perf_counter(), index=index)

    def close(self) -> None:
        """Release the capture (unblocks a read stuck in another thread on most backends)."""
        with self._lock:
            capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()
