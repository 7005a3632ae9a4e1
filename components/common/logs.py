"""Structured logging for components and the core: one line per event, ``key=value`` pairs.

Greengrass captures a component's output into ``<root>/logs/<Component>.log`` and files each line
by the stream it came on: stdout at INFO, stderr at WARN (nucleus ``ShellRunner.java``). So
:func:`setup_logging` sends DEBUG and INFO records to **stdout** and WARNING and above to
**stderr**, and keeps every event on one line, a traceback included (folded into an escaped
``traceback="..."`` field), so an error is one WARN line in the device's log and in LogManager,
not twenty. Each line is written with one call and flushed at once: nothing waits in a buffer
while the component runs, and lines on one stream keep their order.

A line, as the component writes it::

    2026-11-28T12:00:00.000Z INFO sensing event=reading_error sensor=line1 error=checksum
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import types
from typing import Any, TextIO

# Characters that would end a line or break a key=value pair, and their escapes.
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_NEEDS_QUOTES = frozenset(' ="\n\r\t')
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# awscrt and botocore are chatty at INFO; their warnings still show.
_NOISY_LOGGERS = ("botocore", "urllib3", "awscrt", "awsiot")


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(ch in _NEEDS_QUOTES for ch in text):
        return '"' + _escape(text) + '"'
    return text


def kv(**fields: Any) -> str:
    """Render fields as ``key=value`` pairs, quoting values that need it.

    A value with spaces, ``=``, quotes or line breaks is quoted, with ``\\``, ``"`` and the line
    breaks escaped (``\\n``), so a rendered event never spans two lines.
    """
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items())


class OneLineFormatter(logging.Formatter):
    """``<UTC time> <LEVEL> <logger> <message>`` on one line; a traceback becomes ``traceback="..."``."""

    def __init__(self, fmt: str = LINE_FORMAT) -> None:
        super().__init__(fmt)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        record.message = record.getMessage()
        record.asctime = self.formatTime(record)
        line = self.formatMessage(record)
        if "\n" in line or "\r" in line:
            # A message built without kv (an f-string with a multi-line error): escape, don't split.
            line = line.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
        details = []
        if record.exc_info and record.exc_info[0] is not None:
            details.append(self.formatException(record.exc_info))
        elif record.exc_text:
            details.append(record.exc_text)
        if record.stack_info:
            details.append(self.formatStack(record.stack_info))
        if details:
            line += " " + kv(traceback="\n".join(text.rstrip("\n") for text in details))
        return line


class _Below(logging.Filter):
    """Passes records below ``level`` (the stdout handler's filter)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self._level = level

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < self._level


class _StandardStream(logging.Handler):
    """Writes each record to ``sys.stdout`` or ``sys.stderr`` in one call, and flushes it.

    The stream is looked up at each record, so a replaced ``sys.stdout`` (a test's capture)
    receives the lines too.
    """

    def __init__(self, stream_name: str) -> None:
        super().__init__()
        self._stream_name = stream_name

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream: TextIO = getattr(sys, self._stream_name)
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


def handlers() -> list[logging.Handler]:
    """The two handlers :func:`setup_logging` installs: <WARNING to stdout, WARNING+ to stderr."""
    formatter = OneLineFormatter()
    out = _StandardStream("stdout")
    out.addFilter(_Below(logging.WARNING))
    err = _StandardStream("stderr")
    err.setLevel(logging.WARNING)
    for handler in (out, err):
        handler.setFormatter(formatter)
    return [out, err]


def setup_logging(name: str, level: str = "INFO") -> logging.Logger:
    """Configure the root logger (see the module docstring) and return ``name``'s logger.

    Uncaught exceptions (main thread and other threads) and Python warnings are logged as one
    line each too, instead of the interpreter's multi-line tracebacks on stderr.
    """
    root = logging.getLogger()
    root.handlers[:] = handlers()
    root.setLevel(level.upper())
    for noisy in _NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.captureWarnings(True)
    _log_uncaught_exceptions(logging.getLogger(name))
    return logging.getLogger(name)


def _log_uncaught_exceptions(log: logging.Logger) -> None:
    def main_hook(kind: type[BaseException], error: BaseException, trace: types.TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        log.critical(kv(event="uncaught_exception", error=repr(error)), exc_info=(kind, error, trace))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        thread = args.thread.name if args.thread is not None else "?"
        error = args.exc_value
        log.error(
            kv(event="thread_crashed", thread=thread, error=repr(error)),
            exc_info=(args.exc_type, error, args.exc_traceback) if error is not None else None,
        )

    sys.excepthook = main_hook
    threading.excepthook = thread_hook
