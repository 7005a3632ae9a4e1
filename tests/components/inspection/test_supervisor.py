"""A failing or stalled camera is reported and retried with back-off, never in a busy loop."""

from __future__ import annotations

import numpy as np

from components.inspection.cameras.supervisor import CameraSupervisor
from components.inspection.config import CameraRetryConfig

from .fakes import CameraMaker, ScriptedCamera

IMAGE = np.zeros((8, 8), dtype=np.uint8)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


RETRY = CameraRetryConfig(stall_timeout_seconds=0.2, backoff_initial_seconds=1.0, backoff_max_seconds=4.0)


def test_a_failing_camera_is_reported_and_reopened_with_exponential_back_off() -> None:
    clock = Clock()
    cameras = [ScriptedCamera(["fail"], name=f"cam{i}") for i in range(4)] + [ScriptedCamera([], then=IMAGE)]
    maker = CameraMaker(*cameras)
    supervisor = CameraSupervisor(maker, RETRY, clock=clock)

    waits = []
    for _ in range(4):
        assert supervisor.grab() is None
        assert supervisor.state == "failing" and "read failed" in (supervisor.last_error or "")
        waits.append(supervisor.wait_time())
        # Until the back-off has passed nothing is tried: no new camera, no read.
        made = len(maker.made)
        assert supervisor.grab() is None and len(maker.made) == made
        clock.now += waits[-1]
    assert waits == [1.0, 2.0, 4.0, 4.0]  # doubling, capped
    assert all(camera.closed.is_set() for camera in cameras[:4])  # each failed one was released

    frame = supervisor.grab()
    assert frame is not None and supervisor.state == "ok"
    metrics = supervisor.metrics()
    assert metrics["failures"] == 4 and metrics["consecutiveFailures"] == 0 and metrics["opens"] == 5
    assert supervisor.wait_time() == 0.0
    supervisor.close()


def test_a_camera_that_cannot_open_is_retried() -> None:
    clock = Clock()
    maker = CameraMaker(ScriptedCamera(["unavailable"]), ScriptedCamera([], then=IMAGE))
    supervisor = CameraSupervisor(maker, RETRY, clock=clock)
    assert supervisor.grab() is None and "no such device" in (supervisor.last_error or "")
    clock.now += supervisor.wait_time()
    assert supervisor.grab() is not None
    supervisor.close()


def test_a_stalled_read_is_abandoned_and_the_camera_closed_and_rebuilt() -> None:
    clock = Clock()
    stalling = ScriptedCamera(["stall"], name="stuck")
    maker = CameraMaker(stalling, ScriptedCamera([], then=IMAGE, name="fresh"))
    supervisor = CameraSupervisor(maker, RETRY, clock=clock)

    assert supervisor.grab() is None  # returns after the stall timeout, not never
    assert supervisor.state == "stalled" and supervisor.stalls == 1
    assert "no frame within the 0.2 s stall timeout" in (supervisor.last_error or "")
    assert stalling.closed.wait(5.0), "the stuck camera was not closed"
    clock.now += supervisor.wait_time()
    frame = supervisor.grab()
    assert frame is not None and supervisor.description == "fresh"
    supervisor.close()


def test_a_finite_source_that_ended_is_not_replayed(tmp_path: object) -> None:
    from components.inspection.exceptions import CameraExhaustedError

    class Ending(ScriptedCamera):
        def read(self):  # type: ignore[no-untyped-def]
            if self.reads >= 2:
                raise CameraExhaustedError("video ended")
            return super().read()

    clock = Clock()
    maker = CameraMaker(Ending([], then=IMAGE))
    supervisor = CameraSupervisor(maker, RETRY, clock=clock)
    assert supervisor.grab() is not None and supervisor.grab() is not None
    assert supervisor.grab() is None and supervisor.state == "exhausted"
    clock.now += 1000
    assert supervisor.grab() is None and len(maker.made) == 1
    assert supervisor.wait_time() == RETRY.backoff_max_seconds  # the loop waits, it does not spin


def test_a_computing_source_is_read_on_the_callers_thread() -> None:
    import threading

    from components.inspection.cameras.synthetic import SyntheticCamera

    readers_before = {t.ident for t in threading.enumerate() if t.name == "inspection-camera"}
    supervisor = CameraSupervisor(lambda: SyntheticCamera(1, 0.5), RETRY)
    frames = [supervisor.grab() for _ in range(3)]
    assert all(f is not None for f in frames) and supervisor.state == "ok"
    readers_after = {t.ident for t in threading.enumerate() if t.name == "inspection-camera"}
    assert readers_after <= readers_before  # no reader thread for a source that cannot stall
    supervisor.close()
