"""Shadow operations and local shadow topics, through the real shadow store, with the real client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from awsiot.greengrasscoreipc.model import (
    BinaryMessage,
    ConflictError,
    InvalidArgumentsError,
    JsonMessage,
    PublishMessage,
    ReceiveMode,
    ResourceNotFoundError,
    ServiceError,
    UnauthorizedError,
)

from localcore.ipc.testing import IpcHarness, ipc_server
from tests.localcore.ipc.conditions import Collector
from tests.localcore.ipc.conftest import POLICIES

PREFIX = "$aws/things/dev-1/shadow/name/cfg"


def _doc(data: bytes) -> dict:
    return json.loads(data)


def test_update_get_list_delete_round_trip(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    accepted = _doc(
        client.update_thing_shadow(
            thing_name="dev-1", shadow_name="cfg", payload=b'{"state": {"desired": {"rate": 5}}}'
        ).payload
    )
    assert accepted["version"] == 1 and accepted["state"] == {"desired": {"rate": 5}}
    client.update_thing_shadow(
        thing_name="dev-1", shadow_name="cfg", payload=b'{"state": {"reported": {"rate": 1}}, "version": 1}'
    )
    document = _doc(client.get_thing_shadow(thing_name="dev-1", shadow_name="cfg").payload)
    assert document["version"] == 2
    assert document["state"]["delta"] == {"rate": 5}
    listed = client.list_named_shadows_for_thing(thing_name="dev-1")
    assert listed.results == ["cfg"]
    assert client.delete_thing_shadow(thing_name="dev-1", shadow_name="cfg").payload == b""
    with pytest.raises(ResourceNotFoundError) as missing:
        client.get_thing_shadow(thing_name="dev-1", shadow_name="cfg")
    assert missing.value.message == "No shadow found"
    assert missing.value.resource_type == "shadow"


def test_classic_shadow_and_modelled_errors(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    client.update_thing_shadow(thing_name="dev-1", payload=b'{"state": {"reported": {"on": true}}}')
    with pytest.raises(ConflictError) as conflict:
        client.update_thing_shadow(
            thing_name="dev-1", payload=b'{"state": {"reported": {"on": false}}, "version": 7}'
        )
    assert conflict.value.message == "Version conflict"
    with pytest.raises(InvalidArgumentsError):
        client.update_thing_shadow(thing_name="dev-1", payload=b"not json")
    with pytest.raises(InvalidArgumentsError) as too_big:
        client.update_thing_shadow(
            thing_name="dev-1", payload=json.dumps({"state": {"desired": {"blob": "x" * 9000}}}).encode()
        )
    assert "maximum size" in too_big.value.message
    with pytest.raises(InvalidArgumentsError) as bad_name:
        client.get_thing_shadow(thing_name="dev-1", shadow_name="bad name!")
    assert "pattern" in bad_name.value.message
    with pytest.raises(InvalidArgumentsError) as page:
        client.list_named_shadows_for_thing(thing_name="dev-1", page_size=101)
    assert page.value.message == "pageSize argument must be between 1 and 100"


def test_local_shadow_topics_are_published_by_shadow_manager(core: IpcHarness) -> None:
    client = core.client("com.example.Sub")  # subscribes with pubsub '*'
    events = Collector()
    client.subscribe_to_topic(
        topic=f"{PREFIX}/update/#", receive_mode=ReceiveMode.RECEIVE_ALL_MESSAGES, **events.handlers()
    )
    core.client("com.example.Pub").update_thing_shadow(
        thing_name="dev-1", shadow_name="cfg", payload=b'{"state": {"desired": {"rate": 9}}}'
    )
    got = {e.binary_message.context.topic: _doc(e.binary_message.message) for e in events.wait_for(3)}
    assert set(got) == {f"{PREFIX}/update/accepted", f"{PREFIX}/update/delta", f"{PREFIX}/update/documents"}
    assert got[f"{PREFIX}/update/delta"]["state"] == {"rate": 9}


def test_publishing_on_a_request_topic_goes_to_the_shadow_store(core: IpcHarness) -> None:
    client = core.client("com.example.Pub")
    watcher = core.client("com.example.Sub")
    events = Collector()
    watcher.subscribe_to_topic(topic=f"{PREFIX}/+/+", **events.handlers())
    client.publish_to_topic(
        topic=f"{PREFIX}/update",
        publish_message=PublishMessage(
            json_message=JsonMessage(message={"state": {"reported": {"a": 1}}, "clientToken": "t1"})
        ),
    )
    client.publish_to_topic(
        topic=f"{PREFIX}/get", publish_message=PublishMessage(binary_message=BinaryMessage(message=b"{}"))
    )
    got = {e.binary_message.context.topic: _doc(e.binary_message.message) for e in events.wait_for(3)}
    assert set(got) == {f"{PREFIX}/update/accepted", f"{PREFIX}/update/documents", f"{PREFIX}/get/accepted"}
    assert got[f"{PREFIX}/update/accepted"]["clientToken"] == "t1"
    assert got[f"{PREFIX}/get/accepted"]["state"]["reported"] == {"a": 1}


def test_denied_shadow_request_is_unauthorized_and_rejected_on_the_topic(core: IpcHarness) -> None:
    watcher = core.client("com.example.Sub")
    events = Collector()
    watcher.subscribe_to_topic(topic="$aws/things/other/shadow/get/rejected", **events.handlers())
    with pytest.raises(UnauthorizedError) as denied:
        core.client("com.example.Pub").get_thing_shadow(thing_name="other")
    assert "$aws/things/other/shadow" in denied.value.message
    rejected = _doc(events.wait_for(1)[0].binary_message.message)
    assert rejected["code"] == 401 and rejected["message"] == "Unauthorized"


def test_without_a_shadow_service_the_operations_are_not_supported(tmp_path: Path) -> None:
    with ipc_server(tmp_path, POLICIES, shadows=None) as core:
        with pytest.raises(ServiceError) as unsupported:
            core.client("com.example.Pub").get_thing_shadow(thing_name="dev-1")
        assert (
            unsupported.value.message
            == "Operation aws.greengrass#GetThingShadow is not supported by Greengrass"
        )


def test_shadows_survive_a_server_restart(tmp_path: Path) -> None:
    with ipc_server(tmp_path, POLICIES) as core:
        core.client("com.example.Pub").update_thing_shadow(
            thing_name="dev-1", shadow_name="keep", payload=b'{"state": {"reported": {"x": 1}}}'
        )
    with ipc_server(tmp_path, POLICIES) as core:
        document = _doc(
            core.client("com.example.Pub").get_thing_shadow(thing_name="dev-1", shadow_name="keep").payload
        )
    assert document["state"]["reported"] == {"x": 1}
