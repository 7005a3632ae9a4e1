"""One thread per sensor: paces reads, retries failures with the driver's spacing, tracks faults.

The loop never spins: after a failed read it waits ``max(driver.min_interval_s,
min(interval, retry))`` before the next attempt (a DHT22 read every 10 s is retried 2.1 s after a
checksum error; a fast simulated sensor just moves on to its next sample), and once the sensor
is declared faulty it tries only every ``max(driver.min_interval_s, retry)``. Every wait is on
the stop event, so a stop request ends it at once (a read in progress finishes first: a DHT read
takes at most ~0.25 s).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from components.common.logs import kv
from components.common.wire_limits import clip_text
from components.sensing.config import SensorConfig
from components.sensing.drivers.base import SensorDriver, SensorSample
from components.sensing.exceptions import SensorReadError

log = logging.getLogger(__name__)

# Below this a wait costs more than it saves; a high-rate simulated sensor reads back to back.
_MIN_WAIT_S = 0.0005
# Falling further behind than this (a slow publish, a stalled machine) re-bases the schedule
# instead of reading in a burst to catch up.
_MAX_LAG_S = 1.0


#: Characters of a sensor's last error in the health message (a DHT's own are under 45).
HEALTH_ERROR_CHARS = 80


@dataclass
class SensorStats:
    """What the health message reports for one sensor."""

    reads: int = 0
    good: int = 0
    errors: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    last_error_ts: float | None = None
    last_good_ts: float | None = None
    faulted: bool = False

    def as_metrics(self) -> dict[str, object]:
        """The stats as health metrics (camelCase like the rest of the messages).

        ``lastError`` is cut to :data:`HEALTH_ERROR_CHARS`: the health message has a line per
        sensor and must stay within the wire limit; a failed reading carries the whole message.
        """
        error = self.last_error
        return {
            "reads": self.reads,
            "good": self.good,
            "errors": self.errors,
            "consecutiveFailures": self.consecutive_failures,
            "lastError": clip_text(error, HEALTH_ERROR_CHARS) if error is not None else None,
            "lastErrorTs": self.last_error_ts,
            "lastGoodTs": self.last_good_ts,
            "faulted": self.faulted,
        }


SampleHandler = Callable[[SensorConfig, SensorDriver, SensorSample, float], None]
FailureHandler = Callable[[SensorConfig, SensorDriver, SensorReadError, float], None]
FaultHandler = Callable[[SensorConfig, bool, str, float], None]


class SensorLoop:
    """Reads one sensor on its schedule until stopped.

    Args:
        config: the sensor's configuration.
        driver: its driver (the loop closes it when it stops).
        on_sample: called with each good sample and its timestamp.
        on_failure: called with each failed attempt.
        on_fault: called with ``(config, faulted, message, ts)`` when the sensor has failed for
            ``fault_after_seconds`` (``faulted=True``) and when it reads again (``False``).
        clock: wall time (timestamps and schedule).
    """

    def __init__(
        self,
        config: SensorConfig,
        driver: SensorDriver,
        on_sample: SampleHandler,
        on_failure: FailureHandler,
        on_fault: FaultHandler,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.driver = driver
        self.stats = SensorStats()
        self._on_sample = on_sample
        self._on_failure = on_failure
        self._on_fault = on_fault
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sensor-{config.id}", daemon=True)
        self._retry_s = max(driver.min_interval_s, min(config.interval_seconds, config.retry_seconds))
        self._faulted_retry_s = max(driver.min_interval_s, config.retry_seconds)

    def start(self) -> None:
        """Start reading in the loop's own thread."""
        self._thread.start()

    def stop(self, timeout: float = 7.0) -> None:
        """Ask the loop to end, wait up to ``timeout`` for it, then close the driver.

        The default outlasts a read (<= 0.25 s for a DHT) plus a publish waiting for room
        (5 s at most), so a replacement loop never publishes alongside the old one.
        """
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        try:
            self.driver.close()
        except Exception as err:
            log.warning(kv(event="driver_close_failed", sensor=self.config.id, error=repr(err)))

    def _run(self) -> None:
        clock = self._clock
        interval = self.config.interval_seconds
        started = clock()
        # The simulated driver has its own timeline starting at its construction; follow it so
        # readings are stamped where the simulator put them.
        next_due = started
        since_good = started
        while not self._stop.is_set():
            delay = next_due - clock()
            if delay > _MIN_WAIT_S and self._stop.wait(delay):
                break
            attempt = clock()
            self.stats.reads += 1
            try:
                sample = self.driver.read()
            except SensorReadError as err:
                self._failed(err, attempt, since_good)
                next_due = self._after_failure(next_due, attempt)
                continue
            except Exception as err:  # a driver bug must not kill the loop, nor spin it
                log.exception(kv(event="driver_failed", sensor=self.config.id))
                self._failed(SensorReadError(f"driver error: {err!r}"), attempt, since_good)
                next_due = self._after_failure(next_due, attempt)
                continue
            since_good = attempt
            self._succeeded(sample, attempt)
            next_due += interval
            now = clock()
            if now - next_due > _MAX_LAG_S:
                next_due = now

    def _after_failure(self, next_due: float, attempt: float) -> float:
        spacing = self._faulted_retry_s if self.stats.faulted else self._retry_s
        return max(next_due + self.config.interval_seconds, attempt + spacing)

    def _failed(self, err: SensorReadError, ts: float, since_good: float) -> None:
        stats = self.stats
        stats.errors += 1
        stats.consecutive_failures += 1
        stats.last_error = str(err)
        stats.last_error_ts = ts
        if self._stop.is_set():
            return
        try:
            self._on_failure(self.config, self.driver, err, ts)
        except Exception:
            log.exception(kv(event="failure_handler_failed", sensor=self.config.id))
        failing_for = ts - since_good
        if not stats.faulted and failing_for >= self.config.fault_after_seconds:
            stats.faulted = True
            message = (
                f"sensor {self.config.id} has not read successfully for {failing_for:.0f} s "
                f"({stats.consecutive_failures} attempts); last error: {err}"
            )
            log.warning(kv(event="sensor_fault", sensor=self.config.id, error=err))
            self._notify_fault(True, message, ts)

    def _succeeded(self, sample: SensorSample, ts: float) -> None:
        stats = self.stats
        stats.good += 1
        stats.consecutive_failures = 0
        stats.last_good_ts = ts
        if stats.faulted:
            stats.faulted = False
            log.info(kv(event="sensor_recovered", sensor=self.config.id))
            self._notify_fault(False, f"sensor {self.config.id} is reading again", ts)
        if self._stop.is_set():  # a replacement loop may already own this sensor's stream
            return
        try:
            self._on_sample(self.config, self.driver, sample, ts)
        except Exception:
            log.exception(kv(event="sample_handler_failed", sensor=self.config.id))

    def _notify_fault(self, faulted: bool, message: str, ts: float) -> None:
        try:
            self._on_fault(self.config, faulted, message, ts)
        except Exception:
            log.exception(kv(event="fault_handler_failed", sensor=self.config.id))
