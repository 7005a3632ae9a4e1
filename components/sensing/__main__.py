"""Entry point: ``python -m components.sensing`` (the recipe's Run step)."""

from __future__ import annotations

import gc
import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.publisher import Coalescing, IpcPublisher
from components.common.replay import RecordingPublisher, ReplayResponder, ReplayWindow
from components.common.sequence_numbers import SequenceNumbers
from components.common.service import run_service, serve_live_component
from components.sensing.component import COMPONENT_SOURCE, REPLAYED_TOPICS, SensingComponent
from components.sensing.config import SensingConfig

#: Least time between two readings messages: at most 200 a second, each reading delayed <= 5 ms.
READINGS_MIN_INTERVAL_S = 0.005


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``sensing-config`` shadow, run until ``stop``."""
    # Readings coalesce into batches while the core lags, and when they come less than 5 ms
    # apart (a reading message at most every 5 ms; see components.common.publisher): the IPC
    # client's per-message work, not the readings, is what costs CPU. Alerts, health and LED
    # changes always go on their own, at once, never behind readings: rules run before a reading
    # is queued.
    ipc_publisher = IpcPublisher(
        ipc,
        coalescing=Coalescing(topics.READINGS, COMPONENT_SOURCE, min_interval_s=READINGS_MIN_INTERVAL_S),
    )
    # Readings and alerts stay recoverable until Sync asks for what it missed (a restart, a gap).
    window = ReplayWindow(REPLAYED_TOPICS)
    publisher = RecordingPublisher(ipc_publisher, window)
    replay = ReplayResponder(
        window,
        ipc_publisher,
        COMPONENT_SOURCE,
        topics.SENSING_REPLAY,
        SequenceNumbers().next,
        subscribe=ipc.subscribe_json,
    )
    # The first apply opens the sensors: they are up once it returns.
    serve_live_component(
        ipc,
        stop,
        model=SensingConfig,
        shadow=topics.SHADOW_SENSING,
        build=lambda _rejection: SensingComponent(publisher, replay=replay),
        publisher=publisher,
        describe=lambda _config, component: {"sensors": len(component.loops)},
    )


def main() -> int:
    """Run the component; returns the process exit code."""
    # Alerts must leave within milliseconds while the publisher's thread serializes reading
    # batches: a 1 ms GIL switch interval (default 5 ms) bounds how long the sensor thread waits
    # for the interpreter behind it (measured at 5,000 readings/s: alert p50/p99 about halved).
    sys.setswitchinterval(0.001)
    # A full garbage collection walks every object the imports made (~23k: awsiot, msgspec, the
    # modules; ~35k took ~15 ms with the former validation library) and stops every thread
    # meanwhile, an alert included; none of them ever become garbage, so they are taken out of
    # the collector's sight once.
    gc.freeze()
    return run_service("sensing", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
