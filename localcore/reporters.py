"""What ``localcore run`` tells the person or script watching: lines, JSON lines, or a view.

:class:`TerminalReporter` (the default) writes one line per state change and a table at the end;
:class:`JsonReporter` (``--json``) one JSON object per event; :func:`choose_view` picks a live
view (``--view``), localcore's own or a plugin's.
"""

from __future__ import annotations

import abc
import json
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from localcore.plugins import ReporterFactory, RunReporter
from localcore.runner.errors import RunnerError


class _Reporter(abc.ABC):
    """Holds back state changes heard before ``started`` so the output reads in order."""

    def __init__(self, stream: Any = None) -> None:
        self._stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._pending: list[tuple[str, str, str]] | None = []

    def _write(self, text: str) -> None:
        print(text, file=self._stream, flush=True)

    def started(self, core: Any) -> None:
        with self._lock:
            self._write(self._started_text(core))
            pending, self._pending = self._pending or [], None
            for change in pending:
                self._write(self._state_text(*change))

    def state_changed(self, component: str, old: str, new: str) -> None:
        with self._lock:
            if self._pending is not None:
                self._pending.append((component, old, new))
            else:
                self._write(self._state_text(component, old, new))

    def finished(self, core: Any, exit_code: int) -> None:
        with self._lock:
            self._write(self._finished_text(core, exit_code))

    @abc.abstractmethod
    def _started_text(self, core: Any) -> str:
        """What to write once the core has started."""

    @abc.abstractmethod
    def _state_text(self, component: str, old: str, new: str) -> str:
        """What to write when a component changes lifecycle state."""

    @abc.abstractmethod
    def _finished_text(self, core: Any, exit_code: int) -> str:
        """What to write when the core has stopped."""


class TerminalReporter(_Reporter):
    """Readable lines: one per state change, a table at the end."""

    def _started_text(self, core: Any) -> str:
        lines = [f"localcore: root {core.root}, thing {core.thing_name}, IPC socket {core.socket_path}"]
        lines += [f"  REFUSED  {name}: {err}" for name, err in sorted(core.runner.refused.items())]
        return "\n".join(lines)

    def _state_text(self, component: str, old: str, new: str) -> str:
        return f"{time.strftime('%H:%M:%S')}  {component:<40} {old:>9} -> {new}"

    def _finished_text(self, core: Any, exit_code: int) -> str:
        table = format_status_table(core.status()["components"])
        return f"\n{table}\nlocalcore: stopped (exit code {exit_code})"


class JsonReporter(_Reporter):
    """One JSON object per line: ``started``, ``state``, ``finished`` events."""

    def _started_text(self, core: Any) -> str:
        refused = {name: str(err) for name, err in core.runner.refused.items()}
        return json.dumps(
            {"event": "started", "root": str(core.root), "thingName": core.thing_name, "refused": refused}
        )

    def _state_text(self, component: str, old: str, new: str) -> str:
        return json.dumps(
            {"event": "state", "component": component, "old": old, "new": new, "time": time.time()}
        )

    def _finished_text(self, core: Any, exit_code: int) -> str:
        return json.dumps({"event": "finished", "exitCode": exit_code, **core.status()}, default=str)


def format_status_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of components (name, version, state, restarts, detail)."""
    header = ("COMPONENT", "VERSION", "STATE", "RESTARTS", "DETAIL")
    table = [header] + [
        (r["name"], r["version"], r["state"], str(r["restarts"]), r.get("detail", "")) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)).rstrip()
        for row in table
    ]
    return "\n".join(lines)


def _builtin_views() -> dict[str, ReporterFactory]:
    def live() -> RunReporter:
        from localcore.live_view import LiveView  # rich: the `view` extra

        return LiveView()

    return {"live": live}


def choose_view(name: str, offered: dict[str, ReporterFactory]) -> RunReporter:
    """The reporter ``--view NAME`` asks for; ``--view`` alone: the one plugin view, else ``live``.

    Raises:
        RunnerError: no view of that name; names the views there are.
    """
    if not name:
        name = next(iter(offered)) if len(offered) == 1 else "live"
    views = {**_builtin_views(), **offered}
    if name not in views:
        raise RunnerError(f"--view {name}: no such view; expected one of {', '.join(sorted(views))}")
    try:
        return views[name]()
    except ImportError as err:
        raise RunnerError(
            f"--view {name} needs a package that is not installed ({err.name}); "
            "install localcore[view] (rich)"
        ) from err
