"""Signed requests to one region: SigV4 by awscrt, sent over :class:`HttpClient`."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Mapping
from concurrent.futures import TimeoutError as FutureTimeoutError

from awscrt.auth import (
    AwsCredentialsProvider,
    AwsSignatureType,
    AwsSignedBodyHeaderType,
    AwsSigningAlgorithm,
    AwsSigningConfig,
    aws_sign_request,
)
from awscrt.exceptions import AwsCrtError
from awscrt.http import HttpHeaders, HttpRequest

from components.sync.aws.credentials import CredentialsSource, credentials_from_environment
from components.sync.aws.http import Endpoint, HttpClient, HttpResponse
from components.sync.exceptions import AwsServiceError, CredentialsUnavailableError


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
