"""The device's connection to the cloud: online, offline or flaky, set by hand or by a schedule.

A schedule such as ``online:60,offline:30,flaky:60:0.2`` repeats forever: 60 s online, 30 s
offline, 60 s flaky dropping 20 % of calls, then online again. Time comes from an injectable
clock so tests drive it without sleeping.

Example:
    >>> schedule = parse_schedule("online:60,offline:30")
    >>> schedule.phase_at(75).state
    'offline'
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from localcore.cloud.exceptions import ScheduleError
from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.connectivity")

ONLINE, OFFLINE, FLAKY = "online", "offline", "flaky"
STATES = (ONLINE, OFFLINE, FLAKY)
DEFAULT_FLAKY_DROP = 0.2


@dataclass(frozen=True)
class Phase:
    """One step of a schedule: a state held for ``seconds``; ``drop`` is the flaky loss fraction."""

    state: str
    seconds: float
    drop: float = 0.0


@dataclass(frozen=True)
class ConnectivitySchedule:
    """A repeating list of phases."""

    phases: tuple[Phase, ...]

    @property
    def period(self) -> float:
        """Seconds for one pass through every phase."""
        return sum(phase.seconds for phase in self.phases)

    def phase_at(self, elapsed: float) -> Phase:
        """The phase in force ``elapsed`` seconds after the schedule started."""
        offset = elapsed % self.period
        for phase in self.phases:
            if offset < phase.seconds:
                return phase
            offset -= phase.seconds
        return self.phases[-1]  # float rounding at the very end of a period

    def next_change_after(self, elapsed: float) -> float:
        """Seconds from ``elapsed`` until the next phase boundary."""
        offset = elapsed % self.period
        boundary = 0.0
        for phase in self.phases:
            boundary += phase.seconds
            if offset < boundary:
                return boundary - offset
        return self.period - offset


def parse_schedule(text: str) -> ConnectivitySchedule:
    """Parse ``state:seconds[:drop],...``; :class:`ScheduleError` names the bad part."""
    if not text or not text.strip():
        raise ScheduleError(
            "connectivity schedule is empty; expected e.g. 'online:60,offline:30,flaky:60:0.2'"
        )
    phases: list[Phase] = []
    for index, part in enumerate(text.split(","), start=1):
        fields = [field.strip() for field in part.strip().split(":")]
        where = f"connectivity schedule part {index} ({part.strip()!r})"
        state = fields[0].lower()
        if state not in STATES:
            raise ScheduleError(f"{where}: state must be one of {', '.join(STATES)}")
        expected = 3 if state == FLAKY else 2
        if len(fields) not in ((2, 3) if state == FLAKY else (2,)):
            shape = "flaky:SECONDS[:DROP]" if state == FLAKY else f"{state}:SECONDS"
            raise ScheduleError(f"{where}: expected {shape}, got {len(fields)} fields (max {expected})")
        try:
            seconds = float(fields[1])
        except ValueError:
            raise ScheduleError(f"{where}: seconds must be a number, got {fields[1]!r}") from None
        if not seconds > 0 or seconds == float("inf"):
            raise ScheduleError(f"{where}: seconds must be a positive finite number, got {fields[1]!r}")
        drop = 0.0
        if state == FLAKY:
            drop = DEFAULT_FLAKY_DROP
            if len(fields) == 3:
                try:
                    drop = float(fields[2])
                except ValueError:
                    raise ScheduleError(
                        f"{where}: drop fraction must be a number, got {fields[2]!r}"
                    ) from None
                if not 0.0 <= drop <= 1.0:
                    raise ScheduleError(f"{where}: drop fraction must be between 0 and 1, got {fields[2]!r}")
        phases.append(Phase(state, seconds, drop))
    return ConnectivitySchedule(tuple(phases))


StateListener = Callable[[str, float], None]


class Connectivity:
    """The current connection state, shared by the MQTT adapter, the proxy and shadow sync."""

    def __init__(self, state: str = ONLINE, drop: float = 0.0, rng: random.Random | None = None) -> None:
        if state not in STATES:
            raise ScheduleError(f"connectivity state must be one of {', '.join(STATES)}, got {state!r}")
        self._state = state
        self._drop = drop
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._listeners: list[StateListener] = []

    @property
    def state(self) -> str:
        """``online``, ``offline`` or ``flaky``."""
        return self._state

    @property
    def drop(self) -> float:
        """The fraction of calls dropped while flaky."""
        return self._drop

    def is_up(self) -> bool:
        """Whether a connection can be made at all (online or flaky)."""
        return self._state != OFFLINE

    def should_drop(self) -> bool:
        """Whether this one call fails: always offline, never online, at random while flaky."""
        if self._state == OFFLINE:
            return True
        if self._state == FLAKY:
            with self._lock:
                return self._rng.random() < self._drop
        return False

    def set_state(self, state: str, drop: float | None = None) -> None:
        """Change state (``flaky`` keeps its drop fraction unless given); listeners hear changes."""
        if state not in STATES:
            raise ScheduleError(f"connectivity state must be one of {', '.join(STATES)}, got {state!r}")
        with self._lock:
            new_drop = (
                (drop if drop is not None else (self._drop or DEFAULT_FLAKY_DROP)) if state == FLAKY else 0.0
            )
            changed = (state, new_drop) != (self._state, self._drop)
            self._state, self._drop = state, new_drop
            listeners = list(self._listeners)
        if changed:
            log.info(kv(event="connectivity", state=state, drop=new_drop))
            for listener in listeners:
                try:
                    listener(state, new_drop)
                except Exception as err:  # one broken listener must not keep the others in the old state
                    log.exception(kv(event="connectivity_listener_failed", error=repr(err)))

    def add_listener(self, listener: StateListener) -> Callable[[], None]:
        """``listener(state, drop)`` on every change."""
        with self._lock:
            self._listeners.append(listener)

        def _remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return _remove


class ScheduleDriver:
    """Applies a schedule to a :class:`Connectivity` as the clock advances.

    ``tick()`` applies the phase for the clock's current time (tests call it directly with a fake
    clock); ``start()`` runs a thread that ticks at each phase boundary.
    """

    def __init__(
        self,
        connectivity: Connectivity,
        schedule: ConnectivitySchedule,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connectivity = connectivity
        self.schedule = schedule
        self._clock = clock
        self._started_at = clock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> float:
        """Apply the current phase; return seconds until the next change."""
        elapsed = self._clock() - self._started_at
        phase = self.schedule.phase_at(elapsed)
        self.connectivity.set_state(phase.state, phase.drop if phase.state == FLAKY else None)
        return self.schedule.next_change_after(elapsed)

    def start(self) -> None:
        """Tick in a background thread until :meth:`stop`."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="connectivity-schedule", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        wait = self.tick()
        while not self._stop.wait(min(wait, 1.0) + 0.001):
            wait = self.tick()

    def stop(self) -> None:
        """Stop ticking (the state stays where it is)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
