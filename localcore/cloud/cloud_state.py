"""The embedded cloud's state kept between runs: S3 objects, DynamoDB items and thing shadows.

A real cloud outlives the device; so does this one. On stop the cloud's contents are written to
``<root>/cloud/state/`` and loaded into the next run's moto, so a core restart never deletes
configuration a user set through a cloud shadow or data that reached a bucket or table.

Layout (one directory, replaced as a whole so a crash mid-save leaves the previous state)::

    state/s3.jsonl            {"bucket", "key", "blob", "contentType"?, "metadata"?} per object
    state/blobs/<sha256>      the objects' bytes, exactly as stored
    state/dynamodb.jsonl      {"table", "item"} per item, in DynamoDB's typed JSON (binary as base64)
    state/shadows.jsonl       {"thing", "shadow", "state"} per cloud shadow ("" for the classic one)

Items keep their types (numbers as DynamoDB's decimal strings, binary, sets), so they come back
byte for byte; the plain ``dynamodb/<table>.jsonl`` dumps beside it are for reading, not loading.
A shadow's desired and reported state come back as they were; its version restarts (moto cannot
set one), as after a shadow is re-created in IoT Core.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.state")

STATE_DIR = "state"


def state_dir(cloud_dir: Path) -> Path:
    """Where the kept state of the cloud under ``cloud_dir`` lives."""
    return cloud_dir / STATE_DIR


def forget(cloud_dir: Path) -> None:
    """Drop the kept state (``--fresh-cloud``): the next load finds an empty cloud."""
    for path in (state_dir(cloud_dir), cloud_dir / f"{STATE_DIR}.tmp"):
        shutil.rmtree(path, ignore_errors=True)


def save(moto: Any, cloud_dir: Path) -> dict[str, int]:
    """Write every S3 object, DynamoDB item and cloud shadow of ``moto`` under ``cloud_dir``.

    Returns the counts written (``objects``, ``items``, ``shadows``).
    """
    final = state_dir(cloud_dir)
    temporary = cloud_dir / f"{STATE_DIR}.tmp"
    shutil.rmtree(temporary, ignore_errors=True)
    (temporary / "blobs").mkdir(parents=True)
    counts = {
        "objects": _save_s3(moto.client("s3"), temporary),
        "items": _save_dynamodb(moto.client("dynamodb"), temporary),
        "shadows": _save_shadows(moto.client("iot"), moto.client("iot-data"), temporary),
    }
    previous = cloud_dir / f"{STATE_DIR}.old"
    shutil.rmtree(previous, ignore_errors=True)
    if final.exists():
        final.replace(previous)
    temporary.replace(final)
    shutil.rmtree(previous, ignore_errors=True)
    log.info(kv(event="cloud_state_saved", dir=final, **counts))
    return counts


def load(moto: Any, cloud_dir: Path) -> dict[str, int]:
    """Put the kept state back into a freshly provisioned ``moto``; nothing kept loads nothing.

    A bucket or table the description no longer names is created again (its data is the user's).
    """
    directory = state_dir(cloud_dir)
    if not directory.is_dir():
        previous = cloud_dir / f"{STATE_DIR}.old"  # a crash between the two renames of save()
        if not previous.is_dir():
            return {"objects": 0, "items": 0, "shadows": 0}
        directory = previous
    counts = {
        "objects": _load_s3(moto, directory),
        "items": _load_dynamodb(moto.client("dynamodb"), directory),
        "shadows": _load_shadows(moto.client("iot"), moto.client("iot-data"), directory),
    }
    log.info(kv(event="cloud_state_loaded", dir=directory, **counts))
    return counts


# --- S3
def _save_s3(s3: Any, directory: Path) -> int:
    count = 0
    with (directory / "s3.jsonl").open("w", encoding="utf-8") as out:
        for bucket in s3.list_buckets().get("Buckets", []):
            name = bucket["Name"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
                for entry in page.get("Contents", []):
                    response = s3.get_object(Bucket=name, Key=entry["Key"])
                    body: bytes = response["Body"].read()
                    blob = hashlib.sha256(body).hexdigest()
                    (directory / "blobs" / blob).write_bytes(body)
                    record: dict[str, Any] = {"bucket": name, "key": entry["Key"], "blob": blob}
                    if response.get("ContentType"):
                        record["contentType"] = response["ContentType"]
                    if response.get("Metadata"):
                        record["metadata"] = response["Metadata"]
                    out.write(json.dumps(record) + "\n")
                    count += 1
    return count


def _load_s3(moto: Any, directory: Path) -> int:
    s3 = moto.client("s3")
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    count = 0
    for record in _records(directory / "s3.jsonl"):
        bucket = record["bucket"]
        if bucket not in existing:
            location = {} if moto.region == "us-east-1" else {"LocationConstraint": moto.region}
            s3.create_bucket(Bucket=bucket, **({"CreateBucketConfiguration": location} if location else {}))
            existing.add(bucket)
        extra: dict[str, Any] = {}
        if record.get("contentType"):
            extra["ContentType"] = record["contentType"]
        if record.get("metadata"):
            extra["Metadata"] = record["metadata"]
        body = (directory / "blobs" / record["blob"]).read_bytes()
        s3.put_object(Bucket=bucket, Key=record["key"], Body=body, **extra)
        count += 1
    return count


# --- DynamoDB
def _save_dynamodb(dynamodb: Any, directory: Path) -> int:
    count = 0
    with (directory / "dynamodb.jsonl").open("w", encoding="utf-8") as out:
        for table in dynamodb.list_tables().get("TableNames", []):
            schema = dynamodb.describe_table(TableName=table)["Table"]
            header = {
                "table": table,
                "keySchema": schema["KeySchema"],
                "attributeDefinitions": schema["AttributeDefinitions"],
            }
            out.write(json.dumps(header) + "\n")
            for page in dynamodb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    out.write(json.dumps({"table": table, "item": _encode_binary(item)}) + "\n")
                    count += 1
    return count


def _load_dynamodb(dynamodb: Any, directory: Path) -> int:
    existing = set(dynamodb.list_tables().get("TableNames", []))
    count = 0
    for record in _records(directory / "dynamodb.jsonl"):
        table = record["table"]
        if "item" not in record:
            if table not in existing:
                dynamodb.create_table(
                    TableName=table,
                    KeySchema=record["keySchema"],
                    AttributeDefinitions=record["attributeDefinitions"],
                    BillingMode="PAY_PER_REQUEST",
                )
                existing.add(table)
            continue
        dynamodb.put_item(TableName=table, Item=_decode_binary(record["item"]))
        count += 1
    return count


def _encode_binary(value: Any) -> Any:
    # Typed DynamoDB JSON except B/BS, which boto3 hands over as bytes: kept as base64 text.
    if isinstance(value, dict):
        encoded: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "B" and isinstance(inner, (bytes, bytearray)):
                encoded[key] = base64.b64encode(inner).decode()
            elif key == "BS" and isinstance(inner, list):
                encoded[key] = [base64.b64encode(bytes(part)).decode() for part in inner]
            else:
                encoded[key] = _encode_binary(inner)
        return encoded
    if isinstance(value, list):
        return [_encode_binary(inner) for inner in value]
    return value


def _decode_binary(value: Any) -> Any:
    if isinstance(value, dict):
        decoded: dict[str, Any] = {}
        for key, inner in value.items():
            if key == "B" and isinstance(inner, str) and len(value) == 1:
                decoded[key] = base64.b64decode(inner)
            elif key == "BS" and isinstance(inner, list) and len(value) == 1:
                decoded[key] = [base64.b64decode(part) for part in inner]
            else:
                decoded[key] = _decode_binary(inner)
        return decoded
    if isinstance(value, list):
        return [_decode_binary(inner) for inner in value]
    return value


# --- shadows
def _save_shadows(iot: Any, iot_data: Any, directory: Path) -> int:
    count = 0
    with (directory / "shadows.jsonl").open("w", encoding="utf-8") as out:
        for thing in _things(iot):
            names = ["", *_named_shadows(iot_data, thing)]
            for shadow in names:
                args = {"thingName": thing, **({"shadowName": shadow} if shadow else {})}
                try:
                    document = json.loads(iot_data.get_thing_shadow(**args)["payload"].read())
                except ClientError as err:
                    if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                        continue
                    raise
                state = {
                    section: document["state"][section]
                    for section in ("desired", "reported")
                    if (document.get("state") or {}).get(section) is not None
                }
                out.write(json.dumps({"thing": thing, "shadow": shadow, "state": state}) + "\n")
                count += 1
    return count


def _load_shadows(iot: Any, iot_data: Any, directory: Path) -> int:
    things = set(_things(iot))
    count = 0
    for record in _records(directory / "shadows.jsonl"):
        thing, shadow = record["thing"], record["shadow"]
        if thing not in things:
            iot.create_thing(thingName=thing)
            things.add(thing)
        args = {"thingName": thing, **({"shadowName": shadow} if shadow else {})}
        iot_data.update_thing_shadow(payload=json.dumps({"state": record["state"]}).encode(), **args)
        count += 1
    return count


def _things(iot: Any) -> Iterator[str]:
    for page in iot.get_paginator("list_things").paginate():
        for thing in page.get("things", []):
            yield thing["thingName"]


def _named_shadows(iot_data: Any, thing: str) -> list[str]:
    try:
        names: list[str] = iot_data.list_named_shadows_for_thing(thingName=thing).get("results", [])
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return []
        raise
    return names


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except ValueError as err:
                # One damaged line costs that record, never the start of the core.
                log.warning(kv(event="cloud_state_line_unreadable", path=path, line=number, error=err))
