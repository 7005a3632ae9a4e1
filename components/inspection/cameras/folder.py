"""Frames from PNG/JPEG files in a folder, in name order, once or looping.

Decoding uses Pillow (the ``camera`` extra), imported when the source is opened: the default
synthetic camera and the spool's PNG writer need only numpy and zlib, so a device inspecting
with a real camera does not carry an image library it never calls.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from components.common.logs import kv
from components.inspection.cameras.base import Camera, Frame, as_uint8_image
from components.inspection.exceptions import CameraError, CameraExhaustedError, CameraUnavailableError

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg"})
log = logging.getLogger(__name__)


class FolderCamera(Camera):
    """Reads the folder's images in name order; with ``loop`` it starts again after the last.

    The listing is taken at :meth:`open`, so files added later appear on the next open (a
    looping source re-lists each time it wraps).
    """

    def __init__(self, path: str | Path, loop: bool = True, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.loop = loop
        self._clock = clock
        self._files: list[Path] = []
        self._position = 0
        self._count = 0
        self._image: Any = None
        self.skipped = 0
        self.description = f"folder({self.path},loop={loop})"

    def open(self) -> None:
        """List the folder; raises ``CameraUnavailableError`` if it is missing, empty or Pillow is."""
        try:
            self._image = importlib.import_module("PIL.Image")
        except ImportError as err:
            raise CameraUnavailableError(
                f"the folder camera needs Pillow: install the 'camera' extra ({err})"
            ) from err
        self._files = self._list()
        self._position = 0

    def _list(self) -> list[Path]:
        if not self.path.is_dir():
            raise CameraUnavailableError(f"camera folder {self.path} does not exist or is not a folder")
        files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise CameraUnavailableError(
                f"camera folder {self.path} has no image files (expected {sorted(IMAGE_SUFFIXES)})"
            )
        return files

    def read(self) -> Frame:
        """Decode the next file; files that cannot be decoded are logged, counted and skipped.

        Raises:
            CameraExhaustedError: past the last file without ``loop``.
            CameraError: no file of a whole pass over the folder could be decoded.
        """
        if self._image is None:
            self.open()
        failures = 0
        while True:
            if self._position >= len(self._files):
                if not self.loop:
                    raise CameraExhaustedError(
                        f"camera folder {self.path}: all {len(self._files)} images read"
                    )
                self._files = self._list()
                self._position = 0
            path = self._files[self._position]
            self._position += 1
            try:
                array = self._decode(path)
                break
            except CameraError as err:
                # One bad file is not a camera failure: reopening would replay the folder from
                # its first file. Skip it; only a folder of nothing but bad files fails.
                self.skipped += 1
                failures += 1
                log.warning(kv(event="camera_file_skipped", error=err))
                if failures >= len(self._files):
                    raise CameraError(
                        f"camera folder {self.path}: none of {failures} files can be decoded"
                    ) from err
        index = self._count
        self._count += 1
        return Frame(
            image=array,
            captured=self._clock(),
            captured_perf=time.perf_counter(),
            index=index,
            name=path.name,
        )

    def _decode(self, path: Path) -> np.ndarray:
        try:
            with self._image.open(path) as opened:
                converted = opened.convert("L" if opened.mode in ("L", "1", "LA") else "RGB")
                return as_uint8_image(np.asarray(converted), str(path))
        except (OSError, ValueError) as err:
            raise CameraError(f"camera folder: cannot decode {path}: {err}") from err
