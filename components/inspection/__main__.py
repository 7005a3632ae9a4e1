"""Entry point: ``python -m components.inspection`` (the recipe's Run step)."""

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
from components.inspection.component import InspectionComponent
from components.inspection.config import InspectionConfig

log = logging.getLogger("inspection")


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``inspection-config`` shadow, run until ``stop``."""
    publisher = IpcPublisher(ipc)
    live: LiveConfig[InspectionConfig] | None = None
    component = InspectionComponent(
        publisher, ipc.subscribe_json, rejection=lambda: live.last_error if live is not None else None
    )
    live = LiveConfig(ipc, InspectionConfig, topics.SHADOW_INSPECTION, component.apply)
    try:
        config = live.start()  # loads and checks the model: it serves when this returns
        component.start()
        ipc.report_running()
        log.info(
            kv(
                event="running",
                camera=config.camera.type,
                trigger=config.trigger.mode,
                model=f"{config.model.model}/{config.model.variant}",
            )
        )
        stop.wait()
    finally:
        live.stop()
        component.stop()
        publisher.flush(timeout=2.0)


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("inspection", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
