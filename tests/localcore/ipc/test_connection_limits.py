"""Connection limits of the core's IPC server (localcore/ipc/limits.py): a client that opens and
holds connections by the hundred, authenticated or not, cannot lock the other components out or
stop the core persisting shadows, and the server's books return to where they were once it lets go.

The real nucleus bounds the same resource by the process's descriptor limit: its IPC server
(aws-greengrass-nucleus ``IPCEventStreamService``, awscrt's event-stream server) accepts until
``accept`` fails with EMFILE, when no client can connect and the nucleus cannot open files either
(the failure issue #19 measured against this core with 20,000 held connections). The limits here
keep the core below that point, with descriptors left for its own files.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcore.ipc.codec import FrameDecoder
from localcore.ipc.limits import RESERVED_DESCRIPTORS, ConnectionLimits
from localcore.ipc.rpc import CONNECTION_ACCEPTED, MessageType
from localcore.ipc.testing import IpcHarness, ipc_server
from tests.components.rig import wait_until
from tests.localcore.ipc.raw_client import connect_frame, int_header

FLOOD = "com.example.Flood"
GOOD = "com.example.Good"
SHADOWS = {
    "aws.greengrass.ShadowManager": {
        "shadow": {"operations": ["*"], "resources": ["$aws/things/dev-1/shadow/name/*"]}
    }
}
LIMITS = ConnectionLimits(total=40, per_component=8, unauthenticated=8, handshake_timeout_s=30.0)


@pytest.fixture
def core(tmp_path: Path) -> Iterator[IpcHarness]:
    with ipc_server(tmp_path, {FLOOD: SHADOWS, GOOD: SHADOWS}, connection_limits=LIMITS) as harness:
        yield harness


def open_raw(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(path)
    return sock


def connect_accepted(sock: socket.socket, token: str) -> bool:
    """Send CONNECT; True if the server accepted it (False: refused or closed)."""
    try:
        sock.sendall(connect_frame(token))
        decoder = FrameDecoder()
        while True:
            data = sock.recv(65536)
            if not data:
                return False
            for frame in decoder.feed(data):
                if int_header(frame, ":message-type") == MessageType.CONNECT_ACK:
                    return bool(int_header(frame, ":message-flags") & CONNECTION_ACCEPTED)
    except OSError:
        return False


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except OSError:
        return True


def test_a_flood_of_connections_is_refused_and_the_others_still_connect(
    core: IpcHarness, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.WARNING, logger="localcore.ipc.limits")
    path = str(core.server.socket_path)
    held: list[socket.socket] = []
    try:
        # GIVEN one component opening 60 connections and authenticating every one
        accepted = 0
        for _ in range(60):
            sock = open_raw(path)
            held.append(sock)
            accepted += connect_accepted(sock, core.token(FLOOD))
        # THEN it gets its share and no more, and the refusals name it
        assert accepted == LIMITS.per_component
        assert f"event=ipc_connection_refused component={FLOOD}" in caplog.text
        # WHEN it also opens 60 connections it never authenticates
        silent = [open_raw(path) for _ in range(60)]
        held += silent
        # THEN beyond the unauthenticated limit they are closed at once, logged as such
        wait_until(
            lambda: (
                sum(closed_by_server(s) for s in silent[LIMITS.unauthenticated :])
                == 60 - LIMITS.unauthenticated
            ),
            what="the excess unauthenticated connections closed",
        )
        assert "event=ipc_connection_refused component=unauthenticated" in caplog.text
        # AND another component still connects with the real client, and its shadow is persisted
        client = core.client(GOOD)
        client.update_thing_shadow(
            thing_name="dev-1", shadow_name="cfg", payload=b'{"state": {"reported": {"rate": 5}}}'
        )
        document = json.loads(client.get_thing_shadow(thing_name="dev-1", shadow_name="cfg").payload)
        assert document["state"]["reported"] == {"rate": 5}
        assert [f for f in (tmp_path / "shadows").rglob("*") if f.is_file()], "no shadow file written"
        # AND the log says how many were refused without a line per connection
        refusals = [r for r in caplog.records if "ipc_connection_refused" in r.getMessage()]
        assert len(refusals) <= 6
    finally:
        for sock in held:
            sock.close()
    # THEN once the flood lets go, only the good client's connection is left
    wait_until(
        lambda: core.server.connections.open_counts() == {GOOD: 1}, what="connections back to baseline"
    )
    assert core.server.connection_count == 1
    # AND the flooding component may connect again
    again = open_raw(path)
    try:
        assert connect_accepted(again, core.token(FLOOD))
    finally:
        again.close()


def test_a_connection_that_never_sends_connect_is_closed_after_the_handshake_timeout(tmp_path: Path) -> None:
    limits = ConnectionLimits(total=10, per_component=2, unauthenticated=2, handshake_timeout_s=0.2)
    with ipc_server(tmp_path, {GOOD: SHADOWS}, connection_limits=limits) as core:
        sock = open_raw(str(core.server.socket_path))
        try:
            assert closed_by_server(sock)
        finally:
            sock.close()
        wait_until(lambda: core.server.connection_count == 0, what="the silent connection gone")


def test_the_default_limits_stay_below_the_descriptor_limit() -> None:
    for soft in (64, 256, 1024, 4096, 1_048_576):
        limits = ConnectionLimits.from_rlimit(soft)
        assert limits.total < soft
        assert limits.per_component <= limits.total and limits.unauthenticated <= limits.total
    assert ConnectionLimits.from_rlimit(1024).total == 1024 - RESERVED_DESCRIPTORS


@pytest.mark.parametrize("field", ["total", "per_component", "unauthenticated"])
def test_a_limit_below_one_is_refused_naming_it(field: str) -> None:
    values: dict[str, Any] = {field: 0}
    with pytest.raises(ValueError, match=field):
        ConnectionLimits(**values)
