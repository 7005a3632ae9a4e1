"""The rig every component's tests share: waiting on a condition, recording messages, the recipe's
default configuration, a component's entry point run in a thread against localcore's IPC server,
its configuration shadow, and a do-nothing test component for the real core to start.

A component test reads as a story with these::

    store = config_store(NAME, THING, {"healthIntervalSeconds": 0.2})
    with ipc_server(tmp_path, components={NAME: ..., "test.Observer": pubsub_acl(subscribe=[...])},
                    config=store) as core:
        seen = RecordingPublisher().subscribe(ComponentIpc(core.client("test.Observer"), ...), topics.ALERTS)
        with running_component(core, NAME, THING, build_and_run):
            seen.wait_for(topics.ALERTS, lambda m: m["state"] == "raised")
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from components.common.ipc import Closeable, ComponentIpc
from components.common.messages import READING_BATCH_V1, reading_items
from localcore.config.store import ConfigStore
from localcore.ipc.testing import IpcHarness, ipc_server
from localcore.shadows.errors import ShadowNotFoundError
from localcore.testing import CoreHarness, running_core

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ROOT / "recipes"
WAIT_S = 30.0
# 20 polls a second at most: the real core's shadow store refuses more than 20 local requests a
# second per thing (maxLocalRequestsPerSecondPerThing), and a predicate may read a shadow.
POLL_S = 0.05
# A component that holds an IPC identity and does nothing else (it stands for a line controller,
# an observer, a producer).
IDLE_SCRIPT = 'exec python3 -c "import signal; signal.pause()"'


def wait_until(predicate: Callable[[], Any], timeout: float = WAIT_S, what: str = "condition") -> Any:
    """Poll ``predicate`` (for state with no event to wait on) until it is truthy; return its value.

    Raises:
        AssertionError: ``timeout`` seconds passed first; the message names ``what``.
    """
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        pause.wait(POLL_S)
    raise AssertionError(f"timed out waiting for {what}")


class RecordingPublisher:
    """Keeps every message, as a component's publisher or as an IPC subscriber; waits on a
    condition, never sleeps blindly."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.subscriptions: list[Closeable] = []
        self.batches = 0
        self._cond = threading.Condition()

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        """Record ``message`` on ``topic``."""
        with self._cond:
            self.messages.append((topic, message))
            self._cond.notify_all()

    def subscribe(self, ipc: ComponentIpc, *topics: str) -> RecordingPublisher:
        """Record what arrives on ``topics`` through ``ipc``'s real client; returns ``self``.

        A reading batch (``edgebundle.reading-batch.v1``, sent by a publisher that fell behind)
        is recorded as the readings it carries, one by one, so tests see readings either way;
        ``batches`` counts such messages.
        """
        for topic in topics:
            # Keep the operations: a garbage-collected subscription operation closes its stream.
            self.subscriptions.append(ipc.subscribe_json(topic, functools.partial(self._arrived, topic)))
        return self

    def _arrived(self, topic: str, message: dict[str, Any]) -> None:
        if not (isinstance(message, dict) and message.get("schema") == READING_BATCH_V1):
            self.publish(topic, message)
            return
        readings = [raw for _, raw in reading_items(message)]
        with self._cond:
            self.batches += 1
            self.messages.extend((topic, reading) for reading in readings)
            self._cond.notify_all()

    def on(self, topic: str) -> list[dict[str, Any]]:
        """The messages recorded on ``topic``, oldest first."""
        with self._cond:
            return [message for t, message in self.messages if t == topic]

    def wait(self, predicate: Callable[[], bool], timeout: float = WAIT_S, what: str = "messages") -> None:
        """Wait until ``predicate()`` holds, re-checked on each message.

        Raises:
            AssertionError: not within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out waiting for {what}")
                self._cond.wait(remaining)

    def wait_for(
        self,
        topic: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda _m: True,
        timeout: float = WAIT_S,
    ) -> dict[str, Any]:
        """The first message on ``topic`` that ``predicate`` accepts, waiting for it if need be.

        Raises:
            AssertionError: none within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for t, message in self.messages:
                    if t == topic and predicate(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no message on {topic} matched within {timeout} s")
                self._cond.wait(remaining)


def recipe_defaults(component: str, thing: str) -> dict[str, Any]:
    """The DefaultConfiguration of ``recipes/<component>.yaml``, recipe variables interpolated as
    the runner does."""
    recipe = yaml.safe_load((RECIPES / f"{component}.yaml").read_text())
    defaults: dict[str, Any] = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    return json.loads(json.dumps(defaults).replace("{iot:thingName}", thing))


def config_store(component: str, thing: str, deployment: Mapping[str, Any]) -> ConfigStore:
    """A configuration store serving ``component``'s recipe defaults with ``deployment`` merged."""
    store = ConfigStore()
    store.set_defaults(component, recipe_defaults(component, thing))
    store.merge(component, dict(deployment))
    return store


def pubsub_acl(
    name: str = "test", *, publish: Iterable[str] = (), subscribe: Iterable[str] = ()
) -> dict[str, Any]:
    """An ``accessControl`` allowing exactly publishing to ``publish`` and subscribing to ``subscribe``."""
    policies: dict[str, Any] = {}
    for operation, resources in (("PublishToTopic", list(publish)), ("SubscribeToTopic", list(subscribe))):
        if resources:
            policies[f"{name}:pubsub:{len(policies) + 1}"] = {
                "operations": [f"aws.greengrass#{operation}"],
                "resources": resources,
            }
    return {"aws.greengrass.ipc.pubsub": policies}


def write_idle_recipe(
    folder: Path, name: str, *, publish: Iterable[str] = (), subscribe: Iterable[str] = ()
) -> Path:
    """Write the recipe of a component that only holds its IPC identity (with :func:`pubsub_acl`)
    for the real core to start; returns its path."""
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": name,
        "ComponentVersion": "1.0.0",
        "ComponentConfiguration": {
            "DefaultConfiguration": {"accessControl": pubsub_acl(name, publish=publish, subscribe=subscribe)}
        },
        "Manifests": [{"Platform": {"os": "linux"}, "Lifecycle": {"Run": {"Script": IDLE_SCRIPT}}}],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


@contextmanager
def component_ipc_server(
    tmp_path: Path,
    component: str,
    thing: str,
    deployment: Mapping[str, Any],
    others: Mapping[str, Any] | None = None,
) -> Iterator[IpcHarness]:
    """localcore's IPC server with ``component`` registered under its recipe's accessControl and
    served its recipe defaults with ``deployment`` merged (``core.config``); ``others`` are test
    components' ``{name: accessControl}``."""
    components = {component: recipe_defaults(component, thing)["accessControl"], **(others or {})}
    with ipc_server(
        tmp_path, components=components, config=config_store(component, thing, deployment)
    ) as core:
        yield core


@contextmanager
def core_with_idle_component(
    tmp_path: Path,
    component: str,
    thing: str,
    deployment: Mapping[str, Any],
    idle: str,
    *,
    publish: Iterable[str] = (),
    subscribe: Iterable[str] = (),
) -> Iterator[tuple[CoreHarness, ComponentIpc]]:
    """The real core running ``component`` from its recipe next to an idle test component (see
    :func:`write_idle_recipe`); yields the core and, once ``idle`` runs, a real client as ``idle``."""
    idle_recipe = write_idle_recipe(tmp_path, idle, publish=publish, subscribe=subscribe)
    with running_core(
        tmp_path,
        [RECIPES / f"{component}.yaml", idle_recipe],
        thing_name=thing,
        deployment=dict(deployment),
        project_root=ROOT,
    ) as core:
        core.wait_for_state(idle, "RUNNING")
        yield core, ComponentIpc(core.client_for(idle), idle, thing)


EntryPoint = Callable[[ComponentIpc, threading.Event], None]


class ComponentThread:
    """A component's ``build_and_run(ipc, stop)`` in a thread, as ``run_service`` calls it; what it
    raised is kept in ``errors``."""

    def __init__(self, build_and_run: EntryPoint, ipc: ComponentIpc) -> None:
        self.ipc = ipc
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._run, args=(build_and_run,), daemon=True)

    def _run(self, build_and_run: EntryPoint) -> None:
        try:
            build_and_run(self.ipc, self.stop)
        except BaseException as err:  # the test asserts on it
            self.errors.append(err)


