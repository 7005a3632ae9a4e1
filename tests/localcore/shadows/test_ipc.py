"""The real ShadowStore behind the real IPC server, driven by the real awsiotsdk client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from awsiot.greengrasscoreipc.model import InvalidArgumentsError

from localcore.ipc.testing import ipc_server
from localcore.shadows.store import ShadowStore

DEVICE = "com.example.Device"
POLICY = {
    "aws.greengrass.ShadowManager": {
        "shadows": {
            "operations": ["*"],
            "resources": ["$aws/things/dev-1/shadow", "$aws/things/dev-1/shadow/name/*", "dev-1"],
        }
    }
}


def test_named_shadows_page_through_the_client(tmp_path: Path) -> None:
    store = ShadowStore(tmp_path, rate_limits=None)
    with ipc_server(tmp_path, {DEVICE: POLICY}, shadows=store) as core:
        client = core.client(DEVICE)
        for name in ("line-3", "line-1", "line-2"):
            client.update_thing_shadow(
                thing_name="dev-1", shadow_name=name, payload=b'{"state": {"reported": {"x": 1}}}'
            )
        first = client.list_named_shadows_for_thing(thing_name="dev-1", page_size=2)
        assert first.results == ["line-1", "line-2"] and first.next_token
        second = client.list_named_shadows_for_thing(
            thing_name="dev-1", page_size=2, next_token=first.next_token
        )
        assert second.results == ["line-3"] and second.next_token is None
        with pytest.raises(InvalidArgumentsError) as forged:
            client.list_named_shadows_for_thing(thing_name="dev-1", next_token="forged")
        assert forged.value.message == "Invalid nextToken"


def test_size_and_depth_limits_are_invalid_arguments(tmp_path: Path) -> None:
    store = ShadowStore(tmp_path, rate_limits=None, max_document_size=1024)
    with ipc_server(tmp_path, {DEVICE: POLICY}, shadows=store) as core:
        client = core.client(DEVICE)
        big = json.dumps({"state": {"reported": {"blob": "x" * 1100}}}).encode()
        with pytest.raises(InvalidArgumentsError) as too_large:
            client.update_thing_shadow(thing_name="dev-1", shadow_name="s", payload=big)
        assert too_large.value.message == "The payload exceeds the maximum size allowed"
        deep: dict = {"v": 1}
        for _ in range(6):
            deep = {"k": deep}
        with pytest.raises(InvalidArgumentsError) as too_deep:
            client.update_thing_shadow(
                thing_name="dev-1", shadow_name="s", payload=json.dumps({"state": {"desired": deep}}).encode()
            )
        assert too_deep.value.message == "JSON contains too many levels of nesting; maximum is 6"


def test_a_cloud_write_reaches_the_device_through_get(tmp_path: Path) -> None:
    store = ShadowStore(tmp_path, rate_limits=None)
    heard: list[tuple[str, str]] = []
    store.add_listener(lambda thing, shadow, document, source: heard.append((shadow, source)))
    with ipc_server(tmp_path, {DEVICE: POLICY}, shadows=store) as core:
        store.update("dev-1", "config", b'{"state": {"desired": {"rate": 2}}}', source="cloud")
        document = json.loads(
            core.client(DEVICE).get_thing_shadow(thing_name="dev-1", shadow_name="config").payload
        )
        assert document["state"]["delta"] == {"rate": 2}
    assert heard == [("config", "cloud")]
