"""Errors of the IPC server: bad frames, refused handshakes, and the modelled errors of operations."""

from __future__ import annotations

from typing import Any


class IpcServerError(Exception):
    """Base class of everything the IPC package raises."""


class FrameError(IpcServerError):
    """A frame on the wire is malformed: bad prelude, CRC, header, or a size over the limits.

    A frame error is fatal to the one connection it arrived on, as in aws-c-event-stream.
    """


class ProtocolError(IpcServerError):
    """A well-formed frame that breaks the event-stream RPC rules (wrong type, order or stream id)."""


class OperationError(IpcServerError):
    """A modelled error an operation answers with (``aws.greengrass#<name>``), ending its stream.

    Args:
        name: the short shape name, e.g. ``"UnauthorizedError"``; it must be an error shape of the
            client's model or the client raises ``UnmappedDataError``.
        message: the text the client exposes as ``error.message``.
        fields: extra modelled fields, e.g. ``resourceType`` for ResourceNotFoundError.
    """

    def __init__(self, name: str, message: str, **fields: Any) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message
        self.fields = fields

    def payload(self) -> dict[str, Any]:
        """The JSON body: the modelled fields the Python client reads, plus the Java server's extras."""
        body: dict[str, Any] = {"message": self.message, **self.fields}
        body["_message"] = self.message
        body["_errorCode"] = self.name
        body["_service"] = "aws.greengrass#GreengrassCoreIPC"
        return body


def invalid_arguments(message: str) -> OperationError:
    """``InvalidArgumentsError``: the request is missing or has a bad field."""
    return OperationError("InvalidArgumentsError", message)


def unauthorized(message: str) -> OperationError:
    """``UnauthorizedError``: the caller's accessControl does not allow the request."""
    return OperationError("UnauthorizedError", message)


def resource_not_found(
    message: str, resource_type: str | None = None, resource_name: str | None = None
) -> OperationError:
    """``ResourceNotFoundError``, with the optional modelled resource fields."""
    fields: dict[str, Any] = {}
    if resource_type is not None:
        fields["resourceType"] = resource_type
    if resource_name is not None:
        fields["resourceName"] = resource_name
    return OperationError("ResourceNotFoundError", message, **fields)


def service_error(message: str) -> OperationError:
    """``ServiceError``: the core failed, or the operation is not supported."""
    return OperationError("ServiceError", message)