@contextmanager
def component_thread(
    build_and_run: EntryPoint, ipc: ComponentIpc, *, join_timeout: float = 10.0
) -> Iterator[ComponentThread]:
    """Start ``build_and_run`` in a thread; at exit set its stop event and join it."""
    component = ComponentThread(build_and_run, ipc)
    component.thread.start()
    try:
        yield component
    finally:
        component.stop.set()
        component.thread.join(join_timeout)


@contextmanager
def running_component(
    core: IpcHarness, name: str, thing: str, build_and_run: EntryPoint, *, join_timeout: float = 10.0
) -> Iterator[ComponentThread]:
    """Run ``name``'s entry point on a real client, yield once it reported RUNNING; at exit stop it
    and check it stopped, without raising, within ``join_timeout``."""
    ipc = ComponentIpc(core.client(name), name, thing)
    with component_thread(build_and_run, ipc, join_timeout=join_timeout) as component:
        wait_until(lambda: core.server.reported_state(name) == "RUNNING" or component.errors, what="RUNNING")
        assert not component.errors, component.errors
        yield component
    assert not component.thread.is_alive(), "the component did not stop when asked"
    assert not component.errors, component.errors


class ConfigShadow:
    """A component's configuration shadow in the core's shadow store, as the operator sees it.

    Args:
        core: anything with a ``shadows`` store (an ``IpcHarness`` or a ``CoreHarness``).
        thing: the thing name.
        shadow_name: the shadow's name, e.g. ``sensing-config``.
    """

    def __init__(self, core: Any, thing: str, shadow_name: str) -> None:
        self.core, self.thing, self.shadow_name = core, thing, shadow_name

    def shadow(self) -> dict[str, Any]:
        """The whole shadow document."""
        assert self.core.shadows is not None
        document: dict[str, Any] = json.loads(self.core.shadows.get(self.thing, self.shadow_name))
        return document

    def reported(self) -> dict[str, Any]:
        """``state.reported``; empty while the shadow does not exist yet."""
        try:
            return dict(self.shadow()["state"].get("reported") or {})
        except ShadowNotFoundError:
            return {}

    def desire(self, config: dict[str, Any]) -> None:
        """Set ``state.desired.config`` from the cloud side, as an operator would."""
        assert self.core.shadows is not None
        payload = json.dumps({"state": {"desired": {"config": config}}}).encode()
        self.core.shadows.update(self.thing, self.shadow_name, payload, source="cloud")
