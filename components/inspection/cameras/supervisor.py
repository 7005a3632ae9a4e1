"""Keeps a camera delivering: reads with a stall timeout, reports failures, retries with back-off.

Reads happen on a reader thread of the supervisor's own (except for sources that only compute,
``Camera.may_stall = False``), so a read that never returns (an RTSP
stream gone quiet, a USB camera unplugged mid-frame) costs the inspection loop only the stall
timeout: the stuck reader is abandoned (its camera closed from another thread, which unblocks
most backends), and a new camera is built and opened after the back-off. Failures back off
exponentially (``backoffInitialSeconds`` doubling up to ``backoffMaxSeconds``); the loop waits
for :meth:`CameraSupervisor.wait_time` on its stop event instead of spinning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from components.common.logs import kv
from components.inspection.cameras.base import Camera, Frame
from components.inspection.config import CameraRetryConfig
from components.inspection.exceptions import CameraError, CameraExhaustedError, CameraStalledError

log = logging.getLogger(__name__)


class _Reader:
    """One camera and the thread that reads it, one frame per request."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self._cond = threading.Condition()
        self._requested = False
        self._result: tuple[Frame | None, BaseException | None] | None = None
        self._abandoned = False
        self._opened = False
        if camera.may_stall:
            self._thread = threading.Thread(target=self._run, name="inspection-camera", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._requested or self._abandoned)
                if self._abandoned:
                    return
                self._requested = False
            result: tuple[Frame | None, BaseException | None]
            try:
                if not self._opened:
                    self.camera.open()
                    self._opened = True
                result = (self.camera.read(), None)
            except Exception as err:  # any driver error is a camera failure, reported by the supervisor
                result = (None, err)
            with self._cond:
                if self._abandoned:
                    return
                self._result = result
                self._cond.notify_all()

    def read(self, timeout: float) -> Frame:
        if not self.camera.may_stall:
            return self._read_inline()
        with self._cond:
            self._result = None
            self._requested = True
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: self._result is not None, timeout):
                raise CameraStalledError(
                    f"{self.camera.description}: no frame within the {timeout:g} s stall timeout"
                )
            result = self._result
        assert result is not None
        frame, error = result
        if error is not None:
            if isinstance(error, CameraError):
                raise error
            raise CameraError(f"{self.camera.description}: {error!r}") from error
        assert frame is not None
        return frame

    def _read_inline(self) -> Frame:
        try:
            if not self._opened:
                self.camera.open()
                self._opened = True
            return self.camera.read()
        except CameraError:
            raise
        except Exception as err:
            raise CameraError(f"{self.camera.description}: {err!r}") from err

    def abandon(self) -> None:
        """Stop the thread and close the camera without waiting (a stuck read may never return)."""
        with self._cond:
            self._abandoned = True
            self._cond.notify_all()
        threading.Thread(target=self._close, name="inspection-camera-close", daemon=True).start()

    def _close(self) -> None:
        try:
            self.camera.close()
        except Exception as err:
            log.warning(kv(event="camera_close_failed", camera=self.camera.description, error=repr(err)))


class CameraSupervisor:
    """Frames from a camera built by ``make``, with failures turned into reports and retries.

    Args:
        make: builds a new (unopened) camera; called at start and after each failure.
        retry: stall timeout and back-off.
        clock: monotonic time, for the back-off.
    """

    def __init__(
        self,
        make: Callable[[], Camera],
        retry: CameraRetryConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._make = make
        self.retry = retry
        self._clock = clock
        self._reader: _Reader | None = None
        self._next_attempt = 0.0
        self.state = "starting"
        self.description = ""
        self.frames = 0
        self.failures = 0
        self.stalls = 0
        self.opens = 0
        self.consecutive_failures = 0
        self.last_error: str | None = None

    def wait_time(self) -> float:
        """Seconds until the camera may be tried again (0 when a grab would try now)."""
        if self.state == "exhausted":
            return self.retry.backoff_max_seconds
        return max(0.0, self._next_attempt - self._clock())

    def grab(self) -> Frame | None:
        """The next frame, or ``None`` while the camera is failing (see :meth:`wait_time`)."""
        if self.state == "exhausted" or self._clock() < self._next_attempt:
            return None
        if self._reader is None:
            try:
                camera = self._make()
            except CameraError as err:
                self._failed(err)
                return None
            self.description = camera.description
            self._reader = _Reader(camera)
            self.opens += 1
        try:
            frame = self._reader.read(self.retry.stall_timeout_seconds)
        except CameraExhaustedError as err:
            self._drop_reader()
            self.state = "exhausted"
            self.last_error = str(err)
            log.warning(kv(event="camera_exhausted", camera=self.description, error=err))
            return None
        except CameraStalledError as err:
            self.stalls += 1
            self._failed(err)
            return None
        except CameraError as err:
            self._failed(err)
            return None
        if self.consecutive_failures:
            log.info(kv(event="camera_recovered", camera=self.description, after=self.consecutive_failures))
        self.consecutive_failures = 0
        self.state = "ok"
        self.frames += 1
        return frame

    def _failed(self, err: CameraError) -> None:
        self._drop_reader()
        self.failures += 1
        self.consecutive_failures += 1
        delay = min(
            self.retry.backoff_initial_seconds * 2 ** (self.consecutive_failures - 1),
            self.retry.backoff_max_seconds,
        )
        self._next_attempt = self._clock() + delay
        self.state = "stalled" if isinstance(err, CameraStalledError) else "failing"
        self.last_error = str(err)
        log.warning(
            kv(
                event="camera_failed",
                camera=self.description,
                error=err,
                failures=self.consecutive_failures,
                retry_in_s=round(delay, 3),
            )
        )

    def _drop_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.abandon()

    def close(self) -> None:
        """Release the camera."""
        self._drop_reader()
        if self.state != "exhausted":
            self.state = "closed"

    def metrics(self) -> dict[str, Any]:
        """Counts for the health message."""
        return {
            "camera": self.description,
            "state": self.state,
            "frames": self.frames,
            "failures": self.failures,
            "stalls": self.stalls,
            "opens": self.opens,
            "consecutiveFailures": self.consecutive_failures,
            "lastError": self.last_error,
        }
