"""The two calls: S3 PutObject and STS GetCallerIdentity, each a small client over :class:`AwsApi`."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

from components.sync.aws.api import AwsApi
from components.sync.aws.http import Endpoint
from components.sync.exceptions import AwsServiceError

_STS_VERSION = "2011-06-15"
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
