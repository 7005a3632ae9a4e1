"""Entry point: ``python -m components.sync`` (the recipe's Run step).

Connects IPC, opens the store (moving a corrupt or locked file aside), creates the awscrt S3
client (:mod:`components.sync.aws`: token-exchange credentials under Greengrass and localcore;
``AWS_ENDPOINT_URL`` points it at the embedded cloud locally), subscribes to the telemetry topics
and the IoT Core connection status, and runs until SIGTERM. boto3 is not imported: a boto3 S3
client alone costs about 57 MiB resident.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from bundlespec import load_spec
from components.common import topics
from components.common.ipc import Closeable, ComponentIpc
from components.common.live_config import LiveConfig, validate_config
from components.common.logs import kv
from components.common.service import run_service
from components.sync.aws import AwsApi, HttpClient, S3Client, StsClient
from components.sync.config import SyncConfig
from components.sync.exceptions import StoreUnusableError
from components.sync.service import SyncService, store_path
from components.sync.sinks import IpcMessageSink, S3ObjectSink
from components.sync.store.sqlite import move_aside, open_store
from components.sync.uploader import UploadTargets

log = logging.getLogger("sync")


def _bucket_resolver(sts: StsClient, region: str) -> Callable[[], str]:
    """The bundle's bucket for the account the credentials belong to (asked once, when online).

    Only when the configuration names no ``bucket`` (the CDK app's deployment names it; the local
    deployment leaves it to this, as the embedded cloud's account is moto's).
    """

    def resolve() -> str:
        return load_spec().bucket_name(account=sts.caller_account(), region=region)

    return resolve


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Build the component from its configuration and run it until ``stop`` is set."""
    config = validate_config(SyncConfig, ipc.get_config())
    spec = load_spec()
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or spec.region
    # One attempt per call: the uploader's own back-off (with jitter) handles outages, and client
    # retries would only hold a batch hostage while alerts wait.
    api = AwsApi.from_environment(region, http=HttpClient(connect_timeout_s=5, read_timeout_s=30))
    s3 = S3Client(api)
    bucket: str | Callable[[], str] = config.bucket or _bucket_resolver(StsClient(api), region)
    store, incident = open_store(store_path(config))
    if incident:
        log.error(kv(event="store_replaced", detail=incident))
    targets = UploadTargets(
        thing=ipc.thing_name,
        batch_key_prefix=spec.data.batch_key_prefix,
        image_key_prefix=spec.data.image_key_prefix,
        alerts_topic_template=spec.iot.alerts_topic,
    )
    service = SyncService(
        config,
        store,
        S3ObjectSink(s3, bucket),
        IpcMessageSink(ipc),
        targets,
        publisher=ipc,
        store_incident=incident,
    )
    subscriptions: list[Closeable] = []
    live = LiveConfig(ipc, SyncConfig, topics.SHADOW_SYNC, apply=service.apply)
    try:
        service.start()
        for topic, stream in topics.TELEMETRY_TOPICS.items():
            subscriptions.append(
                ipc.subscribe_json(
                    topic, service.message_handler(stream), on_undecodable=service.undecodable_handler(stream)
                )
            )
        try:
            subscriptions.append(ipc.subscribe_iot_connection_status(service.link.mqtt_status))
        except Exception as err:  # an older nucleus: upload failures alone then tell the link state
            log.warning(kv(event="connection_status_unavailable", error=repr(err)))
        live.start()
        ipc.report_running()
        log.info(kv(event="started", store=store_path(config), thing=ipc.thing_name))
        # Wake twice a second to notice a store that went bad under us.
        while not stop.wait(0.5) and not service.failed.is_set():
            pass
    finally:
        for subscription in subscriptions:
            try:
                subscription.close()
            except Exception as err:
                log.debug(kv(event="close_failed", error=repr(err)))
        live.stop()
        service.stop()
        store.close()
        api.http.close()
    if service.failure is not None:
        # Exit with an error so the nucleus restarts us; the damaged file is set aside first, so
        # the restart opens a new store instead of failing the same way again (no crash loop).
        move_aside(store_path(config), f"damaged while running: {service.failure!r}")
        raise StoreUnusableError(f"the store became unusable: {service.failure!r}") from service.failure


def main() -> int:
    """Run the sync component; returns the process exit code."""
    return run_service("sync", build_and_run)


if __name__ == "__main__":
    raise SystemExit(main())
