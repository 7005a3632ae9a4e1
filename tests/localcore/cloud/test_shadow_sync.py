"""Shadow sync between the real local ShadowStore and moto's iot-data shadows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from localcore.cloud.connectivity import OFFLINE, ONLINE, Connectivity
from localcore.cloud.exceptions import ShadowSyncConfigError
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.shadow_sync import ShadowSync, SyncConfig, parse_sync_config
from localcore.shadows.store import ShadowStore

THING = "dev-1"


def _cloud_state(moto_cloud: MotoCloud, shadow: str) -> dict[str, Any]:
    payload = moto_cloud.client("iot-data").get_thing_shadow(thingName=THING, shadowName=shadow)["payload"]
    state: dict[str, Any] = json.loads(payload.read())["state"]
    return state


def _cloud_update(moto_cloud: MotoCloud, shadow: str, state: dict[str, Any]) -> None:
    moto_cloud.client("iot-data").update_thing_shadow(
        thingName=THING, shadowName=shadow, payload=json.dumps({"state": state}).encode()
    )


def _local_state(store: ShadowStore, shadow: str) -> dict[str, Any]:
    document = store.document(THING, shadow)
    assert document is not None
    return {k: v for k, v in document["state"].items() if k in ("desired", "reported")}


def _sync(
    tmp_path: Path, moto_cloud: MotoCloud, shadow: str, direction: str = "betweenDeviceAndCloud"
) -> tuple[ShadowStore, Connectivity, ShadowSync]:
    store = ShadowStore(tmp_path / "shadows", rate_limits=None)
    connectivity = Connectivity()
    config = SyncConfig(frozenset({(THING, shadow)}), direction)
    sync = ShadowSync(
        store, moto_cloud.client("iot-data"), connectivity, config, state_path=tmp_path / "sync.json"
    )
    return store, connectivity, sync


def test_config_has_shadowmanagers_shape() -> None:
    config = parse_sync_config(
        {
            "synchronize": {
                "coreThing": {"classic": False, "namedShadows": ["cfg"]},
                "shadowDocuments": [{"thingName": "other", "classic": True}],
                "shadowDocumentsMap": {"third": {"classic": False, "namedShadows": ["a", "b"]}},
                "direction": "deviceToCloud",
            }
        },
        core_thing=THING,
    )
    assert config.shadows == {(THING, "cfg"), ("other", ""), ("third", "a"), ("third", "b")}
    assert config.direction == "deviceToCloud"
    assert parse_sync_config(None, THING).shadows == frozenset()
    with pytest.raises(ShadowSyncConfigError, match=r"synchronize.direction"):
        parse_sync_config({"direction": "sideways"}, THING)
    with pytest.raises(ShadowSyncConfigError, match=r"shadowDocuments\[0\].thingName"):
        parse_sync_config({"shadowDocuments": [{"classic": True}]}, THING)
    with pytest.raises(ShadowSyncConfigError, match=r"coreThing.namedShadows"):
        parse_sync_config({"coreThing": {"namedShadows": "cfg"}}, THING)


def test_desired_from_cloud_arrives_locally_and_reported_goes_up(
    tmp_path: Path, moto_cloud: MotoCloud
) -> None:
    store, _, sync = _sync(tmp_path, moto_cloud, "s-updown")
    deltas: list[dict[str, Any]] = []
    store.set_publisher(
        lambda topic, payload: deltas.append(json.loads(payload)) if topic.endswith("/delta") else None
    )
    store.add_listener(lambda *args: None)
    _cloud_update(moto_cloud, "s-updown", {"desired": {"rate": 5}})

    assert sync.sync_one(THING, "s-updown")
    assert _local_state(store, "s-updown") == {"desired": {"rate": 5}}
    assert deltas and deltas[-1]["state"] == {"rate": 5}

    sync.start()
    try:
        store.update(THING, "s-updown", json.dumps({"state": {"reported": {"rate": 5}}}).encode())
        # the listener marks it pending; sync it now instead of waiting for the thread
        sync.sync_one(THING, "s-updown")
        assert _cloud_state(moto_cloud, "s-updown")["reported"] == {"rate": 5}
        assert "delta" not in _cloud_state(moto_cloud, "s-updown")
    finally:
        sync.stop()


def test_both_sides_changed_while_offline_resolve_by_the_rules(tmp_path: Path, moto_cloud: MotoCloud) -> None:
    store, connectivity, sync = _sync(tmp_path, moto_cloud, "s-conflict")
    store.update(
        THING,
        "s-conflict",
        json.dumps({"state": {"desired": {"mode": "auto"}, "reported": {"mode": "auto"}}}).encode(),
    )
    sync.start()
    try:
        assert sync.sync_one(THING, "s-conflict")
        assert _cloud_state(moto_cloud, "s-conflict")["reported"] == {"mode": "auto"}

        connectivity.set_state(OFFLINE)
        for value in ("manual", "eco"):  # two local updates: one merged pending update
            store.update(
                THING,
                "s-conflict",
                json.dumps(
                    {"state": {"desired": {"mode": value}, "reported": {"mode": value, "fan": 1}}}
                ).encode(),
            )
        _cloud_update(
            moto_cloud, "s-conflict", {"desired": {"mode": "cloudmode"}, "reported": {"mode": "stale"}}
        )
        assert sync.pending() == {(THING, "s-conflict")}
        assert sync.sync_pending() == 0  # offline: nothing reaches the cloud

        connectivity.set_state(ONLINE)
        assert sync.sync_one(THING, "s-conflict")
        expected = {"desired": {"mode": "cloudmode"}, "reported": {"mode": "eco", "fan": 1}}
        assert _local_state(store, "s-conflict") == expected
        cloud = _cloud_state(moto_cloud, "s-conflict")
        assert {k: cloud[k] for k in ("desired", "reported")} == expected
        assert sync.pending() == set()
    finally:
        sync.stop()


def test_own_writes_are_not_echoed(tmp_path: Path, moto_cloud: MotoCloud) -> None:
    store, _, sync = _sync(tmp_path, moto_cloud, "s-echo")
    _cloud_update(moto_cloud, "s-echo", {"desired": {"x": 1}})
    sync.sync_one(THING, "s-echo")
    local = store.document(THING, "s-echo")
    assert local is not None
    version_local = local["version"]
    cloud_doc = moto_cloud.client("iot-data").get_thing_shadow(thingName=THING, shadowName="s-echo")
    version_cloud = json.loads(cloud_doc["payload"].read())["version"]
    for _ in range(3):  # quiet polls change nothing on either side
        sync.sync_one(THING, "s-echo")
    local = store.document(THING, "s-echo")
    assert local is not None
    assert local["version"] == version_local
    cloud_doc = moto_cloud.client("iot-data").get_thing_shadow(thingName=THING, shadowName="s-echo")
    assert json.loads(cloud_doc["payload"].read())["version"] == version_cloud


def test_a_one_sided_delete_propagates(tmp_path: Path, moto_cloud: MotoCloud) -> None:
    store, _, sync = _sync(tmp_path, moto_cloud, "s-delete")
    store.update(THING, "s-delete", json.dumps({"state": {"reported": {"on": True}}}).encode())
    sync.sync_one(THING, "s-delete")
    store.delete(THING, "s-delete")
    sync.sync_one(THING, "s-delete")
    with pytest.raises(moto_cloud.client("iot-data").exceptions.ResourceNotFoundException):
        moto_cloud.client("iot-data").get_thing_shadow(thingName=THING, shadowName="s-delete")


def test_device_to_cloud_never_pulls_and_bookkeeping_survives_restart(
    tmp_path: Path, moto_cloud: MotoCloud
) -> None:
    store, connectivity, sync = _sync(tmp_path, moto_cloud, "s-oneway", direction="deviceToCloud")
    _cloud_update(moto_cloud, "s-oneway", {"desired": {"from": "cloud"}})
    store.update(THING, "s-oneway", json.dumps({"state": {"reported": {"from": "device"}}}).encode())
    sync.sync_one(THING, "s-oneway")
    assert _local_state(store, "s-oneway") == {"reported": {"from": "device"}}
    assert _cloud_state(moto_cloud, "s-oneway")["reported"] == {"from": "device"}

    connectivity.set_state(OFFLINE)
    sync.start()
    store.update(THING, "s-oneway", json.dumps({"state": {"reported": {"n": 2}}}).encode())
    sync.stop()
    again = ShadowSync(
        store, moto_cloud.client("iot-data"), connectivity, sync.config, state_path=tmp_path / "sync.json"
    )
    assert (THING, "s-oneway") in again.pending()


def test_the_classic_shadow_syncs_too(tmp_path: Path, moto_cloud: MotoCloud) -> None:
    store, _, sync = _sync(tmp_path, moto_cloud, "")
    store.update(THING, "", json.dumps({"state": {"reported": {"classic": 1}}}).encode())
    assert sync.sync_one(THING, "")
    payload = moto_cloud.client("iot-data").get_thing_shadow(thingName=THING)["payload"]
    assert json.loads(payload.read())["state"]["reported"] == {"classic": 1}


def test_a_document_the_local_store_refuses_stays_pending_without_killing_sync(
    tmp_path: Path, moto_cloud: MotoCloud
) -> None:
    store = ShadowStore(tmp_path / "shadows", rate_limits=None, max_document_size=64)
    config = SyncConfig(frozenset({(THING, "s-big")}))
    sync = ShadowSync(store, moto_cloud.client("iot-data"), Connectivity(), config)
    _cloud_update(moto_cloud, "s-big", {"desired": {"blob": "x" * 200}})
    assert not sync.sync_one(THING, "s-big")
    assert sync.pending() == {(THING, "s-big")}
    _cloud_update(moto_cloud, "s-big", {"desired": {"blob": "small"}})
    assert sync.sync_one(THING, "s-big")
    assert _local_state(store, "s-big") == {"desired": {"blob": "small"}}


def test_a_cloud_shadow_missing_at_the_first_sync_gets_the_device_copy(
    tmp_path: Path, moto_cloud: MotoCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """ShadowManager ``sync/model/FullShadowSyncRequest.java`` (aws-greengrass-shadow-manager,
    ``execute``): the cloud document missing and ``isFirstSync`` -> ``handleFirstCloudSync``, the
    local document is copied up ("Syncing cloud shadow for the first time")."""
    store, _, sync = _sync(tmp_path, moto_cloud, "s-first")
    store.update(THING, "s-first", json.dumps({"state": {"desired": {"config": {"x": 1}}}}).encode())
    with caplog.at_level("INFO", logger="localcore.cloud.shadow_sync"):
        assert sync.sync_one(THING, "s-first")
    assert _cloud_state(moto_cloud, "s-first")["desired"] == {"config": {"x": 1}}
    assert _local_state(store, "s-first") == {"desired": {"config": {"x": 1}}}
    assert "event=shadow_first_sync" in caplog.text


def test_a_cloud_shadow_gone_after_a_sync_is_deleted_locally_and_logged(
    tmp_path: Path, moto_cloud: MotoCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """ShadowManager ``FullShadowSyncRequest.execute``: the cloud document missing and not the first
    sync -> ``handleLocalDelete`` (the cloud-side delete is carried to the device). localcore says so
    in its log (``event=shadow_deleted_locally``) rather than deleting in silence."""
    store, _, sync = _sync(tmp_path, moto_cloud, "s-gone")
    store.update(THING, "s-gone", json.dumps({"state": {"desired": {"config": {"x": 1}}}}).encode())
    assert sync.sync_one(THING, "s-gone")
    moto_cloud.client("iot-data").delete_thing_shadow(thingName=THING, shadowName="s-gone")
    with caplog.at_level("WARNING", logger="localcore.cloud.shadow_sync"):
        assert sync.sync_one(THING, "s-gone")
    assert store.document(THING, "s-gone") is None
    assert "event=shadow_deleted_locally" in caplog.text
