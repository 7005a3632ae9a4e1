"""``EmbeddedCloud``: the default cloud of ``localcore run``, with every part wired together.

    moto server  <- fault proxy <- components' boto3 (AWS_ENDPOINT_URL, TES credentials)
         ^
    rule engine <- broker <- EmbeddedCloudAdapter <- IPC server (PublishToIoTCore ...)
                                                   ^ connectivity (CLI, schedule)
    shadow sync: local ShadowStore <-> moto iot-data

It provisions what a :class:`~localcore.cloud.description.CloudDescription` names and is a
:class:`~localcore.contracts.CloudService`, so a core can run with it directly.

Example::

    cloud = EmbeddedCloud(root, thing_name="dev-1", description=load_cloud_description(path))
    cloud.start()                                  # well under 5 s
    server = IpcServer(..., cloud=cloud)
    runner = Runner(..., extra_environment=cloud.environment)
    cloud.attach_shadows(store)                    # once the shadow store exists
    cloud.register_control(control_server)         # `localcore cloud ...` commands
    ...
    cloud.stop()                                   # dumps S3 and DynamoDB under <root>/cloud/

The cloud outlives the core: S3 objects, DynamoDB items and cloud shadows are kept under
``<root>/cloud/state/`` on stop and loaded at the next start (:mod:`localcore.cloud.cloud_state`);
``CloudOptions(fresh=True)`` (``localcore run --fresh-cloud``) starts from an empty cloud instead.
"""

from __future__ import annotations

import base64
import json
import logging
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcore.cloud import cloud_state
from localcore.cloud.adapter import EmbeddedCloudAdapter
from localcore.cloud.broker import CLOUD, CloudBroker
from localcore.cloud.connectivity import FLAKY, OFFLINE, ONLINE, Connectivity, ScheduleDriver, parse_schedule
from localcore.cloud.description import CloudDescription
from localcore.cloud.exceptions import CloudError, CloudStartError
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.options import CloudOptions
from localcore.cloud.proxy import FaultProxy
from localcore.cloud.rules import RuleEngine
from localcore.cloud.shadow_sync import ShadowSync, SyncConfig, parse_sync_config
from localcore.cloud.tes import TokenExchangeService, moto_role_credentials
from localcore.contracts import CloudContext, CommandRegistry, IotMessage, ShadowService, Unsubscribe
from localcore.logfmt import kv
from localcore.mqtt_topics import validate_topic_filter, validate_topic_name

log = logging.getLogger("localcore.cloud")


