"""IpcServer as the runner uses it: start/stop, tokens, policy updates, core-internal publishing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import awsiot.greengrasscoreipc
import pytest
from awscrt.exceptions import AwsCrtError
from awsiot.eventstreamrpc import AccessDeniedError
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage, UnauthorizedError

from localcore.ipc.errors import IpcServerError
from localcore.ipc.identity import TOKEN_LENGTH
from localcore.ipc.server import IpcServer
from localcore.ipc.testing import IpcHarness, ipc_server
from tests.localcore.ipc.conditions import Collector, wait_until
from tests.localcore.ipc.conftest import PUBSUB_ALL


def _server(path: Path) -> IpcServer:
    return IpcServer(socket_path=path, shadows=None, config=None, cloud=None)


def test_start_stop_and_refusals(tmp_path: Path) -> None:
    server = _server(tmp_path / "ipc.socket")
    server.start()
    with pytest.raises(IpcServerError, match="twice"):
        server.start()
    server.stop()
    server.stop()  # idempotent
    assert not (tmp_path / "ipc.socket").exists()
    with pytest.raises(IpcServerError, match="at most 107"):
        _server(tmp_path / ("x" * 120))


def test_stop_with_live_clients_closes_their_streams(tmp_path: Path) -> None:
    with ipc_server(tmp_path, {"c": PUBSUB_ALL}) as core:
        events = Collector()
        core.client("c").subscribe_to_topic(topic="t", **events.handlers())
        core.server.stop()
        events.wait_closed()
        assert core.server.connection_count == 0


def test_tokens_have_the_nucleus_format_and_reregistering_revokes_the_old_one(core: IpcHarness) -> None:
    old = core.token("com.example.Sub")
    assert len(old) == TOKEN_LENGTH and old == old.upper() and old.isalnum()
    new = core.add_component("com.example.Sub", PUBSUB_ALL)
    assert new != old
    with pytest.raises((AccessDeniedError, AwsCrtError)):
        awsiot.greengrasscoreipc.connect(ipc_socket=str(core.socket_path), authtoken=old, timeout=5)
    core.client("com.example.Sub").publish_to_topic(
        topic="x", publish_message=PublishMessage(json_message=JsonMessage(message=1))
    )


def test_access_control_update_applies_to_a_live_connection(core: IpcHarness) -> None:
    client = core.client("com.example.Nobody")
    message = PublishMessage(json_message=JsonMessage(message={}))
    with pytest.raises(UnauthorizedError):
        client.publish_to_topic(topic="late/grant", publish_message=message)
    core.server.update_access_control(
        "com.example.Nobody",
        '{"aws.greengrass.ipc.pubsub": {"p": {"operations": ["*"], "resources": ["late/*"]}}}',
    )
    client.publish_to_topic(topic="late/grant", publish_message=message)


def test_publish_local_from_many_threads_keeps_each_threads_order(core: IpcHarness) -> None:
    events = Collector()
    core.client("com.example.Sub").subscribe_to_topic(topic="core/+", **events.handlers())

    def publish(worker: int) -> None:
        for seq in range(100):
            core.server.publish_local(f"core/{worker}", {"w": worker, "seq": seq}, f"internal.{worker}")

    threads = [threading.Thread(target=publish, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = events.wait_for(400)
    for worker in range(4):
        assert [e.json_message.message["seq"] for e in got if e.json_message.message["w"] == worker] == list(
            range(100)
        )


def test_publish_local_after_stop_is_dropped_quietly(tmp_path: Path) -> None:
    with ipc_server(tmp_path, {}) as core:
        server = core.server
    server.publish_local("t", b"late", "x")
    wait_until(lambda: server.connection_count == 0)


def test_harness_defaults_serve_every_core_operation_family(tmp_path: Path) -> None:
    policy = {"aws.greengrass.ShadowManager": {"s": {"operations": ["*"], "resources": ["*"]}}}
    with ipc_server(tmp_path, {"c": policy}) as core:
        assert core.config is not None
        core.config.update("c", [], {"rate": 2}, time.time() + 60)  # newer than the new root node
        client = core.client("c")
        assert client.get_configuration(key_path=["rate"]).value == {"rate": 2}
        client.update_thing_shadow(thing_name="t", payload=b'{"state": {"reported": {"a": 1}}}')
        assert b'"a":1' in client.get_thing_shadow(thing_name="t").payload.replace(b" ", b"")
        assert core.env("c")["SVCUID"] == core.token("c")
