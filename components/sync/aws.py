"""The two AWS calls the sync component makes, over awscrt: S3 PutObject and STS GetCallerIdentity.

Why not boto3: a boto3 S3 client costs about 57 MiB resident on its own, more than the rest of the
component (issue #10, footprint). awscrt is already loaded for the IPC client, and it has what
these two calls need: SigV4 signing (:func:`awscrt.auth.aws_sign_request`) and an HTTP/1.1 client.

Credentials come the way the Greengrass nucleus hands them to components that depend on
``aws.greengrass.TokenExchangeService``: ``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and
``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (the container-credentials protocol; localcore's TES speaks
it too). Without them, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN`` are
used. awscrt's own default chain is not used: it would fall through to EC2 instance metadata when
the token exchange service is briefly unreachable.

Endpoints: ``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL_STS``, else ``AWS_ENDPOINT_URL`` (how
localcore points components at the embedded cloud), with path-style S3 addressing; else the
regional AWS endpoints, with virtual-hosted S3 addressing.

Example::

    api = AwsApi.from_environment(region="eu-west-1")
    S3Client(api).put_object("my-bucket", "telemetry/a.bin", b"...", {"stream": "readings"})
    account = StsClient(api).caller_account()
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from awscrt.auth import (
    AwsCredentialsProvider,
    AwsSignatureType,
    AwsSignedBodyHeaderType,
    AwsSigningAlgorithm,
    AwsSigningConfig,
    aws_sign_request,
)
from awscrt.exceptions import AwsCrtError
from awscrt.http import HttpClientConnection, HttpHeaders, HttpRequest
from awscrt.io import ClientTlsContext, SocketOptions, TlsContextOptions

# Refresh token-exchange credentials this long before they expire (the nucleus' cache does the same).
_REFRESH_MARGIN_S = 300.0
_STS_VERSION = "2011-06-15"


class AwsLinkError(Exception):
    """No answer from AWS: the connection failed, timed out or closed, or credentials are unreachable."""


class CredentialsUnavailableError(AwsLinkError):
    """No credentials: the token exchange service did not answer with any, or none are configured."""


class AwsServiceError(Exception):
    """AWS answered with an error: ``status`` (HTTP) and ``code`` (e.g. ``NoSuchBucket``)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"HTTP {status} {code}: {message}" if message else f"HTTP {status} {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Credentials:
    """AWS credentials; ``expires_at`` (Unix seconds) is ``None`` for long-lived ones."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None
    expires_at: float | None = None

    def __repr__(self) -> str:  # never log a secret
        return f"Credentials(access_key_id={self.access_key_id!r}, expires_at={self.expires_at!r})"


class CredentialsSource(Protocol):
    """Gives current credentials; ``invalidate`` forgets cached ones (AWS said they expired)."""

    def get(self) -> Credentials:
        """Current credentials; raises :class:`CredentialsUnavailableError`."""
        ...

    def invalidate(self) -> None:
        """Fetch anew on the next :meth:`get`."""
        ...


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: ``scheme`` (http or https), ``host``, ``port`` and a base ``path``."""

    scheme: str
    host: str
    port: int
    path: str = ""

    @classmethod
    def parse(cls, url: str, what: str = "endpoint URL") -> Endpoint:
        """Parse ``http(s)://host[:port][/path]``; raises ``ValueError`` naming ``what`` otherwise."""
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{what}: expected http(s)://host[:port], got {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as err:
            raise ValueError(f"{what}: bad port in {url!r}") from err
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (the port only when it is not the scheme's default)."""
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class HttpResponse:
    """A whole HTTP response."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class HttpClient:
    """Blocking HTTP/1.1 requests over awscrt, keeping one connection alive per endpoint.

    Args:
        connect_timeout_s: give up connecting (and the TLS handshake) after this long.
        read_timeout_s: give up waiting for a whole response after this long.
    """

    def __init__(self, *, connect_timeout_s: float = 5.0, read_timeout_s: float = 30.0) -> None:
        if connect_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(
                f"timeouts must be > 0 s (got connect {connect_timeout_s}, read {read_timeout_s})"
            )
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._connections: dict[Endpoint, HttpClientConnection] = {}
        self._tls: ClientTlsContext | None = None
        self._lock = threading.Lock()

    def request(
        self, endpoint: Endpoint, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
    ) -> HttpResponse:
        """Send one request and return the response; raises :class:`AwsLinkError` without one."""
        with self._lock:
            reused = endpoint in self._connections
            try:
                return self._exchange(endpoint, method, path, headers, body)
            except AwsLinkError as err:
                # A kept-alive connection the server closed while idle fails at once: one fresh
                # try. A timeout is not retried (it would only double the wait).
                if not reused or isinstance(err.__cause__, FutureTimeoutError):
                    raise
            return self._exchange(endpoint, method, path, headers, body)

    def close(self) -> None:
        """Close the kept-alive connections."""
        with self._lock:
            for connection in self._connections.values():
                connection.close()
            self._connections.clear()

    def _connection(self, endpoint: Endpoint) -> HttpClientConnection:
        kept = self._connections.get(endpoint)
        if kept is not None and kept.is_open():
            return kept
        self._connections.pop(endpoint, None)
        socket_options = SocketOptions()
        socket_options.connect_timeout_ms = int(self._connect_timeout_s * 1000)
        tls_options = None
        if endpoint.scheme == "https":
            if self._tls is None:
                self._tls = ClientTlsContext(TlsContextOptions())  # the system's trust store
            tls_options = self._tls.new_connection_options()
            tls_options.set_server_name(endpoint.host)
        future = HttpClientConnection.new(
            endpoint.host, endpoint.port, socket_options=socket_options, tls_connection_options=tls_options
        )
        try:
            # The socket's own timeout covers the connect; the margin covers DNS and TLS.
            connection: HttpClientConnection = future.result(timeout=self._connect_timeout_s * 2)
        except FutureTimeoutError as err:
            future.add_done_callback(_close_late_connection)  # do not leak it if it comes up later
            raise AwsLinkError(
                f"{endpoint.host_header}: no connection within {self._connect_timeout_s * 2:g} s"
            ) from err
        except AwsCrtError as err:
            raise AwsLinkError(f"{endpoint.host_header}: {err.name}: {err.message}") from err
        self._connections[endpoint] = connection
        return connection

    def _exchange(
        self, endpoint: Endpoint, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> HttpResponse:
        connection = self._connection(endpoint)
        request = HttpRequest(method, path, HttpHeaders(headers), io.BytesIO(body))
        response_headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        def on_response(http_stream: Any, status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            response_headers.extend(headers)

        def on_body(http_stream: Any, chunk: bytes, **_: Any) -> None:
            chunks.append(bytes(chunk))

        try:
            stream = connection.request(request, on_response, on_body)
            stream.activate()
            status = int(stream.completion_future.result(timeout=self._read_timeout_s))
        except FutureTimeoutError as err:
            self._drop(endpoint)
            raise AwsLinkError(
                f"{endpoint.host_header}: no response within {self._read_timeout_s:g} s"
            ) from err
        except AwsCrtError as err:
            self._drop(endpoint)
            raise AwsLinkError(f"{endpoint.host_header}: {err.name}: {err.message}") from err
        except RuntimeError as err:  # awscrt raises this when the stream cannot start (connection closed)
            self._drop(endpoint)
            raise AwsLinkError(f"{endpoint.host_header}: {err}") from err
        return HttpResponse(status, response_headers, b"".join(chunks))

    def _drop(self, endpoint: Endpoint) -> None:
        connection = self._connections.pop(endpoint, None)
        if connection is not None:
            connection.close()


def _close_late_connection(future: Future[Any]) -> None:
    if future.exception() is None:
        future.result().close()


class StaticCredentials:
    """Fixed credentials (from the environment); ``invalidate`` has nothing to refresh."""

    def __init__(self, credentials: Credentials) -> None:
        self._credentials = credentials

    def get(self) -> Credentials:
        """See :class:`CredentialsSource`."""
        return self._credentials

    def invalidate(self) -> None:
        """See :class:`CredentialsSource`."""


class MissingCredentials:
    """No credentials configured: every :meth:`get` says what to set."""

    def get(self) -> Credentials:
        """Always raises :class:`CredentialsUnavailableError`."""
        raise CredentialsUnavailableError(
            "no AWS credentials: expected AWS_CONTAINER_CREDENTIALS_FULL_URI and"
            " AWS_CONTAINER_AUTHORIZATION_TOKEN (the recipe must depend on"
            " aws.greengrass.TokenExchangeService) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )

    def invalidate(self) -> None:
        """See :class:`CredentialsSource`."""


class ContainerCredentials:
    """Credentials from a container-credentials endpoint (Greengrass' token exchange service), cached.

    Args:
        uri: ``AWS_CONTAINER_CREDENTIALS_FULL_URI``.
        token: ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, sent as the ``Authorization`` header.
        http: the client to ask with.
        clock: Unix time, for expiry.
    """

    def __init__(
        self, uri: str, token: str, http: HttpClient, clock: Callable[[], float] = time.time
    ) -> None:
        endpoint = Endpoint.parse(uri, "AWS_CONTAINER_CREDENTIALS_FULL_URI")
        parts = urlsplit(uri.strip())
        self._endpoint = Endpoint(endpoint.scheme, endpoint.host, endpoint.port)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._token = token
        self._http = http
        self._clock = clock
        self._cached: Credentials | None = None
        self._lock = threading.Lock()

    def get(self) -> Credentials:
        """See :class:`CredentialsSource`."""
        with self._lock:
            cached = self._cached
            if cached is not None and (
                cached.expires_at is None or cached.expires_at - self._clock() > _REFRESH_MARGIN_S
            ):
                return cached
            self._cached = self._fetch()
            return self._cached

    def invalidate(self) -> None:
        """See :class:`CredentialsSource`."""
        with self._lock:
            self._cached = None

    def _fetch(self) -> Credentials:
        headers = [
            ("Host", self._endpoint.host_header),
            ("Authorization", self._token),
            ("Accept", "application/json"),
        ]
        try:
            response = self._http.request(self._endpoint, "GET", self._path, headers)
        except AwsLinkError as err:
            raise CredentialsUnavailableError(f"token exchange service: {err}") from err
        if response.status != 200:
            detail = response.body[:200].decode("utf-8", "replace")
            raise CredentialsUnavailableError(
                f"token exchange service answered HTTP {response.status}: {detail}"
            )
        try:
            document = json.loads(response.body)
            expiration = document.get("Expiration")
            return Credentials(
                access_key_id=str(document["AccessKeyId"]),
                secret_access_key=str(document["SecretAccessKey"]),
                session_token=str(document["Token"]) if document.get("Token") else None,
                expires_at=_parse_time(str(expiration)) if expiration else None,
            )
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise CredentialsUnavailableError(
                f"token exchange service: expected JSON with AccessKeyId, SecretAccessKey, Token and"
                f" Expiration, got {response.body[:80]!r}"
            ) from err


def _parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def credentials_from_environment(environ: Mapping[str, str], http: HttpClient) -> CredentialsSource:
    """The token exchange service when configured, else static environment credentials, else none."""
    uri = environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    if uri:
        token = environ.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")
        if not token:
            raise ValueError(
                "AWS_CONTAINER_CREDENTIALS_FULL_URI is set but AWS_CONTAINER_AUTHORIZATION_TOKEN is empty:"
                " the nucleus sets both for components that depend on aws.greengrass.TokenExchangeService"
            )
        return ContainerCredentials(uri, token, http)
    key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return StaticCredentials(Credentials(key, secret, environ.get("AWS_SESSION_TOKEN") or None))
    return MissingCredentials()


class AwsApi:
    """Signed requests to one region: SigV4 by awscrt, sent with :class:`HttpClient`.

    Args:
        region: the region requests are signed for and regional endpoints are in.
        credentials: where credentials come from.
        http: the HTTP client.
        endpoints: per-service endpoint overrides (``{"s3": "http://127.0.0.1:5000"}``); ``""``
            is the override for every service.
    """

    def __init__(
        self,
        region: str,
        credentials: CredentialsSource,
        http: HttpClient,
        endpoints: Mapping[str, str] | None = None,
    ) -> None:
        if not region:
            raise ValueError("region: expected an AWS region such as 'eu-west-1', got an empty string")
        self.region = region
        self.credentials = credentials
        self.http = http
        self._overrides = {
            service: Endpoint.parse(url, f"endpoint for {service or 'every service'}")
            for service, url in (endpoints or {}).items()
            if url
        }

    @classmethod
    def from_environment(
        cls, region: str, environ: Mapping[str, str] | None = None, http: HttpClient | None = None
    ) -> AwsApi:
        """Credentials and endpoint overrides from the process environment (see the module doc)."""
        env = os.environ if environ is None else environ
        client = http or HttpClient()
        overrides = {
            "": env.get("AWS_ENDPOINT_URL", ""),
            "s3": env.get("AWS_ENDPOINT_URL_S3", ""),
            "sts": env.get("AWS_ENDPOINT_URL_STS", ""),
        }
        return cls(region, credentials_from_environment(env, client), client, overrides)

    def override(self, service: str) -> Endpoint | None:
        """The configured endpoint for ``service``, or ``None`` for AWS' own."""
        return self._overrides.get(service) or self._overrides.get("")

    @property
    def dns_suffix(self) -> str:
        """``amazonaws.com``, or ``amazonaws.com.cn`` in the China regions."""
        return "amazonaws.com.cn" if self.region.startswith("cn-") else "amazonaws.com"

    def send(
        self,
        service: str,
        endpoint: Endpoint,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes = b"",
    ) -> HttpResponse:
        """Sign and send; returns a 2xx response, else raises :class:`AwsServiceError` or :class:`AwsLinkError`."""
        credentials = self.credentials.get()
        payload_hash = hashlib.sha256(body).hexdigest()
        request = HttpRequest(
            method,
            path,
            HttpHeaders([("Host", endpoint.host_header), ("Content-Length", str(len(body))), *headers]),
            io.BytesIO(body),
        )
        is_s3 = service == "s3"
        config = AwsSigningConfig(
            algorithm=AwsSigningAlgorithm.V4,
            signature_type=AwsSignatureType.HTTP_REQUEST_HEADERS,
            credentials_provider=AwsCredentialsProvider.new_static(
                credentials.access_key_id, credentials.secret_access_key, credentials.session_token
            ),
            region=self.region,
            service=service,
            # S3 signs the path as sent (no double encoding, no normalising) and wants the
            # payload hash in x-amz-content-sha256 (SigV4 for S3, "Signature Calculations").
            use_double_uri_encode=not is_s3,
            should_normalize_uri_path=not is_s3,
            signed_body_value=payload_hash,
            signed_body_header_type=(
                AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256 if is_s3 else AwsSignedBodyHeaderType.NONE
            ),
        )
        try:
            aws_sign_request(request, config).result(timeout=10)
        except (AwsCrtError, FutureTimeoutError) as err:
            raise CredentialsUnavailableError(f"signing the {service} request failed: {err!r}") from err
        signed = [(name, value) for name, value in request.headers]
        response = self.http.request(endpoint, method, path, signed, body)
        if 200 <= response.status < 300:
            return response
        code, message = _error_of(response)
        if code in ("ExpiredToken", "ExpiredTokenException", "InvalidToken"):
            self.credentials.invalidate()  # the next attempt fetches fresh ones
        raise AwsServiceError(response.status, code, message)


def _error_of(response: HttpResponse) -> tuple[str, str]:
    """``(code, message)`` from an S3 or STS XML error body; the HTTP reason when it has none."""
    text = response.body[:4096].decode("utf-8", "replace")
    code = re.search(r"<Code>([^<]*)</Code>", text)
    message = re.search(r"<Message>([^<]*)</Message>", text)
    if code:
        return code.group(1), message.group(1) if message else ""
    return _HTTP_REASONS.get(response.status, f"HTTP{response.status}"), text[:200]


# What botocore names a code-less error (e.g. a HEAD or a proxy's bare 503).
_HTTP_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests",
                 500: "InternalError", 502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}  # fmt: skip

_DNS_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class S3Client:
    """PutObject, nothing else.

    Args:
        api: the signed-request sender (region, credentials, endpoints).
    """

    def __init__(self, api: AwsApi) -> None:
        self._api = api

    def put_object(
        self, bucket: str, key: str, body: bytes, metadata: Mapping[str, str] | None = None
    ) -> None:
        """Store ``body`` at ``s3://bucket/key`` with user ``metadata`` (``x-amz-meta-*``).

        Raises:
            AwsServiceError: S3 refused (``NoSuchBucket``, ``AccessDenied``, ``SlowDown``...).
            AwsLinkError: no answer (including no credentials).
            ValueError: an empty bucket or key, or metadata that cannot be an HTTP header.
        """
        if not bucket or not key:
            raise ValueError(f"put_object: bucket and key must be non-empty (got {bucket!r}, {key!r})")
        headers = [("Content-Type", "application/octet-stream")]
        for name, value in (metadata or {}).items():
            if not (name.isascii() and value.isascii()) or "\n" in name + value or "\r" in name + value:
                raise ValueError(
                    f"metadata {name!r}: names and values must be single-line ASCII, got {value!r}"
                )
            headers.append((f"x-amz-meta-{name.lower()}", value))
        endpoint, path = self._locate(bucket, key)
        self._api.send("s3", endpoint, "PUT", path, headers, body)

    def _locate(self, bucket: str, key: str) -> tuple[Endpoint, str]:
        encoded_key = quote(key, safe="/~")
        override = self._api.override("s3")
        if override is not None:  # moto and other S3-compatible endpoints: path-style
            return override, f"{override.path}/{quote(bucket, safe='')}/{encoded_key}"
        host = f"s3.{self._api.region}.{self._api.dns_suffix}"
        if _DNS_BUCKET.match(bucket):
            return Endpoint("https", f"{bucket}.{host}", 443), f"/{encoded_key}"
        # Dotted names break the wildcard certificate of virtual-hosted addressing.
        return Endpoint("https", host, 443), f"/{quote(bucket, safe='')}/{encoded_key}"


class StsClient:
    """GetCallerIdentity, nothing else (the account names the bundle's bucket)."""

    def __init__(self, api: AwsApi) -> None:
        self._api = api

    def caller_account(self) -> str:
        """The account the credentials belong to.

        Raises:
            AwsServiceError: STS refused.
            AwsLinkError: no answer (including no credentials).
        """
        endpoint = self._api.override("sts") or Endpoint(
            "https", f"sts.{self._api.region}.{self._api.dns_suffix}", 443
        )
        body = f"Action=GetCallerIdentity&Version={_STS_VERSION}".encode()
        headers = [("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")]
        response = self._api.send("sts", endpoint, "POST", f"{endpoint.path}/", headers, body)
        account = re.search(rb"<Account>\s*([0-9]+)\s*</Account>", response.body)
        if account is None:
            raise AwsServiceError(
                response.status, "MalformedResponse", f"no <Account> in {response.body[:200]!r}"
            )
        return account.group(1).decode()
