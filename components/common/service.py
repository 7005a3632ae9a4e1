"""Entry-point scaffolding shared by the components: logging, IPC connection, clean SIGTERM stop.

Each component's ``__main__`` is::

    def main() -> int:
        return run_service("sensing", build_and_run)

where ``build_and_run(ipc, stop)`` builds the component from its configuration, reports RUNNING,
and returns when ``stop`` is set (SIGTERM from the nucleus' Shutdown, or SIGINT). Every component's
configuration follows its shadow: each is built and served by :func:`serve_live_component`, which
wires it to its :class:`LiveConfig` and starts, reports and stops them in the one right order
(:func:`serve_until_stopped`).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Protocol, TypeVar

from components.common.deployment_participation import DeploymentParticipant
from components.common.exceptions import ConfigError
from components.common.ipc import ComponentIpc
from components.common.live_config import ConfigT, LiveConfig
from components.common.logs import kv, setup_logging

# Exit codes: the nucleus treats any non-zero exit of a Run step as an error and restarts the
# component with back-off; a configuration error is worth distinguishing in the log.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
# How long a stopping component waits for the core to acknowledge what it already published.
FLUSH_TIMEOUT_S = 2.0


class Service(Protocol):
    """A component's running part: started once its first configuration is applied."""

    def start(self) -> None:
        """Start working (threads, subscriptions)."""

    def stop(self) -> None:
        """Stop working and release what :meth:`start` took."""


ConfigT_contra = TypeVar("ConfigT_contra", contravariant=True)


class ConfiguredService(Service, Protocol[ConfigT_contra]):
    """A :class:`Service` that takes each accepted configuration through :meth:`apply`."""

    def apply(self, config: ConfigT_contra) -> None:
        """Use ``config`` from now on; raise :class:`ConfigError` to refuse it."""


ComponentT = TypeVar("ComponentT", bound=ConfiguredService[Any])


class Flushable(Protocol):
    """A publisher that can wait for its messages to be acknowledged."""

    def flush(self, timeout: float = ...) -> bool:
        """Wait up to ``timeout`` seconds; True if every message was acknowledged."""


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


def serve_until_stopped(
    ipc: ComponentIpc,
    stop: threading.Event,
    *,
    live: LiveConfig[ConfigT],
    component: Service,
    publisher: Flushable | None,
    describe: Callable[[ConfigT], dict[str, Any]],
) -> None:
    """Apply the first configuration, start ``component``, report RUNNING and serve until ``stop``.

    The first configuration is applied before the component starts, so it never runs unconfigured
    (a model that fails to load refuses the start with :class:`ConfigError`). On the way out,
    configuration updates stop first so none reaches a stopping component, then the component,
    then the publisher gets :data:`FLUSH_TIMEOUT_S` for the core to acknowledge what was sent.

    Args:
        ipc: the component's IPC wrapper; its name is the logger's.
        stop: set by SIGTERM/SIGINT (see :func:`install_stop_handlers`).
        live: the component's configuration, whose ``apply`` feeds ``component``.
        component: what runs.
        publisher: what the component publishes through (None: it publishes synchronously, as
            the sync component does, so there is nothing to wait for).
        describe: the fields of the ``event=running`` log line, from the first configuration.

    Raises:
        ConfigError: no valid configuration to start with.
    """
    log = logging.getLogger(ipc.component)
    # The component validates proposed configurations as it does at start, and may defer an update
    # while it names a reason (an optional ``update_blocker()`` of the component).
    participant = DeploymentParticipant(ipc, live.model, getattr(component, "update_blocker", None))
    try:
        config = live.start()
        component.start()
        participant.start()
        ipc.report_running()
        log.info(kv(event="running", **describe(config)))
        stop.wait()
    finally:
        participant.stop()
        live.stop()
        component.stop()
        if publisher is not None:
            publisher.flush(timeout=FLUSH_TIMEOUT_S)


def serve_live_component(
    ipc: ComponentIpc,
    stop: threading.Event,
    *,
    model: type[ConfigT],
    shadow: str,
    build: Callable[[Callable[[], str | None]], ComponentT],
    publisher: Flushable | None,
    describe: Callable[[ConfigT, ComponentT], dict[str, Any]],
) -> None:
    """Build a component whose configuration follows the deployment and its ``shadow``, and serve it
    until ``stop`` (see :func:`serve_until_stopped`).

    Example::

        publisher = IpcPublisher(ipc)
        serve_live_component(
            ipc, stop, model=SensingConfig, shadow=topics.SHADOW_SENSING, publisher=publisher,
            build=lambda _rejection: SensingComponent(publisher),
            describe=lambda _config, component: {"sensors": len(component.loops)},
        )

    Args:
        ipc: the component's IPC wrapper.
        stop: set by SIGTERM/SIGINT.
        model: the configuration model (a ``ConfigStruct``).
        shadow: the component's configuration shadow, e.g. ``sensing-config``.
        build: makes the component from ``rejection``, a callable returning the reason the last
            configuration was refused (``None`` if the last one was applied), for its health.
        publisher: what the component publishes through (flushed on the way out; None: nothing
            to flush).
        describe: the fields of the ``event=running`` log line.

    Raises:
        ConfigError: no valid configuration to start with.
    """
    live: LiveConfig[ConfigT] | None = None

    def rejection() -> str | None:
        # The component exists before its LiveConfig (which needs its apply), so look late.
        return live.last_error if live is not None else None

    component = build(rejection)
    live = LiveConfig(ipc, model, shadow, component.apply)
    serve_until_stopped(
        ipc,
        stop,
        live=live,
        component=component,
        publisher=publisher,
        describe=lambda config: describe(config, component),
    )
