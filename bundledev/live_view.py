"""The bundle's live view of ``localcore run --view`` (what ``make run`` shows).

localcore's own view (:class:`localcore.live_view.LiveView`) draws component states and the
cloud link, and prints what reached the cloud on exit; this one adds the bundle's traffic,
watched the way an operator would: the bundle's own local topics through a real IPC connection
of a core-internal identity (``localcore.LiveView``, allowed to subscribe to ``edgebundle/*``
and nothing else). The same subscription feeds the web console (:mod:`bundledev.console`),
started beside the view and printed as a URL unless ``BUNDLE_CONSOLE=off``.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from components.common import topics
from components.common.ipc import decode_subscription_message
from components.common.messages import MessageError, iter_readings
from localcore.live_view import LiveView

if TYPE_CHECKING:
    from bundledev.console.data import ConsoleData
    from bundledev.console.server import ConsoleServer

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


class BundleLiveView(LiveView):
    """localcore's live view, plus the bundle's readings, alerts, inspections, backlog and uploads."""

    title = "bundle"

    def __init__(
        self, console: Console | None = None, refresh_per_second: float = 2.0, web_console: bool | None = None
    ) -> None:
        """``web_console``: start the web console (``None``: as ``BUNDLE_CONSOLE`` says, default on)."""
        super().__init__(console, refresh_per_second)
        self._traffic = BundleTraffic()
        self._client: Any = None
        self._web_console = web_console
        self._console_data: ConsoleData | None = None
        self.console_server: ConsoleServer | None = None

    def watch(self, core: Any) -> None:
        """Subscribe to the bundle's local topics as the core-internal viewer identity."""
        import awsiot.greengrasscoreipc
        from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2

        self._start_console(core)
        token = core.ipc.register_component(VIEWER, VIEWER_ACCESS)
        connection = awsiot.greengrasscoreipc.connect(ipc_socket=str(core.socket_path), authtoken=token)
        self._client = GreengrassCoreIPCClientV2(client=connection)

        def on_event(event: Any) -> None:
            message = event.json_message or event.binary_message
            topic = (message.context.topic if message is not None and message.context else None) or ""
            try:
                payload = decode_subscription_message(event)
            except (ValueError, json.JSONDecodeError):
                return
            self._traffic.observe(topic, payload, time.monotonic())
            if self._console_data is not None:
                self._console_data.observe(topic, payload)

        self._client.subscribe_to_topic(topic=f"{topics.PREFIX}/#", on_stream_event=on_event)

    def _start_console(self, core: Any) -> None:
        from bundledev.console.server import console_enabled

        enabled = console_enabled() if self._web_console is None else self._web_console
        if not enabled:
            return
        from bundledev.console.data import ConsoleData
        from bundledev.console.server import ConsoleServer

        self._console_data = ConsoleData()
        self.console_server = ConsoleServer(core, self._console_data).start()
        self.print(f"[bold]web console:[/bold] {self.console_server.url}  (BUNDLE_CONSOLE=off turns it off)")

    def unwatch(self) -> None:
        """Stop the web console; close the viewer's IPC client."""
        if self.console_server is not None:
            self.console_server.stop()
            self.console_server = None
        if self._client is not None:
            try:
                self._client.close()
            except Exception as err:  # the core is gone already; nothing left to close cleanly
                self.print(f"[dim]live view: closing its IPC client: {err!r}[/dim]")
            self._client = None

    def panels(self, now: float) -> list[Table]:
        """The bundle's traffic table."""
        t = self._traffic
        flow = Table(title="traffic", expand=False, show_header=False)
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
        return [flow]
