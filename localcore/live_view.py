"""The live terminal view of ``localcore run --view`` (needs the ``view`` extra: rich).

It shows component states as the runner reports them, the core's uptime and the cloud link; on
exit it prints what reached the embedded cloud, read from the dump the cloud writes under
``<root>/cloud/``. A project's view (a plugin's, see :mod:`localcore.plugins`) subclasses
:class:`LiveView` and adds its own tables with :meth:`LiveView.panels`, watching whatever it
likes from :meth:`LiveView.watch`.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table


@dataclass(frozen=True)
class CloudSummary:
    """What reached the embedded cloud, from its dump under ``<root>/cloud/``."""

    objects: dict[str, int]
    object_bytes: int
    items: dict[str, int]
    where: Path

    def lines(self) -> list[str]:
        """Readable summary lines."""
        total = sum(self.objects.values())
        out = [f"reached the cloud: {total} S3 objects ({self.object_bytes / 1024:.1f} KiB)"]
        out += [f"  s3 {prefix}: {count} objects" for prefix, count in sorted(self.objects.items())]
        out += [f"  dynamodb {table}: {count} items" for table, count in sorted(self.items.items())]
        out.append(f"look under {self.where}/ (s3/<bucket>/<key>, dynamodb/<table>.jsonl)")
        return out


def cloud_summary(root: Path) -> CloudSummary:
    """Summarize ``<root>/cloud/`` by bucket/first-key-level prefix and by table."""
    where = root / "cloud"
    objects: collections.Counter[str] = collections.Counter()
    size = 0
    s3_root = where / "s3"
    if s3_root.is_dir():
        for path in s3_root.rglob("*"):
            if path.is_file():
                parts = path.relative_to(s3_root).parts
                prefix = "/".join(parts[:2]) if len(parts) > 2 else parts[0]
                objects[prefix] += 1
                size += path.stat().st_size
    items: dict[str, int] = {}
    table_root = where / "dynamodb"
    if table_root.is_dir():
        for path in sorted(table_root.glob("*.jsonl")):
            items[path.stem] = sum(
                1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            )
    return CloudSummary(dict(objects), size, items, where)


class LiveView:
    """A ``RunReporter`` that draws a live dashboard and prints a cloud summary on exit."""

    title = "core"

    def __init__(self, console: Console | None = None, refresh_per_second: float = 2.0) -> None:
        self._console = console or Console()
        self._refresh = refresh_per_second
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()
        self._core: Any = None
        self._live: Live | None = None
        self._started = time.monotonic()

    # RunReporter -----------------------------------------------------------------------------------
    def started(self, core: Any) -> None:
        """Start watching and drawing."""
        self._core = core
        self._started = time.monotonic()
        self.watch(core)
        self._live = Live(self._render(), console=self._console, refresh_per_second=self._refresh)
        self._live.start()
        threading.Thread(target=self._redraw, name="live-view", daemon=True).start()

    def state_changed(self, component: str, old: str, new: str) -> None:
        """Remember the component's state."""
        with self._lock:
            self._states[component] = new

    def finished(self, core: Any, exit_code: int) -> None:
        """Stop drawing; print the final table and what reached the cloud."""
        if self._live is not None:
            self._live.update(self._render())
            self._live.stop()
            self._live = None
        self.unwatch()
        self._console.print()
        for line in cloud_summary(core.root).lines():
            self._console.print(line)
        self._console.print(f"component logs: {core.root / 'logs'}/  (exit code {exit_code})")

    # for views built on this one -------------------------------------------------------------------
    def watch(self, core: Any) -> None:
        """Start watching what the view shows beyond states (called once the core has started)."""

    def unwatch(self) -> None:
        """Stop watching (called once the core has stopped)."""

    def panels(self, now: float) -> list[Table]:
        """Tables drawn below the component states; ``now`` is ``time.monotonic()``."""
        return []

    def print(self, text: str) -> None:
        """A line on the view's console (e.g. a watcher's error)."""
        self._console.print(text)

    # internals -------------------------------------------------------------------------------------
    def _redraw(self) -> None:
        while self._live is not None:
            live = self._live
            live.update(self._render())
            time.sleep(1.0 / self._refresh)

    def link_text(self) -> str:
        """The cloud link as a coloured word."""
        cloud = self._core.cloud if self._core is not None else None
        if cloud is None:
            return "?"
        return "[green]online[/green]" if cloud.is_connected() else "[red]offline[/red]"

    def _render(self) -> Group:
        now = time.monotonic()
        states = Table(title="components", expand=False)
        states.add_column("component")
        states.add_column("state")
        with self._lock:
            for name, state in sorted(self._states.items()):
                colour = {"RUNNING": "green", "BROKEN": "red", "ERRORED": "yellow"}.get(state, "white")
                states.add_row(name, f"[{colour}]{state}[/{colour}]")
        core = Table(title=f"{self.title}  (up {now - self._started:.0f} s)", expand=False, show_header=False)
        core.add_column("what")
        core.add_column("value")
        core.add_row("link", self.link_text())
        return Group(states, core, *self.panels(now))
