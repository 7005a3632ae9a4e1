"""Where the S3 and STS requests' credentials come from: the token exchange service, the
environment, or nowhere (with a message saying what to set)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import urlsplit

from components.sync.aws.http import Endpoint, HttpClient
from components.sync.exceptions import AwsLinkError, CredentialsUnavailableError

# Refresh token-exchange credentials this long before they expire (the nucleus' cache does the same).
_REFRESH_MARGIN_S = 300.0


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
