"""Entry-point scaffolding shared by the components: logging, IPC connection, clean SIGTERM stop.

Each component's ``__main__`` is::

    def main() -> int:
        return run_service("sensing", build_and_run)

where ``build_and_run(ipc, stop)`` builds the component from its configuration, reports RUNNING,
and returns when ``stop`` is set (SIGTERM from the nucleus' Shutdown, or SIGINT).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from components.common.ipc import ComponentIpc
from components.common.live_config import ConfigError
from components.common.logs import kv, setup_logging

# Exit codes: the nucleus treats any non-zero exit of a Run step as an error and restarts the
# component with back-off; a configuration error is worth distinguishing in the log.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2


def install_stop_handlers(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM (the nucleus' Shutdown) and SIGINT."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger(__name__).info(kv(event="stop_requested", signal=signal.Signals(signum).name))
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def run_service(name: str, body: Callable[[ComponentIpc, threading.Event], None]) -> int:
    """Run a component's ``body`` with a connected IPC client until it returns; return an exit code."""
    log = setup_logging(name)
    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        ipc = ComponentIpc.connect(name)
    except Exception as err:
        log.error(kv(event="ipc_connect_failed", error=repr(err)))
        return EXIT_FAILED
    try:
        body(ipc, stop)
    except ConfigError as err:
        log.error(kv(event="config_invalid", error=err))
        return EXIT_CONFIG
    except Exception:
        log.exception(kv(event="component_failed"))
        return EXIT_FAILED
    finally:
        try:
            ipc.close()
        except Exception as err:
            log.debug(kv(event="ipc_close_failed", error=repr(err)))
    log.info(kv(event="stopped"))
    return EXIT_OK
