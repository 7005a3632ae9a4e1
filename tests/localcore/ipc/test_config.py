"""Configuration operations with the real client against the real ConfigStore."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from awsiot.greengrasscoreipc.model import (
    FailedUpdateConditionCheckError,
    InvalidArgumentsError,
    ResourceNotFoundError,
)

from localcore.config import ConfigStore
from localcore.ipc.testing import IpcHarness
from tests.localcore.ipc.conditions import Collector


def _now() -> datetime:
    return datetime.now(timezone.utc)


def test_get_answers_maps_for_nodes_and_named_values_for_leaves(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    whole = client.get_configuration()
    assert whole.component_name == "com.example.Pub"
    assert whole.value == {"mqtt": {"port": 8883, "Host": "localhost"}, "rate": 5}
    assert client.get_configuration(key_path=["mqtt"]).value == {"port": 8883, "Host": "localhost"}
    assert client.get_configuration(key_path=["MQTT", "port"]).value == {"port": 8883}  # case-insensitive
    other = client.get_configuration(component_name="com.example.Sub", key_path=["threshold", "high"])
    assert (other.component_name, other.value) == ("com.example.Sub", {"high": 30})


def test_get_missing_key_or_component_is_resource_not_found(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_configuration(key_path=["nope"])
    assert missing.value.message == "Key not found"
    with pytest.raises(ResourceNotFoundError):
        client.get_configuration(component_name="com.example.Unknown")


def test_update_merges_and_applies_the_timestamp_rule(core: IpcHarness, config_service: ConfigStore) -> None:
    client = core.client("com.example.Pub")
    now = _now()
    client.update_configuration(key_path=["mqtt"], value_to_merge={"port": 1883}, timestamp=now)
    assert config_service.get("com.example.Pub", ["mqtt"]) == {"port": 1883, "Host": "localhost"}
    with pytest.raises(FailedUpdateConditionCheckError) as stale:
        client.update_configuration(
            key_path=["mqtt"], value_to_merge={"port": 1}, timestamp=now - timedelta(seconds=60)
        )
    assert stale.value.message == "Proposed timestamp is older than the config's latest modified timestamp"
    assert config_service.get("com.example.Pub", ["mqtt", "port"]) == 1883


def test_update_validation(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    with pytest.raises(InvalidArgumentsError) as no_time:
        client.update_configuration(key_path=["rate"], value_to_merge={"rate": 1})
    assert no_time.value.message == "Timestamp is required"
    with pytest.raises(InvalidArgumentsError) as acl:
        client.update_configuration(key_path=["accessControl"], value_to_merge={"x": 1}, timestamp=_now())
    assert "accessControl" in acl.value.message
    with pytest.raises(InvalidArgumentsError) as no_value:
        client.update_configuration(key_path=["rate"], timestamp=_now())
    assert no_value.value.message == "Value to merge is required"


def test_subscription_reports_changed_key_paths_until_closed(
    core: IpcHarness, config_service: ConfigStore
) -> None:
    watcher = core.client("com.example.Sub")
    events = Collector()
    _, operation = watcher.subscribe_to_configuration_update(
        component_name="com.example.Pub", key_path=["mqtt"], **events.handlers()
    )
    core.client("com.example.Pub").update_configuration(
        key_path=["mqtt"], value_to_merge={"port": 1}, timestamp=_now()
    )
    config_service.update("com.example.Pub", ["rate"], 7, time.time())  # outside the watched path
    event = events.wait_for(1)[0].configuration_update_event
    assert (event.component_name, event.key_path) == ("com.example.Pub", ["mqtt", "port"])
    operation.close().result(5)
    # A second subscription sees the next change; the closed one, notified before it, does not.
    later = Collector()
    watcher.subscribe_to_configuration_update(
        component_name="com.example.Pub", key_path=["mqtt"], **later.handlers()
    )
    config_service.update("com.example.Pub", ["mqtt", "port"], 2, time.time())
    later.wait_for(1)
    assert len(events.events) == 1


def test_subscription_to_a_missing_path_is_resource_not_found(core: IpcHarness) -> None:
    with pytest.raises(ResourceNotFoundError):
        core.client("com.example.Sub").subscribe_to_configuration_update(
            key_path=["missing"], on_stream_event=print
        )
