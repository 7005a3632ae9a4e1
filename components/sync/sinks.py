"""Where uploads go: S3 objects and IoT Core messages, each behind a small interface.

Real implementations wrap a boto3 S3 client and the component's IPC; the in-memory fakes are
real working sinks with an on/off switch, used by unit tests. SDK errors are turned into
:class:`UploadError` at this boundary, saying whether the failure looks like a lost link.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from components.common.ipc import ComponentIpc
from components.sync.exceptions import UploadError

_LINK_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ConnectTimeoutError,
    ReadTimeoutError,
    BotoConnectionError,
    # Token-exchange credentials come over the same link; unreachable, they look like this.
    NoCredentialsError,
)
_RETRYABLE_CODES = {"SlowDown", "RequestTimeout", "Throttling", "ThrottlingException", "ServiceUnavailable"}


class ObjectSink(Protocol):
    """Puts whole objects; a put of an existing key replaces it."""

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """Store ``body`` under ``key``; raises :class:`UploadError` on failure."""
        ...


class MessageSink(Protocol):
    """Publishes one message to IoT Core at QoS 1."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish; raises :class:`UploadError` on failure."""
        ...


class S3ObjectSink:
    """:class:`ObjectSink` over a boto3 S3 client.

    Args:
        client: a boto3 S3 client (created in the entry point with the default credential chain).
        bucket: the bucket name, or a function resolving it on first use (it may need the link).
    """

    def __init__(self, client: Any, bucket: str | Callable[[], str]) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        """The bucket, resolved on first use."""
        if callable(self._bucket):
            try:
                self._bucket = self._bucket()
            except _LINK_ERRORS as err:
                raise UploadError(f"resolving the bucket: {err}", link_down=True) from err
            except (ClientError, BotoCoreError) as err:
                raise UploadError(f"resolving the bucket: {err}", link_down=False) from err
        return self._bucket

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """See :class:`ObjectSink`."""
        bucket = self.bucket
        try:
            self._client.put_object(Bucket=bucket, Key=key, Body=body, Metadata=metadata or {})
        except _LINK_ERRORS as err:
            raise UploadError(f"s3://{bucket}/{key}: {err}", link_down=True) from err
        except ClientError as err:
            code = str(err.response.get("Error", {}).get("Code", ""))
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
            raise UploadError(
                f"s3://{bucket}/{key}: {code or err}", link_down=status >= 500 or code in _RETRYABLE_CODES
            ) from err
        except BotoCoreError as err:
            raise UploadError(f"s3://{bucket}/{key}: {err}", link_down=True) from err


class IpcMessageSink:
    """:class:`MessageSink` through the nucleus (PublishToIoTCore, QoS 1)."""

    def __init__(self, ipc: ComponentIpc) -> None:
        self._ipc = ipc

    def publish(self, topic: str, payload: bytes) -> None:
        """See :class:`MessageSink`."""
        try:
            self._ipc.publish_iot(topic, payload, qos=1)
        except Exception as err:  # the IPC client raises its own modelled errors and plain ones
            raise UploadError(f"PublishToIoTCore {topic}: {err!r}", link_down=True) from err


class MemoryObjectSink:
    """An in-memory bucket: ``objects[key] = body``; ``online = False`` makes puts fail like a lost link."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.metadata: dict[str, dict[str, str]] = {}
        self.puts: list[str] = []
        self.online = True
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """See :class:`ObjectSink`."""
        with self._lock:
            if not self.online:
                raise UploadError(f"{key}: connection refused (offline)", link_down=True)
            self.objects[key] = body
            self.metadata[key] = dict(metadata or {})
            self.puts.append(key)


class MemoryMessageSink:
    """Collects published messages; ``online = False`` makes publishes fail like a lost link."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.online = True
        self._lock = threading.Lock()

    def publish(self, topic: str, payload: bytes) -> None:
        """See :class:`MessageSink`."""
        with self._lock:
            if not self.online:
                raise UploadError(f"{topic}: not connected", link_down=True)
            self.messages.append((topic, payload))
