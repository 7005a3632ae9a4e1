"""Where uploads go: S3 objects and IoT Core messages, each behind a small interface.

Real implementations wrap the component's awscrt S3 client (:mod:`components.sync.aws`; no boto3
on the device, see there) and its IPC; the in-memory fakes are real working sinks with an on/off
switch, used by unit tests. Client errors are turned into :class:`UploadError` at this boundary,
saying whether the failure looks like a lost link (back off and retry) or a refusal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from components.common.ipc import ComponentIpc
from components.sync.aws import S3Client, StsClient
from components.sync.config import bucket_name
from components.sync.exceptions import AwsLinkError, AwsServiceError, UploadError

# S3's and STS' throttling and transient codes, as botocore's standard retry mode lists them;
# with any 5xx they mean "try again later", like a lost link.
_RETRYABLE_CODES = {
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "TooManyRequests",
    "ServiceUnavailable",
    "PriorRequestNotComplete",
    # Token-exchange credentials expired between fetch and use: fetched anew on the next try.
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestTimeTooSkewed",
}


def _upload_error(target: str, err: AwsLinkError | AwsServiceError) -> UploadError:
    """The :class:`UploadError` for a client error: link down for no answer, 5xx, 429 and throttling."""
    if isinstance(err, AwsLinkError):
        # Token-exchange credentials come over the same link; unreachable, they look like this.
        return UploadError(f"{target}: {err}", link_down=True)
    retry = err.status >= 500 or err.status == 429 or err.code in _RETRYABLE_CODES
    return UploadError(f"{target}: {err.code} (HTTP {err.status}) {err}", link_down=retry)


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
    """:class:`ObjectSink` over the component's S3 client.

    Args:
        client: the :class:`~components.sync.aws.S3Client` (created in the entry point).
        bucket: the bucket name, or a function resolving it on first use (it may need the link);
            it may raise the client's errors, which are mapped like a put's.
    """

    def __init__(self, client: S3Client, bucket: str | Callable[[], str]) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        """The bucket, resolved on first use."""
        if callable(self._bucket):
            try:
                self._bucket = self._bucket()
            except (AwsLinkError, AwsServiceError) as err:
                raise _upload_error("resolving the bucket", err) from err
        return self._bucket

    def put(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        """See :class:`ObjectSink`."""
        bucket = self.bucket
        try:
            self._client.put_object(bucket, key, body, metadata or {})
        except (AwsLinkError, AwsServiceError) as err:
            raise _upload_error(f"s3://{bucket}/{key}", err) from err


def account_bucket(sts: StsClient, prefix: str, region: str) -> Callable[[], str]:
    """The data bucket for the account the credentials belong to, asked once with STS when online.

    For a configuration naming no ``bucket`` (the CDK app's deployment names it; the local
    deployment leaves it to this, as the embedded cloud's account is moto's).
    """

    def resolve() -> str:
        return bucket_name(prefix, account=sts.caller_account(), region=region)

    return resolve


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
