"""Entry point: ``python -m components.sync`` (the recipe's Run step).

Reads the deployment's configuration for what stays fixed while running (the store, the bucket,
the region), opens the store (moving a corrupt or locked file aside), creates the awscrt S3 client
(:mod:`components.sync.aws`: token-exchange credentials under Greengrass and localcore;
``AWS_ENDPOINT_URL`` points it at the embedded cloud locally) and serves the component until
SIGTERM. boto3 is not imported: a boto3 S3 client alone costs about 57 MiB resident.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from components.common import topics
from components.common.ipc import ComponentIpc
from components.common.live_config import validate_config
from components.common.logs import kv
from components.common.service import run_service, serve_live_component
from components.sync.aws import AwsApi, HttpClient, S3Client, StsClient
from components.sync.component import SyncComponent, store_path
from components.sync.config import SyncConfig, aws_region
from components.sync.exceptions import StoreUnusableError
from components.sync.sinks import IpcMessageSink, S3ObjectSink, account_bucket
from components.sync.store.recovery import move_aside, open_store_when_space

log = logging.getLogger("sync")


def build_and_run(ipc: ComponentIpc, stop: threading.Event) -> None:
    """Configure from the deployment and the ``sync`` shadow, run until ``stop`` or a damaged store.

    Raises:
        StoreUnusableError: the store became unusable while running; it was moved aside, so the
            restart the nucleus makes opens a new one instead of failing the same way (no crash loop).
    """
    deployed = validate_config(SyncConfig, ipc.get_config())
    region = aws_region(deployed, os.environ)
    # One attempt per call: the uploader's own back-off (with jitter) handles outages, and client
    # retries would only hold a batch hostage while alerts wait.
    api = AwsApi.from_environment(region, http=HttpClient(connect_timeout_s=5, read_timeout_s=30))
    bucket = deployed.bucket or account_bucket(StsClient(api), deployed.bucket_prefix, region)
    # On a full disk it waits (logging once) rather than exit into a restart loop and BROKEN.
    opened = open_store_when_space(store_path(deployed), stop)
    if opened is None:
        return  # stopped while waiting for space
    store, incident = opened
    if incident:
        log.error(kv(event="store_replaced", detail=incident))
    component = SyncComponent(
        deployed,
        store,
        S3ObjectSink(S3Client(api), bucket),
        IpcMessageSink(ipc),
        ipc.thing_name,
        publisher=ipc,
        telemetry=ipc,
        store_incident=incident,
        on_failure=stop.set,
        replay_requests=ipc.publish_json,
    )
    try:
        serve_live_component(
            ipc,
            stop,
            model=SyncConfig,
            shadow=topics.SHADOW_SYNC,
            build=lambda _rejection: component,
            publisher=None,  # status goes out synchronously
            describe=lambda _config, _component: {"streams": len(component.policies), "region": region},
        )
    finally:
        store.close()
        api.http.close()
    if component.failure is not None:
        move_aside(store_path(deployed), f"damaged while running: {component.failure!r}")
        raise StoreUnusableError(f"the store became unusable: {component.failure!r}") from component.failure


def main() -> int:
    """Run the component; returns the process exit code."""
    return run_service("sync", build_and_run)


if __name__ == "__main__":
    sys.exit(main())
