"""Entry point: ``python -m components.sensing`` (the recipe's Run step)."""

from __future__ import annotations

import logging
import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import LiveConfig
from components.common.logs import kv
from components.common.publisher import IpcPublisher
from components.common.service import run_service
from components.sensing.component import SensingComponent
from components.sensing.config import SensingConfig

log = logging.getLogger("sensing")


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``sensing-config`` shadow, run until ``stop``."""
    publisher = IpcPublisher(ipc)
    component = SensingComponent(publisher)
    live = LiveConfig(ipc, SensingConfig, topics.SHADOW_SENSING, component.apply)
    try:
        live.start()  # applies the first configuration: the sensors are up when it returns
        component.start()
        ipc.report_running()
        log.info(kv(event="running", sensors=len(component.loops)))
        stop.wait()
    finally:
        live.stop()
        component.stop()
        publisher.flush(timeout=2.0)


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("sensing", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
