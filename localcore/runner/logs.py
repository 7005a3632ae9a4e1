"""Log files laid out like the nucleus': ``<root>/logs/<ComponentName>.log`` and ``greengrass.log``.

Both are bounded with rotation (``RotatingFileHandler``): a component printing megabytes a second
costs at most ``max_bytes * (backups + 1)`` of disk.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 3
CORE_LOG_NAME = "greengrass.log"
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class UtcFormatter(logging.Formatter):
    """ISO-8601 UTC timestamps with milliseconds, the nucleus' log style."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def log_path(root: Path, component: str) -> Path:
    """Where a component's output goes."""
    return root / "logs" / f"{component}.log"


def _rotating(
    path: Path, max_bytes: int, backups: int, line_format: str = LINE_FORMAT
) -> RotatingFileHandler:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    handler.setFormatter(UtcFormatter(line_format))
    return handler


class ComponentLog:
    """``<root>/logs/<Component>.log``: a component's output and the runner's notes about it.

    Lines have the nucleus' text format (``aws-greengrass-logging-java``,
    ``GreengrassLogMessage.getTextMessage``: ``<time> [<LEVEL>] (<thread>) <logger>:
    <eventType>. <message>. {<contexts>}``), and the nucleus' levels: a line the component wrote
    on stdout is INFO, one on stderr is WARN (``ShellRunner.java``), e.g.::

        2026-11-28T12:00:00.000Z [INFO] (Copier) com.example.A: stdout. hello. {scriptName=services.com.example.A.lifecycle.Run, serviceName=com.example.A, currentState=RUNNING}
        2026-11-28T12:00:00.001Z [WARN] (Copier) com.example.A: stderr. oops. {scriptName=services.com.example.A.lifecycle.Run, serviceName=com.example.A, currentState=RUNNING}

    Written directly rather than through ``logging``: a component may print hundreds of thousands
    of lines a second, and ``RotatingFileHandler`` formats each record twice and flushes it alone.
    Lines arriving together get one timestamp and one write. Thread-safe; rotates like
    ``RotatingFileHandler`` (``X.log`` -> ``X.log.1`` ... ``X.log.<backups>``).
    """

    def __init__(
        self,
        path: Path,
        component: str,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        self.path = path
        self._component = component
        self._max_bytes = max_bytes
        self._backups = backups
        self._state = "NEW"
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._size = 0
        self._closed = False
        # A full disk (or no descriptor left) must not stop the component whose output this is:
        # lines that cannot be written are counted, and the file is reopened at most once a second.
        self.dropped_lines = 0
        self._retry_at = 0.0
        self._open()

    def _open(self) -> bool:
        """(Re)open the file for appending; False if it cannot be now. Called with the lock held
        (or from ``__init__``)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8", errors="replace")
            self._size = self.path.stat().st_size
            # A write cut short by a full disk can leave half a line: end it, so the next line
            # (the dropped-lines note) starts on its own.
            if self._size and _ends_mid_line(self.path):
                self._file.write("\n")
                self._size += 1
            return True
        except OSError:
            self._file = None
            self._retry_at = time.monotonic() + 1.0
            return False

    def _failed(self, lines: int) -> None:
        """A write failed: drop what was buffered, count the lines; called with the lock held."""
        self.dropped_lines += lines
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file = None
        self._retry_at = time.monotonic() + 1.0

    def set_state(self, state: str) -> None:
        """The component's lifecycle state, written as ``currentState`` on later lines."""
        self._state = state

    def info(self, message: str) -> None:
        """One line from the runner (state changes, exit codes, timeouts), at INFO."""
        contexts = f"{{serviceName={self._component}, currentState={self._state}}}"
        self._write(f"{_timestamp()} [INFO] (localcore) {self._component}: {message}. {contexts}\n", 1)

    def write_output(self, step: str, stream: str, lines: list[str]) -> None:
        """``lines`` (without newlines) a lifecycle ``step`` wrote on ``stream`` (stdout or stderr).

        As the nucleus: stdout at INFO, stderr at WARN, each line trimmed, an empty one without
        its message part (``getFormattedMessage`` drops empty parts).
        """
        if not lines:
            return
        level = "WARN" if stream == "stderr" else "INFO"
        head = f"{_timestamp()} [{level}] (Copier) {self._component}: {stream}. "
        script = f"services.{self._component}.lifecycle.{step[:1].upper()}{step[1:]}"
        contexts = f"{{scriptName={script}, serviceName={self._component}, currentState={self._state}}}"
        text = "".join(
            f"{head}{trimmed}. {contexts}\n" if (trimmed := line.strip()) else f"{head}{contexts}\n"
            for line in lines
        )
        self._write(text, len(lines))

    def _write(self, text: str, lines: int) -> None:
        """Append ``text`` (``lines`` lines); on a full disk count them as dropped instead."""
        size = len(text.encode("utf-8", errors="replace"))
        with self._lock:
            if self._closed:
                return
            if self._file is None and (time.monotonic() < self._retry_at or not self._open()):
                self.dropped_lines += lines
                return
            dropped = self.dropped_lines
            if dropped:
                contexts = f"{{serviceName={self._component}, currentState={self._state}}}"
                note = (
                    f"{_timestamp()} [WARN] (localcore) {self._component}: {dropped} lines dropped: "
                    f"the log could not be written. {contexts}\n"
                )
                text = note + text
                size += len(note.encode("utf-8", errors="replace"))
            try:
                if self._size and self._size + size > self._max_bytes:
                    self._rotate()
                assert self._file is not None
                self._file.write(text)
                self._file.flush()
                self._size += size
                self.dropped_lines -= dropped
            except OSError:
                self._failed(lines)

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        for index in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self._backups > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink()
        self._file = self.path.open("w", encoding="utf-8", errors="replace")
        self._size = 0

    def close(self) -> None:
        """Close the file; later writes are dropped."""
        with self._lock:
            self._closed = True
            if self._file is not None:
                with contextlib.suppress(OSError):
                    self._file.close()
                self._file = None


def _ends_mid_line(path: Path) -> bool:
    with path.open("rb") as opened:
        opened.seek(-1, 2)
        return opened.read(1) != b"\n"


def _timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def component_log(
    root: Path, component: str, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS
) -> ComponentLog:
    """Open ``<root>/logs/<component>.log`` for appending."""
    return ComponentLog(log_path(root, component), component, max_bytes=max_bytes, backups=backups)


def attach_core_log(
    root: Path, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS
) -> logging.Handler:
    """Send the ``localcore`` loggers to ``<root>/logs/greengrass.log``; detach it with :func:`detach_core_log`."""
    handler = _rotating(root / "logs" / CORE_LOG_NAME, max_bytes, backups)
    logger = logging.getLogger("localcore")
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def detach_core_log(handler: logging.Handler) -> None:
    """Undo :func:`attach_core_log`."""
    logging.getLogger("localcore").removeHandler(handler)
    handler.close()
