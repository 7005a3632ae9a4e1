"""The shared start-up of a shadow-configured component: configure, start, report RUNNING, serve
until stopped, then stop in order; against an in-memory nucleus and a real ``LiveConfig``."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Annotated, Any

import pytest
from msgspec import Meta

from components.common.exceptions import ConfigError
from components.common.live_config import LiveConfig
from components.common.service import FLUSH_TIMEOUT_S, serve_live_component, serve_until_stopped
from components.common.structs import ConfigStruct

SHADOW = "example-config"


class ExampleConfig(ConfigStruct, frozen=True):
    rate_hz: Annotated[float, Meta(gt=0)] = 1.0


class Handle:
    def __init__(self, events: list[str], name: str) -> None:
        self._events = events
        self._name = name

    def close(self) -> None:
        self._events.append(f"close {self._name}")


class MemoryNucleus:
    """What ``LiveConfig`` and ``serve_until_stopped`` ask of a ComponentIpc, in memory."""

    def __init__(self, config: dict[str, Any], events: list[str]) -> None:
        self.component = "example"
        self.config = config
        self.events = events
        self.reported: list[dict[str, Any]] = []
        self.running = threading.Event()
        self.desired: dict[str, Any] = {}
        self.delta_handlers: list[Callable[[Any], None]] = []

    def get_config(self) -> dict[str, Any]:
        return self.config

    def get_shadow(self, _shadow: str) -> dict[str, Any] | None:
        return {"state": {"desired": {"config": self.desired}}} if self.desired else None

    def update_shadow(self, _shadow: str, document: dict[str, Any]) -> None:
        self.reported.append(document["state"]["reported"])

    def subscribe_config(self, _handler: Callable[[Any], None]) -> Handle:
        return Handle(self.events, "config")

    def subscribe_shadow_documents(self, _shadow: str, handler: Callable[[Any], None]) -> Handle:
        self.delta_handlers.append(handler)
        return Handle(self.events, "documents")

    def desire(self, config: dict[str, Any]) -> None:
        """An operator's change to the shadow's desired configuration."""
        previous = {"state": {"desired": {"config": self.desired}}}
        self.desired = config
        for handler in self.delta_handlers:
            handler({"previous": previous, "current": {"state": {"desired": {"config": config}}}})

    def report_running(self) -> None:
        self.events.append("running")
        self.running.set()


class RecordingComponent:
    def __init__(self, events: list[str], rejection: Callable[[], str | None] = lambda: None) -> None:
        self.events = events
        self.applied: list[ExampleConfig] = []
        self.rejection = rejection

    def apply(self, config: ExampleConfig) -> None:
        self.events.append(f"apply {config.rate_hz}")
        self.applied.append(config)

    def start(self) -> None:
        self.events.append("start")

    def stop(self) -> None:
        self.events.append("stop")


class RecordingPublisher:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def flush(self, timeout: float = 5.0) -> bool:
        self.events.append(f"flush {timeout}")
        return True


def serve(
    config: dict[str, Any], stop: threading.Event
) -> tuple[MemoryNucleus, RecordingComponent, list[str], Callable[[], None]]:
    events: list[str] = []
    nucleus = MemoryNucleus(config, events)
    component = RecordingComponent(events)
    live = LiveConfig(nucleus, ExampleConfig, SHADOW, component.apply)  # type: ignore[arg-type]

    def run() -> None:
        serve_until_stopped(
            nucleus,  # type: ignore[arg-type]
            stop,
            live=live,
            component=component,
            publisher=RecordingPublisher(events),
            describe=lambda cfg: {"rate": cfg.rate_hz},
        )

    return nucleus, component, events, run


def test_configures_starts_reports_then_stops_in_order(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a valid configuration and a stop already requested (SIGTERM right after start-up)
    stop = threading.Event()
    stop.set()
    nucleus, component, events, run = serve({"rateHz": 2.0}, stop)
    # WHEN the component is served
    with caplog.at_level(logging.INFO, logger="example"):
        run()
    # THEN it was configured before it started, RUNNING came last, and the way out is the reverse
    assert events == [
        "apply 2.0",
        "start",
        "running",
        "close config",
        "close documents",
        "stop",
        f"flush {FLUSH_TIMEOUT_S}",
    ]
    assert nucleus.reported[-1]["status"] == "applied" and component.applied == [ExampleConfig(rate_hz=2.0)]
    running = [r.getMessage() for r in caplog.records if r.name == "example"]
    assert running == ["event=running rate=2.0"]


def test_serves_until_stop_is_set() -> None:
    stop = threading.Event()
    nucleus, _component, events, run = serve({}, stop)
    thread = threading.Thread(target=run)
    thread.start()
    # RUNNING is reported, but nothing stops until SIGTERM sets the event.
    assert nucleus.running.wait(10.0)
    assert events == ["apply 1.0", "start", "running"]
    assert thread.is_alive()
    stop.set()
    thread.join(10.0)
    assert not thread.is_alive() and events[-2:] == ["stop", f"flush {FLUSH_TIMEOUT_S}"]


def test_an_invalid_first_configuration_refuses_the_start() -> None:
    stop = threading.Event()
    nucleus, component, events, run = serve({"rateHz": -1}, stop)
    with pytest.raises(ConfigError, match="rateHz"):
        run()
    # Never started nor reported RUNNING; subscriptions and the publisher are still released.
    assert "start" not in events and "running" not in events and not component.applied
    assert events[-2:] == ["stop", f"flush {FLUSH_TIMEOUT_S}"]
    assert "close config" in events and nucleus.reported[-1]["status"] == "rejected"


def test_a_live_component_sees_why_its_last_configuration_was_refused() -> None:
    # GIVEN a component built and served with its configuration following the shadow
    stop = threading.Event()
    events: list[str] = []
    nucleus = MemoryNucleus({"rateHz": 2.0}, events)
    built: list[RecordingComponent] = []

    def build(rejection: Callable[[], str | None]) -> RecordingComponent:
        built.append(RecordingComponent(events, rejection))
        return built[-1]

    def run() -> None:
        serve_live_component(
            nucleus,  # type: ignore[arg-type]
            stop,
            model=ExampleConfig,
            shadow=SHADOW,
            build=build,
            publisher=RecordingPublisher(events),
            describe=lambda cfg, component: {"rate": cfg.rate_hz, "applied": len(component.applied)},
        )

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert nucleus.running.wait(10.0)
        [component] = built
        assert component.rejection() is None and component.applied == [ExampleConfig(rate_hz=2.0)]
        # WHEN the operator desires a bad value
        nucleus.desire({"rateHz": 0})
        # THEN the component keeps its configuration and can report the reason
        reason = component.rejection()
        assert reason is not None and "rateHz" in reason
        assert component.applied == [ExampleConfig(rate_hz=2.0)]
        # AND a good one applies and clears it
        nucleus.desire({"rateHz": 4.0})
        assert component.rejection() is None and component.applied[-1] == ExampleConfig(rate_hz=4.0)
    finally:
        stop.set()
        thread.join(10.0)
    assert not thread.is_alive() and events[-2:] == ["stop", f"flush {FLUSH_TIMEOUT_S}"]
