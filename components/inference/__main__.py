"""Entry point: ``python -m components.inference`` (the recipe's Run step)."""

from __future__ import annotations

import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import LiveConfig
from components.common.publisher import IpcPublisher
from components.common.service import run_service, serve_until_stopped
from components.inference.component import InferenceComponent
from components.inference.config import InferenceConfig


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``inference-config`` shadow, run until ``stop``."""
    publisher = IpcPublisher(ipc)
    live: LiveConfig[InferenceConfig] | None = None
    component = InferenceComponent(
        publisher, ipc.subscribe_json, rejection=lambda: live.last_error if live is not None else None
    )
    # The first apply loads and validates the configured models: they serve once it returns.
    live = LiveConfig(ipc, InferenceConfig, topics.SHADOW_INFERENCE, component.apply)
    serve_until_stopped(
        ipc,
        stop,
        live=live,
        component=component,
        publisher=publisher,
        describe=lambda _config: {"models": ",".join(component.workers)},
    )


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("inference", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
