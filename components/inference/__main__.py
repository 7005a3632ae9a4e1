"""Entry point: ``python -m components.inference`` (the recipe's Run step)."""

from __future__ import annotations

import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.publisher import IpcPublisher
from components.common.service import run_service, serve_live_component
from components.inference.component import InferenceComponent
from components.inference.config import InferenceConfig


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``inference-config`` shadow, run until ``stop``."""
    publisher = IpcPublisher(ipc)
    # The first apply loads and validates the configured models: they serve once it returns.
    serve_live_component(
        ipc,
        stop,
        model=InferenceConfig,
        shadow=topics.SHADOW_INFERENCE,
        build=lambda rejection: InferenceComponent(publisher, ipc.subscribe_json, rejection=rejection),
        publisher=publisher,
        describe=lambda _config, component: {"models": ",".join(component.workers)},
    )


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("inference", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
