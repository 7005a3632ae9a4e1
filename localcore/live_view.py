"""The live terminal view of ``localcore run --view`` (what ``make run`` shows).

It watches the bundle the way an operator would: component states from the runner, and the
bundle's own local topics through a real IPC connection of a core-internal identity
(``localcore.LiveView``, allowed to subscribe to ``edgebundle/*`` and nothing else). On exit it
prints what reached the (embedded) cloud, read from the dump the cloud writes under ``<root>/cloud/``.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from components.common import topics
from components.common.messages import MessageError, iter_readings

VIEWER = "localcore.LiveView"
VIEWER_ACCESS = {
    "aws.greengrass.ipc.pubsub": {
        f"{VIEWER}:watch": {
            "policyDescription": "the live view watches the bundle's own topics",
            "operations": ["aws.greengrass#SubscribeToTopic"],
            "resources": [f"{topics.PREFIX}/*"],
        }
    }
}
RATE_WINDOW_SECONDS = 5.0


@dataclass
class BundleTraffic:
    """Counters over the bundle's local topics; fed one message at a time, thread-safe."""

    readings: int = 0
    alerts_raised: int = 0
    alerts_cleared: int = 0
    active_alerts: dict[str, str] = field(default_factory=dict)
    anomalies: int = 0
    inspections: collections.Counter[str] = field(default_factory=collections.Counter)
    sync: dict[str, Any] = field(default_factory=dict)
    # (arrival time, readings in that message): a batch is one entry for many readings.
    _recent_readings: collections.deque[tuple[float, int]] = field(default_factory=collections.deque)
    _recent_total: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, topic: str, message: Any, now: float) -> None:
        """Count one message received on ``topic`` (on the readings topic, every reading in it)."""
        if not isinstance(message, dict):
            return
        if topic == topics.READINGS:
            try:
                count = sum(1 for _ in iter_readings(message))
            except MessageError:
                return  # not a reading: nothing to count
            with self._lock:
                self.readings += count
                self._recent_readings.append((now, count))
                self._recent_total += count
            return
        with self._lock:
            if topic == topics.ALERTS:
                rule = str(message.get("ruleId", "?"))
                if message.get("state") == "raised":
                    self.alerts_raised += 1
                    self.active_alerts[rule] = str(message.get("severity", "?"))
                elif message.get("state") == "cleared":
                    self.alerts_cleared += 1
                    self.active_alerts.pop(rule, None)
            elif topic == topics.ANOMALIES and message.get("isAnomaly"):
                self.anomalies += 1
            elif topic == topics.INSPECTION_DECISIONS:
                self.inspections[str(message.get("decision", "?"))] += 1
            elif topic == topics.SYNC_STATUS:
                metrics = message.get("metrics")
                if isinstance(metrics, dict):
                    self.sync = metrics

    def readings_per_second(self, now: float) -> float:
        """Readings/s over the last few seconds."""
        with self._lock:
            while self._recent_readings and self._recent_readings[0][0] < now - RATE_WINDOW_SECONDS:
                self._recent_total -= self._recent_readings.popleft()[1]
            return self._recent_total / RATE_WINDOW_SECONDS


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

    def __init__(self, console: Console | None = None, refresh_per_second: float = 2.0) -> None:
        self._console = console or Console()
        self._refresh = refresh_per_second
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()
        self._traffic = BundleTraffic()
        self._core: Any = None
        self._client: Any = None
        self._live: Live | None = None
        self._started = time.monotonic()

    # RunReporter -----------------------------------------------------------------------------------
    def started(self, core: Any) -> None:
        """Connect the watcher and start drawing."""
        self._core = core
        self._started = time.monotonic()
        self._connect(core)
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
        if self._client is not None:
            try:
                self._client.close()
            except Exception as err:  # the core is gone already; nothing left to close cleanly
                self._console.print(f"[dim]live view: closing its IPC client: {err!r}[/dim]")
        self._console.print()
        for line in cloud_summary(core.root).lines():
            self._console.print(line)
        self._console.print(f"component logs: {core.root / 'logs'}/  (exit code {exit_code})")

    # internals -------------------------------------------------------------------------------------
    def _connect(self, core: Any) -> None:
        import awsiot.greengrasscoreipc
        from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

        from components.common.ipc import decode_subscription_message

        token = core.ipc.register_component(VIEWER, VIEWER_ACCESS)
        connection = awsiot.greengrasscoreipc.connect(ipc_socket=str(core.socket_path), authtoken=token)
        self._client = GreengrassCoreIPCClientV2(client=connection)

        def on_event(event: Any) -> None:
            topic = getattr(event, "topic", None)
            message = event.json_message or event.binary_message
            topic = (message.context.topic if message is not None and message.context else topic) or ""
            try:
                payload = decode_subscription_message(event)
            except (ValueError, json.JSONDecodeError):
                return
            self._traffic.observe(topic, payload, time.monotonic())

        self._client.subscribe_to_topic(topic=f"{topics.PREFIX}/#", on_stream_event=on_event)

    def _redraw(self) -> None:
        while self._live is not None:
            live = self._live
            live.update(self._render())
            time.sleep(1.0 / self._refresh)

    def _render(self) -> Group:
        now = time.monotonic()
        states = Table(title="components", expand=False)
        states.add_column("component")
        states.add_column("state")
        with self._lock:
            for name, state in sorted(self._states.items()):
                colour = {"RUNNING": "green", "BROKEN": "red", "ERRORED": "yellow"}.get(state, "white")
                states.add_row(name, f"[{colour}]{state}[/{colour}]")
        t = self._traffic
        flow = Table(title=f"bundle  (up {now - self._started:.0f} s)", expand=False, show_header=False)
        flow.add_column("what")
        flow.add_column("value")
        flow.add_row("readings", f"{t.readings}  ({t.readings_per_second(now):.1f}/s)")
        active = ", ".join(f"{rule} ({sev})" for rule, sev in sorted(t.active_alerts.items())) or "none"
        flow.add_row("alerts", f"{t.alerts_raised} raised, {t.alerts_cleared} cleared; active: {active}")
        flow.add_row("anomalies", str(t.anomalies))
        inspected = t.inspections
        flow.add_row(
            "inspections",
            f"{sum(inspected.values())}: {inspected['accept']} pass, {inspected['reject']} reject, "
            f"{inspected['review']} review",
        )
        sync = t.sync
        backlog = sync.get("backlog") or {}
        held = sum(int(entry.get("records") or 0) for entry in backlog.values() if isinstance(entry, dict))
        flow.add_row("store backlog", f"{held} records")
        flow.add_row(
            "uploads", f"last {sync.get('lastUpload') or 'none yet'}, {sync.get('bytesToday', 0)} bytes today"
        )
        cloud = getattr(self._core, "cloud", None)
        if cloud is None:
            link = "?"
        else:
            link = "[green]online[/green]" if cloud.is_connected() else "[red]offline[/red]"
        flow.add_row("link", link)
        return Group(states, flow)