class EmbeddedCloud:
    """moto, IoT Core, shadow sync, token exchange and connectivity faults for one local core."""

    def __init__(
        self,
        root: Path,
        thing_name: str,
        *,
        description: CloudDescription | None = None,
        options: CloudOptions | None = None,
        shadows: ShadowService | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.cloud_dir = self.root / "cloud"
        self.thing_name = thing_name
        self.options = options or CloudOptions()
        self.description = description or CloudDescription()
        self.connectivity = Connectivity()
        self.moto = MotoCloud(self.description, self.description.all_things(thing_name))
        # A deployment's ShadowManager configuration wins over the description's (the fleet's).
        shadow_sync = self.options.shadow_sync
        if shadow_sync is None and self.description.shadow_sync is not None:
            shadow_sync = {"synchronize": self.description.shadow_sync}
        self.sync_config: SyncConfig = parse_sync_config(shadow_sync, thing_name)
        self.broker = CloudBroker()
        self.adapter = EmbeddedCloudAdapter(self.broker, self.connectivity, self.options.spooler)
        self._schedule = parse_schedule(self.options.schedule) if self.options.schedule else None
        self._clock = clock
        self._driver: ScheduleDriver | None = None
        self.proxy: FaultProxy | None = None
        self.tes: TokenExchangeService | None = None
        self.shadow_sync: ShadowSync | None = None
        self._watchers: list[queue.Queue[IotMessage | None]] = []
        self._shadows = shadows
        self._started = False

    # --- lifecycle
    def start(self) -> None:
        """Start moto, the rules, the proxy and the credentials endpoint; write endpoint.json."""
        started = time.monotonic()
        self.moto.start()
        self._restore_state()
        self.broker.rules = RuleEngine.from_description(
            self.description, self.moto.client("dynamodb"), self.moto.client("s3")
        )
        host, port = self.moto.url.removeprefix("http://").rsplit(":", 1)
        self.proxy = FaultProxy(self.connectivity, host, int(port))
        self.proxy.start()
        fetch = moto_role_credentials(
            self.moto.client("sts"), self.moto.client("iot"), self.description.role_alias.name
        )

        def source() -> dict[str, Any]:
            # IoT's credentials provider is in the cloud: offline, TES serves only what it cached.
            if self.connectivity.should_drop():
                raise CloudError("the credentials provider is unreachable (offline)")
            return fetch()

        self.tes = TokenExchangeService(source, endpoint_url=self.proxy.url, region=self.description.region)
        self.tes.start()
        if self._schedule is not None:
            self._driver = ScheduleDriver(self.connectivity, self._schedule, self._clock)
            self._driver.start()
        self.moto.write_endpoint(self.cloud_dir, proxyUrl=self.proxy.url, credentialsUrl=self.tes.url)
        self._started = True
        if self._shadows is not None:
            self.attach_shadows(self._shadows)
        log.info(
            kv(
                event="cloud_started",
                url=self.moto.url,
                proxy=self.proxy.url,
                seconds=round(time.monotonic() - started, 2),
            )
        )

    def _restore_state(self) -> None:
        if not self.moto.owns_state:
            return  # a moto server that outlives this core keeps its own state
        if self.options.fresh:
            # A fresh cloud has never synced with this device: forget the sync bookkeeping too,
            # so the device's shadows are a first sync (pushed up), not a cloud-side delete.
            cloud_state.forget(self.cloud_dir)
            (self.cloud_dir / "shadow-sync.json").unlink(missing_ok=True)
            log.info(kv(event="cloud_fresh", dir=self.cloud_dir))
            return
        try:
            cloud_state.load(self.moto, self.cloud_dir)
        except (ClientError, OSError, KeyError, TypeError) as err:
            self.moto.stop()
            raise CloudStartError(
                f"the embedded cloud's kept state under {cloud_state.state_dir(self.cloud_dir)} could not "
                f"be loaded ({err!r}); fix or move it, or start from an empty cloud with --fresh-cloud"
            ) from err

    def attach_shadows(self, shadows: ShadowService) -> ShadowSync | None:
        """Sync the configured shadows of ``shadows`` with the cloud (nothing if none configured)."""
        if not self.sync_config.shadows:
            return None
        iot = self.moto.client("iot")
        for thing in {thing for thing, _ in self.sync_config.shadows}:
            # moto's CreateThing replaces an existing thing, shadows included: create only a missing one.
            try:
                iot.describe_thing(thingName=thing)
            except ClientError:
                iot.create_thing(thingName=thing)
        self.shadow_sync = ShadowSync(
            shadows,
            self.moto.client("iot-data"),
            self.connectivity,
            self.sync_config,
            poll_interval=self.options.shadow_poll_interval,
            state_path=self.cloud_dir / "shadow-sync.json",
            on_cloud_update=self._announce_shadow_update,
        )
        self.shadow_sync.start()
        return self.shadow_sync

    def stop(self) -> None:
        """Stop everything; S3 objects and DynamoDB items are written under ``<root>/cloud/``."""
        if not self._started:
            return
        self._started = False
        for watcher in list(self._watchers):
            watcher.put(None)
        if self._driver is not None:
            self._driver.stop()
        if self.shadow_sync is not None:
            self.shadow_sync.stop()
        if self.tes is not None:
            self.tes.stop()
        if self.proxy is not None:
            self.proxy.stop()
        self.adapter.close()
        self.broker.close()  # the rules finish what was published before the dump
        try:
            if self.moto.owns_state:
                cloud_state.save(self.moto, self.cloud_dir)
        except Exception as err:  # the previous state stays in place; stopping must go on
            log.exception(kv(event="cloud_state_save_failed", dir=self.cloud_dir, error=repr(err)))
        self.moto.stop(dump_to=self.cloud_dir)

    def __enter__(self) -> EmbeddedCloud:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- CloudAdapter, so the core can hand this object to the IPC server directly
    def publish(self, message: IotMessage) -> None:
        """PublishToIoTCore (see :class:`EmbeddedCloudAdapter`)."""
        self.adapter.publish(message)

    def subscribe(self, topic_filter: str, qos: int, on_message: Callable[[IotMessage], None]) -> Unsubscribe:
        """SubscribeToIoTCore (see :class:`EmbeddedCloudAdapter`)."""
        return self.adapter.subscribe(topic_filter, qos, on_message)

    def is_connected(self) -> bool:
        """Whether the device's MQTT connection is up."""
        return self.adapter.is_connected()

    def add_connection_listener(self, listener: Callable[[bool], None]) -> Unsubscribe:
        """SubscribeToIoTCoreConnectionStatus's source."""
        return self.adapter.add_connection_listener(listener)

    # --- for the runner
    def environment(self, component: str, token: str, dependencies: list[str]) -> dict[str, str]:
        """The runner's extra-environment hook (credentials and endpoint for TES dependents)."""
        if self.tes is None:
            return {}
        return self.tes.environment(component, token, dependencies)

    # --- what the CLI does
    def set_connectivity(self, state: str, drop: float | None = None) -> dict[str, Any]:
        """Go online, offline or flaky by hand (a running schedule will change it again)."""
        self.connectivity.set_state(state, drop)
        return self.status()

    def publish_from_cloud(self, topic: str, payload: bytes, qos: int = 0) -> int:
        """Publish as a cloud client would (IoT console, a backend): rules and subscribers see it."""
        validate_topic_name(topic)
        if qos not in (0, 1):
            raise ValueError(f"qos must be 0 or 1, got {qos}")
        return self.broker.publish(IotMessage(topic=topic, payload=payload, qos=qos), origin=CLOUD)

    def watch(self, topic_filter: str) -> Iterator[IotMessage]:
        """Subscribe now; the iterator yields every matching message until the cloud stops."""
        validate_topic_filter(topic_filter)
        inbox: queue.Queue[IotMessage | None] = queue.Queue(maxsize=10_000)

        def _enqueue(message: IotMessage) -> None:
            try:
                inbox.put_nowait(message)
            except queue.Full:
                log.warning(kv(event="watch_overflow", topic=message.topic))

        unsubscribe = self.broker.subscribe(topic_filter, _enqueue)
        self._watchers.append(inbox)

        def _messages() -> Iterator[IotMessage]:
            try:
                while True:
                    message = inbox.get()
                    if message is None:
                        return
                    yield message
            finally:
                unsubscribe()
                self._watchers.remove(inbox)

        return _messages()

    def shadow_get(self, thing: str, shadow: str = "") -> dict[str, Any] | None:
        """The cloud's shadow document, or ``None`` if it does not exist."""
        args = {"thingName": thing, **({"shadowName": shadow} if shadow else {})}
        try:
            response = self.moto.client("iot-data").get_thing_shadow(**args)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise
        document: dict[str, Any] = json.loads(response["payload"].read())
        return document

    def shadow_update(self, thing: str, shadow: str, document: dict[str, Any]) -> dict[str, Any]:
        """Update the cloud's shadow (as in the console) and let the sync notice it right away."""
        if not isinstance(document, dict) or "state" not in document:
            raise ValueError(
                'a shadow update needs a JSON object with "state", e.g. {"state": {"desired": {"x": 1}}}'
            )
        iot = self.moto.client("iot")
        try:
            iot.describe_thing(thingName=thing)
        except ClientError:
            iot.create_thing(thingName=thing)
        args = {"thingName": thing, **({"shadowName": shadow} if shadow else {})}
        response = self.moto.client("iot-data").update_thing_shadow(
            payload=json.dumps(document).encode(), **args
        )
        if self.shadow_sync is not None:
            self.shadow_sync.poll_now()
        raw = response["payload"].read()
        self._announce_shadow_update(thing, shadow, raw)
        accepted: dict[str, Any] = json.loads(raw)
        return accepted

    def _announce_shadow_update(self, thing: str, shadow: str, accepted: bytes) -> None:
        # moto's iot-data publishes nothing; IoT Core publishes update/accepted, which is what
        # `localcore cloud watch '$aws/things/#'` should show.
        prefix = f"$aws/things/{thing}/shadow" + (f"/name/{shadow}" if shadow else "")
        self.broker.publish(IotMessage(f"{prefix}/update/accepted", accepted, qos=0), origin=CLOUD)

    def status(self) -> dict[str, Any]:
        """Connectivity, spool and rule counters, endpoints."""
        rules = self.broker.rules.stats if self.broker.rules is not None else {}
        return {
            "connectivity": self.connectivity.state,
            "drop": self.connectivity.drop,
            "connected": self.adapter.is_connected(),
            "spooled": len(self.adapter.spooled()),
            "spool": vars(self.adapter.stats),
            "rules": {name: vars(stats) for name, stats in rules.items()},
            "url": self.moto.url,
            "proxyUrl": self.proxy.url if self.proxy else None,
            "shadowsPending": sorted(f"{t}/{s or 'classic'}" for t, s in self.shadow_sync.pending())
            if self.shadow_sync
            else [],
        }

    def register_control(self, control: CommandRegistry) -> None:
        """Add the ``cloud.*`` commands to the core's control channel."""
        from localcore.cloud.control_commands import register_cloud_commands

        register_cloud_commands(control, self)


def message_to_json(message: IotMessage) -> dict[str, Any]:
    """A message as the CLI prints it: text payloads as text, binary ones in base64."""
    result: dict[str, Any] = {"topic": message.topic, "qos": message.qos}
    try:
        result["payload"] = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        result["payloadBase64"] = base64.b64encode(message.payload).decode()
    return result


def embedded_cloud_factory(
    schedule: str | None = None,
    options: CloudOptions | None = None,
    description: CloudDescription | None = None,
    fresh: bool = False,
) -> Callable[[CloudContext], EmbeddedCloud]:
    """A ``LocalCore`` cloud factory: ``LocalCore(..., cloud=embedded_cloud_factory("online:60,offline:30"))``.

    The schedule is checked now, so a bad ``--connectivity`` fails before anything starts. Spooler
    and shadow sync settings come from the core's deployment (nucleus ``mqtt.spooler``,
    ShadowManager ``synchronize``) unless ``options`` is given; the resources from
    ``description`` (none but the core's thing and a role alias without one). ``fresh`` starts
    from an empty cloud instead of the one the previous run kept.
    """
    if schedule:
        parse_schedule(schedule)

    def make(context: CloudContext) -> EmbeddedCloud:
        chosen = options or CloudOptions.from_configuration(context.configuration, schedule=schedule)
        if fresh:
            chosen.fresh = True
        return EmbeddedCloud(
            context.root,
            context.thing_name,
            description=description,
            options=chosen,
            shadows=context.shadows,
        )

    return make


__all__ = [
    "FLAKY",
    "OFFLINE",
    "ONLINE",
    "CloudOptions",
    "EmbeddedCloud",
    "embedded_cloud_factory",
    "message_to_json",
]
