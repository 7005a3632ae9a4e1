"""The lifecycle states of a component, as the nucleus names them (NUC ``State.java``)."""

from __future__ import annotations

NEW, INSTALLED, STARTING, RUNNING, STOPPING, FINISHED, ERRORED, BROKEN = (
    "NEW",
    "INSTALLED",
    "STARTING",
    "RUNNING",
    "STOPPING",
    "FINISHED",
    "ERRORED",
    "BROKEN",
)
STATES = (NEW, INSTALLED, STARTING, RUNNING, STOPPING, FINISHED, ERRORED, BROKEN)
READY_STATES = frozenset((RUNNING, FINISHED))
COUNTED_ERROR_STATES = frozenset((NEW, STARTING, RUNNING))  # NUC Lifecycle.STATES_TO_ERRORED
