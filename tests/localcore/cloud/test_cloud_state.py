"""The embedded cloud outlives the core: S3 objects, DynamoDB items and cloud shadows come back
after a restart exactly as they were; ``fresh`` (``localcore run --fresh-cloud``) starts empty.

Issue #17 (deliverable 5): the embedded cloud once started empty on every run, so a restart lost
what had reached the cloud and shadow sync then deleted the local copies of cloud-set shadows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcore.cloud.options import CloudOptions
from localcore.cloud.service import EmbeddedCloud
from localcore.shadows.store import ShadowStore
from tests.localcore.cloud.description import DESCRIPTION

THING = "dev-1"
BLOB = bytes(range(256)) * 3  # every byte value: nothing may be decoded or re-encoded on the way
ITEM: dict[str, Any] = {
    "pk": {"S": "line-1"},
    "sk": {"S": "2026-12-08T04:00:00Z"},
    "count": {"N": "12.500"},
    "raw": {"B": b"\x00\xffframe"},
    "tags": {"SS": ["a", "b"]},
    "nested": {"M": {"ok": {"BOOL": True}, "list": {"L": [{"N": "1"}, {"NULL": True}]}}},
}


def _cloud(root: Path, fresh: bool = False) -> EmbeddedCloud:
    return EmbeddedCloud(root, THING, description=DESCRIPTION, options=CloudOptions(fresh=fresh))


def _table() -> Any:
    return next(table for table in DESCRIPTION.tables if table.range_key)


def _fill(cloud: EmbeddedCloud) -> None:
    table = _table()
    cloud.moto.client("s3").put_object(
        Bucket=DESCRIPTION.buckets[0], Key="a/b/../frame.bin", Body=BLOB, ContentType="image/x-raw"
    )
    item = dict(ITEM)
    item[table.hash_key] = item.pop("pk")
    item[table.range_key] = item.pop("sk")
    cloud.moto.client("dynamodb").put_item(TableName=table.name, Item=item)
    cloud.shadow_update(THING, "sensing-config", {"state": {"desired": {"config": {"rateHz": 2}}}})
    cloud.shadow_update(THING, "", {"state": {"reported": {"on": True}}})


def test_objects_items_and_shadows_survive_a_restart_byte_for_byte(tmp_path: Path) -> None:
    first = _cloud(tmp_path)
    first.start()
    try:
        _fill(first)
        items_before = first.moto.client("dynamodb").scan(TableName=_table().name)["Items"]
    finally:
        first.stop()

    second = _cloud(tmp_path)
    second.start()
    try:
        body = second.moto.client("s3").get_object(Bucket=DESCRIPTION.buckets[0], Key="a/b/../frame.bin")
        assert body["Body"].read() == BLOB
        assert body["ContentType"] == "image/x-raw"
        assert second.moto.client("dynamodb").scan(TableName=_table().name)["Items"] == items_before
        shadow = second.shadow_get(THING, "sensing-config")
        assert shadow is not None and shadow["state"]["desired"] == {"config": {"rateHz": 2}}
        classic = second.shadow_get(THING, "")
        assert classic is not None and classic["state"]["reported"] == {"on": True}
    finally:
        second.stop()


def test_fresh_starts_from_an_empty_cloud(tmp_path: Path) -> None:
    first = _cloud(tmp_path)
    first.start()
    try:
        _fill(first)
    finally:
        first.stop()
    fresh = _cloud(tmp_path, fresh=True)
    fresh.start()
    try:
        assert fresh.moto.client("s3").list_objects_v2(Bucket=DESCRIPTION.buckets[0]).get("KeyCount") == 0
        assert fresh.moto.client("dynamodb").scan(TableName=_table().name)["Items"] == []
        assert fresh.shadow_get(THING, "sensing-config") is None
    finally:
        fresh.stop()


def test_a_restarted_cloud_keeps_a_cloud_set_shadow_and_the_device_copy(tmp_path: Path) -> None:
    """The bug of issue #17: configuration set through the cloud shadow survived neither side of a
    restart. Both the cloud shadow and the device's copy must still be there after it."""
    options = {"synchronize": {"coreThing": {"classic": False, "namedShadows": ["sensing-config"]}}}
    for run in range(2):
        store = ShadowStore(tmp_path / "shadows", rate_limits=None)
        cloud = EmbeddedCloud(
            tmp_path, THING, description=DESCRIPTION, options=CloudOptions(shadow_sync=options)
        )
        cloud.start()
        try:
            sync = cloud.attach_shadows(store)
            assert sync is not None
            if run == 0:
                cloud.shadow_update(
                    THING, "sensing-config", {"state": {"desired": {"config": {"rateHz": 3}}}}
                )
            assert sync.sync_one(THING, "sensing-config")
            local = store.document(THING, "sensing-config")
            assert local is not None and local["state"]["desired"] == {"config": {"rateHz": 3}}
            remote = cloud.shadow_get(THING, "sensing-config")
            assert remote is not None and remote["state"]["desired"] == {"config": {"rateHz": 3}}
        finally:
            cloud.stop()


def test_a_damaged_state_file_names_itself_and_the_way_out(tmp_path: Path) -> None:
    state = tmp_path / "cloud" / "state"
    state.mkdir(parents=True)
    (state / "s3.jsonl").write_text(json.dumps({"bucket": DESCRIPTION.buckets[0], "key": "k"}) + "\n")
    cloud = _cloud(tmp_path)
    from localcore.cloud.exceptions import CloudStartError

    with pytest.raises(CloudStartError, match="--fresh-cloud"):
        cloud.start()
