"""One component's lifecycle, as the nucleus moves it (reference section 5, NUC ``Lifecycle.java``).

NEW -> (HARD dependencies RUNNING or FINISHED) -> Install -> INSTALLED -> STARTING ->
  Startup: RUNNING when it exits 0 or the component reports RUNNING (UpdateState);
  Run: RUNNING while it runs, exit 0 -> FINISHED, otherwise ERRORED;
  neither: FINISHED.
ERRORED -> Recover -> back-off -> start again (reinstall if it failed in NEW). The third error
from the same state within ``error_reset_seconds`` (nucleus: 3600 s) makes it BROKEN; the
nucleus' list of errors for a state clears on any non-ERRORED move out of that state.
Stop: STOPPING -> Shutdown (killed after its Timeout) -> SIGTERM the step's process group,
SIGKILL after ``stop_grace`` -> FINISHED.

Every step runs in its own process group, on this supervisor's thread; nothing a component does
(crash, hang, flood of output) can block another component or the core.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from localcore.logfmt import kv
from localcore.runner.launch import LaunchContext, SupervisorSettings
from localcore.runner.process import StepProcess, end_process_group
from localcore.runner.states import (
    BROKEN,
    COUNTED_ERROR_STATES,
    ERRORED,
    FINISHED,
    INSTALLED,
    NEW,
    READY_STATES,
    RUNNING,
    STARTING,
    STATES,
    STOPPING,
)
from localcore.runner.steps import BOOTSTRAP_OK_CODES, DEFAULT_TIMEOUTS, StepRunner

# Imported from here by the runner, the core and tests: the supervisor's public vocabulary.
__all__ = [
    "BROKEN",
    "COUNTED_ERROR_STATES",
    "ERRORED",
    "FINISHED",
    "INSTALLED",
    "NEW",
    "READY_STATES",
    "RUNNING",
    "STARTING",
    "STATES",
    "STOPPING",
    "ComponentSupervisor",
    "LaunchContext",
    "SupervisorSettings",
]

_log = logging.getLogger("localcore.runner.supervisor")


class ComponentSupervisor:
    """Runs one component on its own thread; commands come from other threads."""

    def __init__(
        self, context: LaunchContext, wake: threading.Condition, on_state: Callable[[str, str, str], None]
    ) -> None:
        """``wake`` is shared by every supervisor of a runner and notified on any state change;
        ``on_state(component, old, new)`` is told of each transition."""
        self.context = context
        self.name = context.recipe.name
        self.state = NEW
        self.restarts = 0
        self.last_exit_code: int | None = None
        self.status_detail = ""
        self._wake = wake
        self._on_state = on_state
        self._settings = context.settings
        self._errors: dict[str, list[float]] = defaultdict(list)
        self._core_stopping = False
        self._stop_requested = False
        self._restart_requested = False
        self._reported: str | None = None
        self._main: StepProcess | None = None
        self._background_group: int | None = None  # what a Startup step left running
        self._steps = StepRunner(context)
        self._thread = threading.Thread(target=self._run_guarded, name=f"supervisor-{self.name}", daemon=True)

    # --- commands (any thread) ---------------------------------------------------------------
    def start(self) -> None:
        """Start the supervisor thread."""
        self._thread.start()

    def shutdown(self) -> None:
        """Ask the component to stop for good (core shutdown); see :meth:`join`."""
        with self._wake:
            self._core_stopping = True
            self._wake.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the supervisor thread to end; whether it did."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def restart(self) -> tuple[bool, str]:
        """Restart the component (also un-BROKENs it, as a redeployment would)."""
        with self._wake:
            if self._core_stopping:
                return False, "the core is stopping"
            self._restart_requested = True
            self._wake.notify_all()
        return True, f"restart of {self.name} requested"

    def stop(self) -> tuple[bool, str]:
        """Stop the component until restarted (StopComponent)."""
        with self._wake:
            if self.state in (FINISHED, BROKEN):
                return True, f"{self.name} is already {self.state}"
            self._stop_requested = True
            self._wake.notify_all()
        return True, f"stop of {self.name} requested"

    def report_state(self, state: str) -> None:
        """UpdateState from the component itself: RUNNING or ERRORED."""
        with self._wake:
            self._reported = state.upper()
            self._wake.notify_all()

    # --- the lifecycle (supervisor thread) -------------------------------------------------------
    def _run_guarded(self) -> None:
        try:
            self._lifecycle()
        except Exception as err:  # the supervisor must never take the core down with it
            _log.exception(kv(event="supervisor_failed", component=self.name, error=err))
            self._kill_main()
            self._set_state(BROKEN, f"localcore error: {err}")

    def _lifecycle(self) -> None:
        phase = "install"
        while not self._core_stopping:
            if phase == "install":
                phase = self._install_phase()
            elif phase == "start":
                phase = self._start_phase()
            elif phase == "parked":
                phase = self._parked_phase()
            else:  # "exit"
                return
        self._stop_processes(final_state=None)

    def _install_phase(self) -> str:
        if self.state != NEW:
            self._set_state(NEW)
        if not self._wait_for_dependencies():
            return "exit"
        result = self._install()
        if result is None:
            return "exit"
        if not result:
            return self._errored(NEW)
        self._set_state(INSTALLED)
        return "start"

    def _start_phase(self) -> str:
        # After a restart (e.g. a HARD dependency failed) wait for the dependencies again.
        if not self._wait_for_dependencies():
            return "exit"
        with self._wake:
            self._restart_requested = False
            self._stop_requested = False
            self._reported = None
        outcome = self._start_and_watch()
        if outcome == "finished":
            self._set_state(FINISHED)
            return "parked"
        if outcome in ("errored-starting", "errored-running"):
            return self._errored(STARTING if outcome == "errored-starting" else RUNNING)
        if outcome == "stop":
            self._stop_processes(final_state=FINISHED)
            return "parked"
        if outcome == "restart":
            self._stop_processes(final_state=INSTALLED)
            self.restarts += 1
            return "start"
        return "exit"  # the core is stopping: _lifecycle stops the processes

    def _parked_phase(self) -> str:
        if not self._wait(lambda: self._restart_requested):
            return "exit"
        self.restarts += 1
        if self.state == BROKEN:
            self._errors.clear()
            return "install"
        self._set_state(INSTALLED)
        return "start"

    def _start_and_watch(self) -> str:
        lifecycle = self.context.recipe.lifecycle
        self._set_state(STARTING)
        step_name, step = ("startup", lifecycle.startup) if lifecycle.startup else ("run", lifecycle.run)
        if step is None:
            return "finished"
        try:
            self._main = self._steps.spawn(step_name, step)
        except OSError as err:
            self.context.output.info(f"{step_name}: cannot start: {err}")
            return "errored-starting"
        if step_name == "run":
            self._set_state(RUNNING)
        timeout = step.timeout if step_name == "run" else (step.timeout or DEFAULT_TIMEOUTS["startup"])
        deadline = None if timeout is None else time.monotonic() + timeout
        process: StepProcess | None = self._main
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._interrupted(), timeout=self._settings.poll_interval)
                if self._core_stopping:
                    return "exit"
                if self._restart_requested:
                    return "restart"
                if self._stop_requested:
                    return "stop"
                reported, self._reported = self._reported, None
            if reported == ERRORED:
                self.status_detail = "the component reported ERRORED"
                return "errored-starting" if self.state == STARTING else "errored-running"
            if reported == RUNNING and self.state == STARTING:
                self._set_state(RUNNING)
            if process is not None and process.returncode is not None:
                code = process.wait()
                self.last_exit_code = code
                self._main = None
                self.context.output.info(f"{step_name}: exited with code {code}")
                if step_name == "run":
                    if code == 0:
                        return "finished"
                    self.status_detail = f"Run exited with code {code}"
                    return "errored-running"
                if code != 0:
                    self.status_detail = f"Startup exited with code {code}"
                    return "errored-starting" if self.state == STARTING else "errored-running"
                # A Startup that exited 0: the component runs in the background, in that group.
                self._background_group = process.pid
                process = None
                if self.state == STARTING:
                    self._set_state(RUNNING)
            if (
                deadline is not None
                and time.monotonic() >= deadline
                and (step_name == "run" or self.state == STARTING)
            ):
                self.status_detail = f"{step_name.capitalize()} timed out after {timeout:g}s"
                self.context.output.info(self.status_detail)
                self._kill_main()
                return "errored-starting" if self.state == STARTING else "errored-running"

    def _wait_for_dependencies(self) -> bool:
        """Wait until every HARD dependency is RUNNING or FINISHED; False if the core stops first."""
        unready = self.context.unready_dependencies()
        if not unready:
            return True
        self.status_detail = f"waiting for {', '.join(unready)}"
        self.context.output.info(self.status_detail)
        ready = self._wait(lambda: not self.context.unready_dependencies())
        self.status_detail = ""
        return bool(ready)

    def _interrupted(self) -> bool:
        return (
            self._core_stopping
            or self._restart_requested
            or self._stop_requested
            or self._reported is not None
        )

    def _errored(self, from_state: str) -> str:
        now = time.monotonic()
        errors = self._errors[from_state]
        if errors and now - errors[-1] > self._settings.error_reset_seconds:
            errors.clear()
        errors.append(now)
        self._kill_main(graceful=True)
        self._end_background()
        if len(errors) >= self._settings.max_errors:
            self._set_state(BROKEN, self.status_detail)
            return "parked"
        self._set_state(ERRORED, self.status_detail)
        self._steps.run_aux("recover")
        delay = min(self._settings.backoff_max, self._settings.backoff_base * (2 ** (len(errors) - 1)))
        self.context.output.info(
            f"restarting in {delay:g}s (error {len(errors)} of {self._settings.max_errors} from {from_state})"
        )
        if self._wait(lambda: self._restart_requested, timeout=delay) is None:
            return "exit"
        self.restarts += 1
        return "install" if from_state == NEW else self._restart_from_errored()

    def _restart_from_errored(self) -> str:
        self._set_state(INSTALLED)
        return "start"

    def _install(self) -> bool | None:
        """Bootstrap then Install, each once per component version.

        True when done (or skipped), False on failure or timeout, None when aborted by a stop.
        """
        bootstrap = self._run_once("bootstrap", BOOTSTRAP_OK_CODES)
        if bootstrap is not True:
            return bootstrap
        return self._run_once("install", frozenset((0,)))

    def _run_once(self, name: str, ok_codes: frozenset[int]) -> bool | None:
        outcome, detail = self._steps.run_once(name, ok_codes, should_abort=lambda: self._core_stopping)
        if detail:
            self.status_detail = detail
        return outcome

    def _stop_processes(self, final_state: str | None) -> None:
        """STOPPING -> Shutdown step -> end the main process group -> ``final_state``."""
        if self.state in (FINISHED, BROKEN, NEW) and self._main is None:
            return
        self._set_state(STOPPING)
        self._steps.run_aux("shutdown")
        self._kill_main(graceful=True)
        self._end_background()
        self._set_state(final_state or FINISHED)

    def _end_background(self) -> None:
        if self._background_group is not None:
            if end_process_group(self._background_group, self._settings.stop_grace):
                self.context.output.info("startup: ended the processes it left running")
            self._background_group = None

    def _kill_main(self, graceful: bool = False) -> None:
        if self._main is None:
            return
        code = self._main.stop(self._settings.stop_grace) if graceful else self._main.kill()
        self.context.output.info(f"{self._main.step}: ended with code {code}")
        self._main = None

    def _wait(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool | None:
        """Wait until ``predicate`` or ``timeout``; None if the core is stopping, else the predicate."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            while True:
                if self._core_stopping:
                    return None
                if predicate():
                    return True
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.wait(timeout=0.5 if remaining is None else min(remaining, 0.5))

    def _set_state(self, new: str, detail: str = "") -> None:
        with self._wake:
            old = self.state
            if old == new:
                return
            if new != ERRORED and new != BROKEN:
                self._errors.pop(old, None)
            self.state = new
            if new in (RUNNING, FINISHED):
                # A healthy state: the reason for an earlier error or BROKEN no longer applies.
                self.status_detail = ""
            self._wake.notify_all()
            # Announced under the (re-entrant) lock so listeners hear transitions in the order
            # they happened across all components: a dependent never seems to start first.
            self.context.output.info(f"state: {old} -> {new}" + (f" ({detail})" if detail else ""))
            self.context.output.set_state(new)
            self._on_state(self.name, old, new)
