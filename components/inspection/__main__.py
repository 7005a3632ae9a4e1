"""Entry point: ``python -m components.inspection`` (the recipe's Run step)."""

from __future__ import annotations

import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.publisher import IpcPublisher
from components.common.replay import RecordingPublisher, ReplayResponder, ReplayWindow
from components.common.sequence_numbers import SequenceNumbers
from components.common.service import run_service, serve_live_component
from components.inspection.component import COMPONENT_SOURCE, REPLAYED_TOPICS, InspectionComponent
from components.inspection.config import InspectionConfig


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``inspection-config`` shadow, run until ``stop``."""
    ipc_publisher = IpcPublisher(ipc)
    # Decisions stay recoverable until Sync asks for what it missed (a restart, a gap).
    window = ReplayWindow(REPLAYED_TOPICS)
    publisher = RecordingPublisher(ipc_publisher, window)
    replay = ReplayResponder(
        window,
        ipc_publisher,
        COMPONENT_SOURCE,
        topics.INSPECTION_REPLAY,
        SequenceNumbers().next,
        subscribe=ipc.subscribe_json,
    )
    # The first apply loads and checks the model: it serves once that returns.
    serve_live_component(
        ipc,
        stop,
        model=InspectionConfig,
        shadow=topics.SHADOW_INSPECTION,
        build=lambda rejection: InspectionComponent(
            publisher, ipc.subscribe_json, rejection=rejection, replay=replay
        ),
        publisher=publisher,
        describe=lambda config, _component: {
            "camera": config.camera.type,
            "trigger": config.trigger.mode,
            "model": f"{config.model.model}/{config.model.variant}",
        },
    )


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("inspection", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
