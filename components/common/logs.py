"""Structured logging for components and the core: one line per event, ``key=value`` pairs.

Greengrass captures a component's stdout/stderr into ``<root>/logs/<Component>.log``; lines like
``2026-11-28T12:00:00Z INFO sensing event=reading_error sensor=line1 error="checksum"`` are easy
to grep there and to parse.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def kv(**fields: Any) -> str:
    """Render fields as ``key=value`` pairs, quoting values that need it."""
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items())


class _UtcFormatter(logging.Formatter):
    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z"


def setup_logging(name: str, level: str = "INFO") -> logging.Logger:
    """Configure the root logger to write structured lines to stderr and return ``name``'s logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_UtcFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # awscrt and botocore are chatty at INFO; their warnings still show.
    for noisy in ("botocore", "urllib3", "awscrt", "awsiot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return logging.getLogger(name)
