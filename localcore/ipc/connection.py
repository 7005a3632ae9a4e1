"""One client connection: handshake, stream bookkeeping and dispatch of operation requests.

About 420 lines, kept whole: the three share one per-connection state (stream ids, open
subscriptions, the write batch) that splitting would pass around between modules.

Rules (reference 2.2-2.6, aws-c-event-stream ``event_stream_rpc_server.c``):

- the first frame must be CONNECT with ``:version`` 0.1.0 and a known ``authToken``; otherwise
  CONNECT_ACK without the accepted flag, then close;
- a new stream's id must be the previous one + 1 and its first frame must name an ``operation``;
- a frame that is malformed, oversized or out of order closes this connection and nothing else;
- a TERMINATE_STREAM from the client ends that stream (a subscription is dropped, no reply);
- when the connection goes, every stream's subscription goes with it.

Writes are batched: frames produced while handling one read are joined into one ``write`` on the
next loop iteration, which keeps syscalls per message low under load.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from localcore.ipc import rpc
from localcore.ipc.codec import MAX_MESSAGE_SIZE, FrameDecoder, Header, HeaderType, Message
from localcore.ipc.context import Call, CoreContext
from localcore.ipc.errors import FrameError, OperationError, ProtocolError, invalid_arguments, service_error
from localcore.ipc.rpc import MessageType
from localcore.logfmt import kv

if TYPE_CHECKING:
    from localcore.ipc.identity import IdentityRegistry
    from localcore.ipc.ops import OperationSpec

log = logging.getLogger(__name__)

_UNSUPPORTED_OPERATION = "Unsupported Operation"


class Stream:
    """One operation stream. Events wait until the initial response went out (nucleus rule)."""

    __slots__ = ("_closers", "_pending", "closed", "connection", "id", "response_sent", "spec")

    def __init__(self, connection: Connection, stream_id: int, spec: OperationSpec) -> None:
        self.connection = connection
        self.id = stream_id
        self.spec = spec
        self.response_sent = False
        self.closed = False
        self._pending: list[bytes] = []
        self._closers: list[Callable[[], None]] = []

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run ``closer`` once when the stream ends (client close, server close or disconnect)."""
        if self.closed:
            closer()
        else:
            self._closers.append(closer)

    def send_response(self, body: dict[str, Any] | None) -> None:
        """The initial response; it ends a unary stream, and releases events held back."""
        if self.closed or self.response_sent:
            return
        streaming = self.spec.streaming
        flags = 0 if streaming else rpc.TERMINATE_STREAM
        payload = rpc.json_bytes(body or {})
        self.connection.write(
            rpc.frame(
                MessageType.APPLICATION_MESSAGE, flags, self.id, payload, model_type=self.spec.response_type
            )
        )
        self.response_sent = True
        if not streaming:
            self._finish()
            return
        for event in self._pending:
            self._write_event(event)
        self._pending.clear()

    def send_event(self, body: bytes) -> None:
        """One stream event; ``body`` is the event's JSON bytes."""
        if self.closed:
            return
        if not self.response_sent:
            self._pending.append(body)
            return
        self._write_event(body)

    def _write_event(self, body: bytes) -> None:
        self.connection.write(
            rpc.frame(MessageType.APPLICATION_MESSAGE, 0, self.id, body, model_type=self.spec.event_type)
        )

    def send_error(self, error: OperationError) -> None:
        """A modelled error; it ends the stream."""
        if self.closed:
            return
        self.connection.write(
            rpc.frame(
                MessageType.APPLICATION_ERROR,
                rpc.TERMINATE_STREAM,
                self.id,
                rpc.json_bytes(self.connection.core.profile.error_payload(error)),
                model_type=f"aws.greengrass#{error.name}",
            )
        )
        self._finish()

    def close_from_server(self) -> None:
        """End the stream from the server side (an empty TERMINATE_STREAM frame, as JRPC closeStream)."""
        if self.closed:
            return
        self.connection.write(rpc.frame(MessageType.APPLICATION_MESSAGE, rpc.TERMINATE_STREAM, self.id))
        self._finish()

    def closed_by_peer(self) -> None:
        """The client closed the stream, or the connection went."""
        self._finish()

    def _finish(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        self.connection.forget(self)
        closers, self._closers = self._closers, []
        for closer in closers:
            try:
                closer()
            except Exception:
                log.exception(kv(event="stream_close_failed", stream=self.id, operation=self.spec.name))


class Connection(asyncio.Protocol):
    """The server side of one Unix-socket connection."""

    def __init__(
        self,
        core: CoreContext,
        identities: IdentityRegistry,
        operations: dict[str, OperationSpec],
        on_closed: Callable[[Connection], None],
        max_message_size: int = MAX_MESSAGE_SIZE,
        write_limit: int = 8 * 1024 * 1024,
        admit: Callable[[Connection, str], bool] | None = None,
    ) -> None:
        self.core = core
        # Whether the component a CONNECT proves may have one more connection (limits.py).
        self._admit = admit
        self._identities = identities
        self._operations = operations
        self._on_closed = on_closed
        self._decoder = FrameDecoder(max_message_size)
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._closing = False
        self.component: str | None = None
        self._last_stream_id = 0
        self._streams: dict[int, Stream] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._write_limit = write_limit
        self.congested = False
        self._held: set[Connection] = set()
        self._holds = 0

    # --- transport ------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        if self._closing:  # closed before it was even made (evicted by the connection limits)
            transport.close()
            return
        transport.set_write_buffer_limits(high=self._write_limit, low=self._write_limit // 4)

    # --- flow control ---------------------------------------------------------------------------
    # A subscriber that reads slower than it is published to would make the server buffer without
    # bound. Instead, once its unsent bytes pass the limit, the connections publishing to it stop
    # being read (their requests wait in the socket, nothing is dropped) until it drains.
    def pause_writing(self) -> None:
        self.congested = True

    def resume_writing(self) -> None:
        self.congested = False
        held, self._held = self._held, set()
        for publisher in held:
            publisher._release()

    def hold(self, publisher: Connection) -> None:
        """Stop reading ``publisher`` until this (congested) connection drains."""
        if publisher is self or publisher in self._held or publisher._closing or publisher._transport is None:
            return
        self._held.add(publisher)
        publisher._holds += 1
        if publisher._holds == 1:
            publisher._transport.pause_reading()
            log.info(kv(event="ipc_backpressure", publisher=publisher.component, subscriber=self.component))

    def _release(self) -> None:
        self._holds -= 1
        if self._holds == 0 and not self._closing and self._transport is not None:
            self._transport.resume_reading()

    @property
    def throttled(self) -> bool:
        """Whether reading this connection is paused for a slow subscriber."""
        return self._holds > 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        for stream in list(self._streams.values()):
            stream.closed_by_peer()
        self._streams.clear()
        for task in self._tasks:
            task.cancel()
        self.resume_writing()  # publishers held for this connection carry on
        if self.component is not None:
            log.debug(kv(event="ipc_disconnected", component=self.component))
        self._on_closed(self)

    def write(self, data: bytes) -> None:
        """Queue a frame; queued frames go out together on the next loop iteration."""
        if self._closing or self._transport is None:
            return
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out and self._transport is not None and not self._transport.is_closing():
            data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
            self._transport.write(data)
        self._out.clear()

    def close(self, reason: str | None = None) -> None:
        """Flush what is queued, then close (the client sees its last frames, e.g. a refused ack)."""
        if self._closing:
            return
        self._flush()
        self._closing = True
        if reason:
            log.warning(kv(event="ipc_connection_closed", component=self.component or "-", reason=reason))
        if self._transport is not None:
            self._transport.close()

    def close_streams(self) -> None:
        """End every open stream from the server side (the client sees ``on_stream_closed``)."""
        for stream in list(self._streams.values()):
            stream.close_from_server()

    def forget(self, stream: Stream) -> None:
        """Drop a finished stream from the table."""
        if self._streams.get(stream.id) is stream:
            del self._streams[stream.id]

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        try:
            messages = self._decoder.feed(data)
        except FrameError as err:
            self._protocol_failure(f"bad frame: {err}")
            return
        for message in messages:
            if self._closing:
                return
            try:
                self._handle(message)
            except ProtocolError as err:
                self._protocol_failure(str(err))
                return

    def _protocol_failure(self, reason: str) -> None:
        if self.core.profile.sends_protocol_errors:
            self.write(rpc.protocol_error(reason))
        self.close(reason)

    # --- routing --------------------------------------------------------------------------------
    def _handle(self, message: Message) -> None:
        index = message.index()
        message_type = _int32(index, ":message-type")
        flags = _int32(index, ":message-flags")
        stream_id = _int32(index, ":stream-id")
        if self.component is None:
            self._handshake(message, message_type, stream_id)
            return
        if stream_id == 0:
            if message_type == MessageType.PING:
                self.write(rpc.ping_response())
            elif message_type in (MessageType.PROTOCOL_ERROR, MessageType.INTERNAL_ERROR):
                self.close("client reported a protocol error")
            elif message_type == MessageType.CONNECT:
                raise ProtocolError("a second CONNECT on an established connection")
            elif message_type != MessageType.PING_RESPONSE:
                raise ProtocolError(f"message type {message_type} is not allowed on stream 0")
            return
        if stream_id < 0:
            raise ProtocolError(f"negative stream id {stream_id}")
        if message_type not in (MessageType.APPLICATION_MESSAGE, MessageType.APPLICATION_ERROR):
            raise ProtocolError(f"message type {message_type} is not allowed on stream {stream_id}")
        stream = self._streams.get(stream_id)
        if stream is not None:
            if flags & rpc.TERMINATE_STREAM or message_type == MessageType.APPLICATION_ERROR:
                stream.closed_by_peer()
            return  # further messages on an open stream carry nothing the nucleus acts on
        if stream_id <= self._last_stream_id:
            return  # late frame on a stream that already ended: harmless, as in the C client
        if stream_id != self._last_stream_id + 1:
            raise ProtocolError(f"new stream id {stream_id} does not follow {self._last_stream_id}")
        operation = index.get("operation")
        if operation is None or operation.type != HeaderType.STRING:
            raise ProtocolError(f"stream {stream_id} opened without an 'operation' STRING header")
        self._last_stream_id = stream_id
        if flags & rpc.TERMINATE_STREAM:
            return  # opened and closed at once: nothing to answer
        self._dispatch(stream_id, operation.value, message.payload)

    def _handshake(self, message: Message, message_type: int, stream_id: int) -> None:
        if message_type != MessageType.CONNECT or stream_id != 0:
            raise ProtocolError(
                f"expected CONNECT on stream 0 first, got type {message_type} on stream {stream_id}"
            )
        version = message.header(":version")
        if version is None or version.type != HeaderType.STRING or version.value != rpc.VERSION:
            self._refuse(f"unsupported :version {getattr(version, 'value', None)!r}, expected {rpc.VERSION}")
            return
        try:
            body = json.loads(message.payload) if message.payload else {}
            token = body.get("authToken") if isinstance(body, dict) else None
        except ValueError:
            token = None
        component = self._identities.component_for(token) if isinstance(token, str) and token else None
        if component is None:
            self._refuse("unknown or missing authToken")
            return
        if self._admit is not None and not self._admit(self, component):
            self.write(rpc.connect_ack(False))  # the refusal was logged, naming the component
            self.close()
            return
        self.component = component
        self.write(rpc.connect_ack(True))
        log.debug(kv(event="ipc_connected", component=component))

    def _refuse(self, reason: str) -> None:
        log.warning(kv(event="ipc_connect_refused", reason=reason))
        if self.core.profile.acks_refused_connect:
            self.write(rpc.connect_ack(False))
        self.close()

    # --- operations -----------------------------------------------------------------------------
    def _dispatch(self, stream_id: int, operation: str, payload: bytes) -> None:
        spec = self._operations.get(operation)
        if spec is None:
            # JRPC: an operation outside the model; the client drops this frame (no model type)
            # and raises StreamClosedError.
            body = rpc.json_bytes(
                {"error": _UNSUPPORTED_OPERATION, "message": f"{operation} is an unsupported operation."}
            )
            self.write(
                rpc.frame(
                    MessageType.APPLICATION_ERROR,
                    rpc.TERMINATE_STREAM,
                    stream_id,
                    body,
                    content_type=rpc.CONTENT_TYPE_JSON,
                )
            )
            log.warning(kv(event="ipc_unknown_operation", component=self.component, operation=operation))
            return
        stream = Stream(self, stream_id, spec)
        self._streams[stream_id] = stream
        if spec.handler is None:
            stream.send_error(self.core.profile.unserved_error(spec.full_name))
            return
        try:
            request = json.loads(payload) if payload else {}
        except ValueError as err:
            stream.send_error(
                self.core.profile.malformed_request_error(
                    f"{spec.full_name}: request is not valid JSON: {err}"
                )
            )
            return
        if not isinstance(request, dict):
            stream.send_error(invalid_arguments(f"{spec.full_name}: request must be a JSON object"))
            return
        assert self.component is not None
        call = Call(self.core, self.component, spec.full_name, request, stream)
        try:
            result = spec.handler(call)
        except OperationError as err:
            stream.send_error(err)
            return
        except Exception as err:
            self._internal_failure(stream, err)
            return
        if isinstance(result, Coroutine):
            task = asyncio.get_running_loop().create_task(self._finish_async(stream, result))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            stream.send_response(result)

    async def _finish_async(
        self, stream: Stream, pending: Coroutine[Any, Any, dict[str, Any] | None]
    ) -> None:
        try:
            result = await pending
        except OperationError as err:
            stream.send_error(err)
            return
        except asyncio.CancelledError:
            raise
        except Exception as err:
            self._internal_failure(stream, err)
            return
        stream.send_response(result)

    def _internal_failure(self, stream: Stream, err: Exception) -> None:
        # NUC ExceptionUtil.translateExceptions: unexpected failures become ServiceError(message).
        log.exception(
            kv(event="ipc_operation_failed", component=self.component, operation=stream.spec.full_name)
        )
        stream.send_error(service_error(f"{stream.spec.full_name} failed: {err}"))


def _int32(index: dict[str, Header], name: str) -> int:
    header = index.get(name)
    if header is None or header.type != HeaderType.INT32:
        raise ProtocolError(f"missing required INT32 header {name}")
    return int(header.value)
