"""The embedded cloud's AWS: moto's server on loopback, provisioned from a cloud description.

The resources are the ones the project's :class:`~localcore.cloud.description.CloudDescription`
names (buckets, tables, thing groups, things, IoT policy, token exchange role and role alias),
so a project that generates its description from its own infrastructure code gets in moto what
it deploys to AWS. On stop, what "reached the cloud" is written under ``<root>/cloud/``:
``s3/<bucket>/<key>`` and ``dynamodb/<table>.jsonl``.

moto keeps its state in process-wide backends: one :class:`MotoCloud` per process at a time (it
resets moto's state when it starts, so a test never sees a previous test's objects).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import boto3.session
from boto3.dynamodb.types import Binary, TypeDeserializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from localcore.cloud.description import CloudDescription
from localcore.cloud.exceptions import CloudStartError
from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.moto")

# moto accepts any credentials; these are the values its docs use, never real ones.
FAKE_ACCESS_KEY = "testing"
FAKE_SECRET_KEY = "testing"


class MotoCloud:
    """A moto server on ``127.0.0.1`` (free port) holding a description's cloud resources.

    Args:
        description: what to provision.
        things: the things to create besides the description's group members (default: its ``things``;
            the embedded cloud passes ``description.all_things(core_thing)``).
    """

    # Whether this server's state ends with it (the embedded cloud then keeps it between runs);
    # False for a server someone else runs and keeps.
    owns_state = True

    def __init__(self, description: CloudDescription, things: tuple[str, ...] | None = None) -> None:
        self.description = description
        self.region = description.region
        self.account = description.account
        self.things = things if things is not None else description.things
        self._server: Any = None
        self.url = ""
        self._session = boto3.session.Session()
        self._clients: dict[tuple[str, str], Any] = {}
        self._clients_lock = threading.Lock()

    # --- lifecycle
    def start(self) -> None:
        """Start the server, reset moto's state and provision the described resources."""
        # werkzeug logs every request at INFO; the core's log stays readable without it.
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        from moto.server import ThreadedMotoServer  # heavy import, only when a cloud is wanted

        started = time.monotonic()
        try:
            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            self._server.start()
            host, port = self._server.get_host_and_port()
        except OSError as err:
            raise CloudStartError(f"moto server did not start on 127.0.0.1: {err}") from err
        self.url = f"http://{host}:{port}"
        self._reset()
        try:
            self.provision()
        except (ClientError, BotoCoreError) as err:
            self.stop()
            raise CloudStartError(f"provisioning the embedded cloud failed: {err}") from err
        log.info(kv(event="moto_started", url=self.url, seconds=round(time.monotonic() - started, 2)))

    def stop(self, dump_to: Path | None = None) -> None:
        """Dump S3 and DynamoDB under ``dump_to`` (when given), then stop the server."""
        if self._server is None:
            return
        try:
            if dump_to is not None:
                self.dump(dump_to)
        finally:
            self._server.stop()
            self._server = None
            log.info(kv(event="moto_stopped", url=self.url))

    def _reset(self) -> None:
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    # --- clients
    def client(self, service: str, endpoint_url: str | None = None) -> Any:
        """A boto3 client of ``service`` talking to this cloud (or to ``endpoint_url``).

        Clients are cached per service and endpoint and share one session: loading botocore's
        service models is most of a client's cost, and boto3 clients are thread-safe.
        """
        key = (service, endpoint_url or self.url)
        with self._clients_lock:
            found = self._clients.get(key)
            if found is None:
                found = self._session.client(
                    service,  # type: ignore[call-overload]
                    endpoint_url=key[1],
                    region_name=self.region,
                    aws_access_key_id=FAKE_ACCESS_KEY,
                    aws_secret_access_key=FAKE_SECRET_KEY,
                    config=Config(
                        retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=2, read_timeout=10
                    ),
                )
                self._clients[key] = found
            return found

    @property
    def bucket(self) -> str:
        """The description's first bucket (a shortcut for tools and tests with one data bucket)."""
        if not self.description.buckets:
            raise CloudStartError("the cloud description names no bucket")
        return self.description.buckets[0]

    # --- provisioning
    def provision(self) -> None:
        """Create the described resources (idempotent only on a fresh moto)."""
        description = self.description
        s3 = self.client("s3")
        for bucket in description.buckets:
            # us-east-1 refuses a LocationConstraint; every other region needs one.
            location = {} if self.region == "us-east-1" else {"LocationConstraint": self.region}
            s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
        dynamodb = self.client("dynamodb")
        for table in description.tables:
            keys = [{"AttributeName": table.hash_key, "KeyType": "HASH"}]
            attributes = [{"AttributeName": table.hash_key, "AttributeType": "S"}]
            if table.range_key:
                keys.append({"AttributeName": table.range_key, "KeyType": "RANGE"})
                attributes.append({"AttributeName": table.range_key, "AttributeType": "S"})
            dynamodb.create_table(
                TableName=table.name,
                KeySchema=keys,
                AttributeDefinitions=attributes,
                BillingMode="PAY_PER_REQUEST",
            )
        iot = self.client("iot")
        things = tuple(
            dict.fromkeys([*self.things, *(t for g in description.thing_groups for t in g.things)])
        )
        for thing in things:
            iot.create_thing(thingName=thing)
        for group in description.thing_groups:
            iot.create_thing_group(thingGroupName=group.name)
            for thing in group.things:
                iot.add_thing_to_thing_group(thingGroupName=group.name, thingName=thing)
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "credentials.iot.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = self.client("iam").create_role(
            RoleName=description.role_alias.role, AssumeRolePolicyDocument=json.dumps(trust)
        )
        iot.create_role_alias(roleAlias=description.role_alias.name, roleArn=role["Role"]["Arn"])
        policy = description.iot_policy
        if policy is not None:
            iot.create_policy(policyName=policy.name, policyDocument=json.dumps(policy.document))
        # As a fleet's provisioning does: one active certificate per thing, the device policy
        # attached to it, the certificate attached to the thing.
        for thing in things:
            certificate = iot.create_keys_and_certificate(setAsActive=True)
            if policy is not None:
                iot.attach_policy(policyName=policy.name, target=certificate["certificateArn"])
            iot.attach_thing_principal(thingName=thing, principal=certificate["certificateArn"])

    # --- what reached the cloud
    def dump(self, cloud_dir: Path) -> None:
        """Write every S3 object and DynamoDB item under ``cloud_dir``."""
        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for entry in page.get("Contents", []):
                    target = _safe_join(cloud_dir / "s3" / name, entry["Key"])
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(s3.get_object(Bucket=name, Key=entry["Key"])["Body"].read())
        dynamodb = self.client("dynamodb")
        deserializer = TypeDeserializer()
        (cloud_dir / "dynamodb").mkdir(parents=True, exist_ok=True)
        for table in dynamodb.list_tables().get("TableNames", []):
            lines = []
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    plain = {key: deserializer.deserialize(value) for key, value in item.items()}
                    lines.append(json.dumps(plain, default=_json_default, sort_keys=True))
            (cloud_dir / "dynamodb" / f"{table}.jsonl").write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )
        log.info(kv(event="cloud_dumped", dir=cloud_dir))

    def write_endpoint(self, cloud_dir: Path, **extra: str) -> Path:
        """Write ``endpoint.json`` (URL, region, account, plus ``extra``) for users and tools."""
        cloud_dir.mkdir(parents=True, exist_ok=True)
        path = cloud_dir / "endpoint.json"
        document = {"url": self.url, "region": self.region, "account": self.account, **extra}
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Binary):  # a B attribute: boto3 wraps its bytes
        value = value.__bytes__()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8", "replace")
    if isinstance(value, set):
        return sorted(value, key=str)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _safe_join(base: Path, key: str) -> Path:
    # S3 keys may contain '..' or a leading '/'; keep every dumped file inside base.
    parts = [part for part in key.split("/") if part not in ("", ".", "..")]
    return base.joinpath(*parts) if parts else base / "_"
