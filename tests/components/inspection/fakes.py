"""Real fakes for the inspection tests: a scripted camera, a disk with a set free space, a
subscriber in memory, and a ``digitalio``/``board`` pair as modules (the recording publisher and
``wait_until`` are ``tests.components.rig``'s)."""

from __future__ import annotations

import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.inspection.cameras.base import Camera, Frame
from components.inspection.exceptions import CameraError, CameraUnavailableError
from tests.components.rig import RecordingPublisher as RecordingPublisher  # re-exported for the unit tests
from tests.components.rig import wait_until as wait_until


class ScriptedCamera(Camera):
    """Plays a script: an ndarray is a frame, ``"fail"`` a read error, ``"stall"`` a read that
    blocks until the camera is closed, ``"unavailable"`` an open that fails. Past the script it
    repeats ``then`` (a frame) forever."""

    def __init__(self, script: list[Any], then: np.ndarray | None = None, name: str = "scripted") -> None:
        self.script = list(script)
        self.then = then
        self.description = name
        self.opened = 0
        self.closed = threading.Event()
        self.reads = 0

    def open(self) -> None:
        if self.script and isinstance(self.script[0], str) and self.script[0] == "unavailable":
            self.script.pop(0)
            raise CameraUnavailableError(f"{self.description}: no such device")
        self.opened += 1

    def read(self) -> Frame:
        self.reads += 1
        step: Any = self.script.pop(0) if self.script else self.then
        if isinstance(step, str) and step == "fail":
            raise CameraError(f"{self.description}: read failed")
        if isinstance(step, str) and step == "stall":
            self.closed.wait(30.0)
            raise CameraError(f"{self.description}: closed while reading")
        if step is None:
            raise CameraError(f"{self.description}: script ended")
        return Frame(
            image=step,
            captured=time.time(),
            captured_perf=time.perf_counter(),
            index=self.reads - 1,
            defect="",
        )

    def close(self) -> None:
        self.closed.set()


class CameraMaker:
    """A camera factory handing out the given cameras in order (the last one again after that)."""

    def __init__(self, *cameras: Camera) -> None:
        self.cameras = list(cameras)
        self.made: list[Camera] = []

    def __call__(self, _config: Any = None) -> Camera:
        camera = self.cameras.pop(0) if len(self.cameras) > 1 else self.cameras[0]
        self.made.append(camera)
        return camera


@dataclass
class FakeDiskUsage:
    total: int
    used: int
    free: int


class FakeDisk:
    """``shutil.disk_usage`` of a disk whose free space the test sets, minus what the spool holds."""

    def __init__(self, free: int, spool_dir: Any = None) -> None:
        self.base_free = free
        self.spool_dir = spool_dir

    def __call__(self, path: Any) -> FakeDiskUsage:
        held = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        free = self.base_free - held
        return FakeDiskUsage(total=10**12, used=10**12 - free, free=free)


class Subscriptions:
    """``subscribe(topic, handler)`` in memory: ``deliver(topic, payload)`` calls the handlers."""

    class _Handle:
        def __init__(self, owner: Subscriptions, topic: str, handler: Callable[[Any], None]) -> None:
            self.owner, self.topic, self.handler = owner, topic, handler

        def close(self) -> None:
            self.owner.handlers[self.topic].remove(self.handler)

    def __init__(self) -> None:
        self.handlers: dict[str, list[Callable[[Any], None]]] = {}

    def __call__(self, topic: str, handler: Callable[[Any], None]) -> Subscriptions._Handle:
        self.handlers.setdefault(topic, []).append(handler)
        return Subscriptions._Handle(self, topic, handler)

    def deliver(self, topic: str, payload: Any) -> None:
        for handler in list(self.handlers.get(topic, [])):
            handler(payload)


def make_digitalio_and_board(*pins: str) -> tuple[types.ModuleType, types.ModuleType, list[Any]]:
    """``digitalio`` and ``board`` modules; the returned list collects every pin's value changes."""
    board = types.ModuleType("board")
    for pin in pins:
        setattr(board, pin, f"pin:{pin}")
    changes: list[Any] = []
    digitalio = types.ModuleType("digitalio")

    class Direction:
        OUTPUT = "output"
        INPUT = "input"

    class DigitalInOut:
        def __init__(self, pin: Any) -> None:
            self.pin = pin
            self.direction = Direction.INPUT
            self._value = False
            self.released = False

        @property
        def value(self) -> bool:
            return self._value

        @value.setter
        def value(self, on: bool) -> None:
            if self.released:
                raise RuntimeError("pin released")
            self._value = on
            changes.append((self.pin, on))

        def deinit(self) -> None:
            self.released = True

    digitalio.Direction = Direction  # type: ignore[attr-defined]
    digitalio.DigitalInOut = DigitalInOut  # type: ignore[attr-defined]
    return digitalio, board, changes
