"""The control channel: registered commands, errors, streaming, a dead core's socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localcore.control import (
    CommandError,
    ControlError,
    ControlServer,
    CoreNotRunningError,
    control_request,
    control_socket_path,
    control_stream,
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ControlServer]:
    control = ControlServer(tmp_path)
    control.start()
    yield control
    control.stop()


def test_request_and_answer(server: ControlServer, tmp_path: Path) -> None:
    server.register("echo", lambda args: {"got": args})
    assert control_request(tmp_path, "echo", {"x": [1, 2]}) == {"got": {"x": [1, 2]}}


def test_errors_come_back_as_control_errors(server: ControlServer, tmp_path: Path) -> None:
    def refuse(args: dict[str, Any]) -> None:
        raise CommandError("component nope not found")

    def crash(args: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    server.register("refuse", refuse)
    server.register("crash", crash)
    with pytest.raises(ControlError, match=r"^component nope not found$"):
        control_request(tmp_path, "refuse")
    with pytest.raises(ControlError, match="RuntimeError: boom"):
        control_request(tmp_path, "crash")
    with pytest.raises(ControlError, match="unknown command 'nope'; known: crash, refuse"):
        control_request(tmp_path, "nope")
    # and the server keeps answering
    server.register("ok", lambda args: "fine")
    assert control_request(tmp_path, "ok") == "fine"


def test_garbage_requests_get_an_error_line(server: ControlServer, tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as raw:
        raw.connect(str(control_socket_path(tmp_path)))
        raw.sendall(b"not json\n")
        answer = raw.makefile("rb").readline()
    assert b'"ok": false' in answer and b"bad request" in answer


def test_streaming_commands(server: ControlServer, tmp_path: Path) -> None:
    server.register("count", lambda args: iter(range(int(args["n"]))))
    assert list(control_stream(tmp_path, "count", {"n": 3})) == [0, 1, 2]
    with pytest.raises(ControlError, match="streams its answer"):
        control_request(tmp_path, "count", {"n": 1})


def test_no_core_running(tmp_path: Path) -> None:
    with pytest.raises(CoreNotRunningError, match="no core is running with root"):
        control_request(tmp_path, "status")


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(control_socket_path(tmp_path)))
    stale.close()  # the file stays, nobody listens: a core that died
    first = ControlServer(tmp_path)
    first.start()
    try:
        with pytest.raises(ControlError, match="another core is already running"):
            ControlServer(tmp_path).start()
    finally:
        first.stop()
    assert not control_socket_path(tmp_path).exists()
