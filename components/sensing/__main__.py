"""Entry point: ``python -m components.sensing`` (the recipe's Run step)."""

from __future__ import annotations

import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import LiveConfig
from components.common.publisher import Coalescing, IpcPublisher
from components.common.service import run_service, serve_until_stopped
from components.sensing.component import COMPONENT_SOURCE, SensingComponent
from components.sensing.config import SensingConfig


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``sensing-config`` shadow, run until ``stop``."""
    # Readings coalesce into batches only while the core lags (see components.common.publisher);
    # alerts, health and LED changes always go on their own, never behind readings.
    publisher = IpcPublisher(ipc, coalescing=Coalescing(topics.READINGS, COMPONENT_SOURCE))
    component = SensingComponent(publisher)
    # The first apply opens the sensors: they are up once it returns.
    live = LiveConfig(ipc, SensingConfig, topics.SHADOW_SENSING, component.apply)
    serve_until_stopped(
        ipc,
        stop,
        live=live,
        component=component,
        publisher=publisher,
        describe=lambda _config: {"sensors": len(component.loops)},
    )


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("sensing", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
