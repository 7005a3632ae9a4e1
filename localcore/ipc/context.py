"""What operation handlers see: the core's collaborators (``CoreContext``) and one request (``Call``)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from localcore.contracts import CloudAdapter, ConfigService, LifecycleService, ShadowService
from localcore.ipc.auth import AuthorizationDenied, Authorizer
from localcore.ipc.errors import unauthorized
from localcore.ipc.metrics_store import MetricStore
from localcore.ipc.pubsub_router import PubSubRouter
from localcore.profiles import CLASSIC, NucleusProfile

if TYPE_CHECKING:
    from localcore.ipc.connection import Stream

T = TypeVar("T")

SHADOW_MANAGER = "aws.greengrass.ShadowManager"


class CoreContext:
    """The collaborators and shared state of one running server.

    The router and the streams belong to the event loop thread. Service calls (shadows, config,
    lifecycle) may block on disk, so they run on a small worker pool; cloud calls run on one
    worker of their own so a component's IoT Core publishes keep their order.
    """

    def __init__(
        self,
        *,
        shadows: ShadowService | None,
        config: ConfigService | None,
        cloud: CloudAdapter | None,
        lifecycle: LifecycleService | None,
        metrics: MetricStore,
        authorizer: Authorizer,
        profile: NucleusProfile = CLASSIC,
    ) -> None:
        self.shadows = shadows
        self.config = config
        self.cloud = cloud
        self.lifecycle = lifecycle
        self.metrics = metrics
        self.authorizer = authorizer
        # The deployment service (set by the core once built; None answers "not supported").
        self.deployments: Any = None
        self.profile = profile  # which nucleus the server answers as (localcore.profiles)
        self.router = PubSubRouter(max_nodes=profile.subscription_max_nodes)
        self.reported_states: dict[str, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="ipc-service")
        self._cloud_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipc-cloud")
        self._ordered_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ipc-ordered")

    async def blocking(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a possibly blocking service call off the loop."""
        assert self.loop is not None
        return await self.loop.run_in_executor(self._workers, fn, *args)

    async def cloud_call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a cloud adapter call on the single, order-keeping cloud worker."""
        assert self.loop is not None
        return await self.loop.run_in_executor(self._cloud_worker, fn, *args)

    def submit_ordered(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on one worker, after everything submitted before it (fire and forget)."""
        # After shutdown the request is dropped, like any publish in flight when the server stops.
        with contextlib.suppress(RuntimeError):
            self._ordered_worker.submit(fn)

    def in_loop(self) -> bool:
        """Whether the caller runs on the server's loop thread."""
        return threading.current_thread() is self.loop_thread

    def call_in_loop(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread, from any thread; dropped once the server stopped."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if self.in_loop():
            fn(*args)
            return
        # The loop may close between the check and the call: the server is stopping.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(fn, *args)

    def shutdown(self) -> None:
        """Stop the worker pools (pending service calls finish first)."""
        self._workers.shutdown(wait=True, cancel_futures=True)
        self._cloud_worker.shutdown(wait=True, cancel_futures=True)
        self._ordered_worker.shutdown(wait=True, cancel_futures=True)


@dataclass
class Call:
    """One operation request on one stream."""

    core: CoreContext
    component: str
    operation: str  # full name, e.g. "aws.greengrass#PublishToTopic"
    request: dict[str, Any]
    stream: Stream

    def authorize(
        self, destination: str, resource: str, *, mqtt_style: bool = False, denial: str | None = None
    ) -> None:
        """Raise ``UnauthorizedError`` unless the caller's accessControl allows ``resource``.

        ``denial`` replaces the nucleus' AuthorizationException text where the nucleus does
        (mqttproxy answers just "Not Authorized").
        """
        try:
            self.core.authorizer.check(
                destination, self.component, self.operation, resource, mqtt_style=mqtt_style
            )
        except AuthorizationDenied as err:
            raise unauthorized(denial or str(err)) from err
