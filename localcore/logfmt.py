"""localcore's log lines: one line per event, ``key=value`` pairs.

The core's own log (``<root>/logs/localcore.log``) and its console lines read like
``2026-11-28T12:00:00Z INFO localcore.runner event=component_started component=com.example.A``:
easy to grep and to parse. localcore keeps this helper itself so it depends on nothing of the
components it runs.
"""

from __future__ import annotations

from typing import Any


def _format_value(value: Any) -> str:
    text = str(value)
    if not text or any(ch in text for ch in ' ="'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def kv(**fields: Any) -> str:
    """Render fields as ``key=value`` pairs, quoting values that need it.

    Example:
        >>> kv(event="started", path="/tmp/a b")
        'event=started path="/tmp/a b"'
    """
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items())
