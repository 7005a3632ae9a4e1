"""One lifecycle step as an OS process: ``sh -c SCRIPT`` in its own process group, output to a log.

The nucleus runs each step through the shell (``ShellRunner``); localcore does the same, in a new
session so a whole tree of processes can be signalled at once and nothing it starts outlives it.
stdout and stderr are read by two threads into the component's rotating log, stdout lines at INFO
and stderr lines at WARN as the nucleus files them (``ShellRunner.java``), so a component that
prints megabytes only costs disk bounded by the rotation, never the core's memory.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from localcore.runner.logs import ComponentLog

MAX_LINE_BYTES = 64 * 1024  # longer lines are split: one runaway line must not fill memory
READ_CHUNK_BYTES = 64 * 1024


# Loaded before any fork: the child must not load libraries between fork and exec.
_LIBC = (
    ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if sys.platform == "linux"
    else None
)
_PR_SET_PDEATHSIG = 1


def _child_setup(limits: Callable[[], None] | None) -> Callable[[], None]:
    """In the child: die with the core (a core killed with SIGKILL leaves no components behind),
    then apply the resource limits."""

    def setup() -> None:
        if _LIBC is not None:
            # Sent when the thread that started the step ends: the component's supervisor, which
            # only ends once the component is stopped, or when the core dies.
            _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if limits is not None:
            limits()

    return setup


class StepProcess:
    """A running lifecycle step. ``returncode`` is None while it runs."""

    def __init__(
        self,
        *,
        step: str,
        script: str,
        env: Mapping[str, str],
        cwd: Path,
        output: ComponentLog,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        """Start ``sh -c script``; raise ``OSError`` if it cannot be started."""
        self.step = step
        self._output = output
        self._process = subprocess.Popen(
            ["/bin/sh", "-c", script],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: signal the whole tree at once
            preexec_fn=_child_setup(preexec),  # runs between fork and exec
        )
        self.pid = self._process.pid
        self._readers = [
            threading.Thread(
                target=self._pump,
                args=(self._process.stdout, "stdout"),
                name=f"{step}-stdout-{self.pid}",
                daemon=True,
            ),
            threading.Thread(
                target=self._pump,
                args=(self._process.stderr, "stderr"),
                name=f"{step}-stderr-{self.pid}",
                daemon=True,
            ),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def returncode(self) -> int | None:
        """The exit code once the process ended (negative: killed by that signal)."""
        return self._process.poll()

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait up to ``timeout`` seconds; the exit code, or None if it still runs."""
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join_readers()
        return code

    def stop(self, grace: float) -> int:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; return the exit code."""
        if self._process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self._process.wait(grace)
            except subprocess.TimeoutExpired:
                self._output.info(f"{self.step}: still running {grace:g}s after SIGTERM, sending SIGKILL")
        # Children that ignored SIGTERM (or outlived the shell) go too.
        self._signal_group(signal.SIGKILL)
        code = self._process.wait()
        self._join_readers()
        return code

    def kill(self) -> int:
        """SIGKILL the whole process group now; return the exit code."""
        self._signal_group(signal.SIGKILL)
        code = self._process.wait()
        self._join_readers()
        return code

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def _join_readers(self) -> None:
        # A grandchild that still holds the pipe would block the reader: don't wait forever.
        deadline = time.monotonic() + 2.0
        for reader in self._readers:
            reader.join(max(0.0, deadline - time.monotonic()))

    def _pump(self, stream: IO[bytes] | None, name: str) -> None:
        """Copy the pipe into the log: whatever is available, in one write per chunk."""
        if stream is None:
            return
        pending = b""
        fd = stream.fileno()
        try:
            while True:
                chunk = os.read(fd, READ_CHUNK_BYTES)
                if not chunk:
                    break
                pending += chunk
                *complete, pending = pending.split(b"\n")
                if len(pending) > MAX_LINE_BYTES:  # one runaway line must not fill memory
                    complete.append(pending)
                    pending = b""
                self._output.write_output(self.step, name, [_text(line) for line in complete])
            if pending:
                self._output.write_output(self.step, name, [_text(pending)])
        except (OSError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                stream.close()


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace").rstrip("\r")


def run_step_to_end(
    *,
    step: str,
    script: str,
    env: Mapping[str, str],
    cwd: Path,
    output: ComponentLog,
    timeout: float | None,
    should_abort: Callable[[], bool],
    preexec: Callable[[], None] | None = None,
    poll_interval: float = 0.05,
) -> int | None:
    """Run a step to its end and return its exit code; None on timeout or abort (it is killed then)."""
    process = StepProcess(step=step, script=script, env=env, cwd=cwd, output=output, preexec=preexec)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        code = process.wait(poll_interval)
        if code is not None:
            return code
        if should_abort():
            process.kill()
            output.info(f"{step}: aborted (the component is stopping)")
            return None
        if deadline is not None and time.monotonic() >= deadline:
            process.kill()
            output.info(f"{step}: timed out after {timeout:g}s, killed")
            return None


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def end_process_group(pgid: int, grace: float, poll_interval: float = 0.05) -> bool:
    """SIGTERM what is left of a process group, SIGKILL it after ``grace`` seconds.

    For the background processes a Startup step leaves behind once it exited. Returns whether
    anything was still running.
    """
    if not _group_alive(pgid):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(poll_interval)  # processes of another parent: nothing to wait() on
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
    return True
