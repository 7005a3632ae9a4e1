"""Log files laid out like the nucleus': ``<root>/logs/<ComponentName>.log`` and ``greengrass.log``.

Both are bounded with rotation (``RotatingFileHandler``): a component printing megabytes a second
costs at most ``max_bytes * (backups + 1)`` of disk.
"""

from __future__ import annotations

import logging
import time
from logging.handlers import RotatingFileHandler
from pathlib import Path

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


def component_logger(
    root: Path, component: str, *, max_bytes: int = DEFAULT_MAX_BYTES, backups: int = DEFAULT_BACKUPS
) -> logging.Logger:
    """A logger writing only to ``<root>/logs/<component>.log`` (not propagated to the core's log).

    Each core root gets its own logger name, so two cores in one process (tests) never mix files.
    """
    logger = logging.getLogger(f"localcore.component.{abs(hash(str(root.resolve())))}.{component}")
    close_handlers(logger)
    # Component names are [A-Za-z0-9-_.] only (recipe rule), so they are safe inside a format string.
    line_format = f"%(asctime)s %(levelname)s {component}: %(message)s"
    logger.addHandler(_rotating(log_path(root, component), max_bytes, backups, line_format))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def close_handlers(logger: logging.Logger) -> None:
    """Detach and close every handler of ``logger``."""
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()


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
