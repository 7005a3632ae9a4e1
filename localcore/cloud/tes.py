"""The token exchange service: AWS credentials for components, on loopback, checked by token.

Components whose recipe depends on ``aws.greengrass.TokenExchangeService`` get
``AWS_CONTAINER_CREDENTIALS_FULL_URI`` and ``AWS_CONTAINER_AUTHORIZATION_TOKEN`` (the component's
SVCUID, as the nucleus' ShellRunner sets it); botocore's container credential provider then asks
this endpoint, which answers in the container-credentials shape with temporary credentials from
moto's STS for the bundle's token exchange role (via its role alias, as IoT's credentials
provider does). In embedded mode ``AWS_ENDPOINT_URL`` points boto3 at the fault proxy.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.tes")

TES_COMPONENT = "aws.greengrass.TokenExchangeService"
CREDENTIALS_PATH = "/2016-11-01/credentialprovider/"
# Refresh a little before expiry, like the nucleus' credentials cache does.
_REFRESH_MARGIN_S = 300

CredentialsSource = Callable[[], dict[str, Any]]


class TokenExchangeService:
    """A loopback HTTP endpoint handing out credentials to components with a known token."""

    def __init__(
        self,
        credentials_source: CredentialsSource,
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._source = credentials_source
        self._endpoint_url = endpoint_url
        self._region = region
        self._clock = clock
        self._tokens: dict[str, str] = {}  # token -> component
        self._cached: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.served = 0
        self.refused = 0

    # --- tokens
    def register(self, component: str, token: str) -> None:
        """Accept ``token`` as ``component``'s (the runner's SVCUID for it); its older tokens stop working."""
        if not token:
            raise ValueError(f"component {component!r}: an empty token cannot be registered")
        with self._lock:
            for old in [t for t, c in self._tokens.items() if c == component and t != token]:
                del self._tokens[old]  # a restarted component got a new SVCUID
            self._tokens[token] = component

    def unregister(self, component: str) -> None:
        """Forget every token of ``component``."""
        with self._lock:
            for token in [t for t, c in self._tokens.items() if c == component]:
                del self._tokens[token]

    def owner(self, token: str | None) -> str | None:
        """The component ``token`` belongs to, or ``None``."""
        if not token:
            return None
        with self._lock:
            return self._tokens.get(token)

    # --- environment for the runner
    @property
    def url(self) -> str:
        """The full credentials URI components are given."""
        if self._server is None:
            raise RuntimeError("the token exchange service is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{CREDENTIALS_PATH}"

    def environment(self, component: str, token: str, dependencies: Iterable[str]) -> dict[str, str]:
        """Extra environment for one component: credentials variables only if it depends on TES."""
        if TES_COMPONENT not in set(dependencies):
            return {}
        self.register(component, token)
        env = {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": self.url,
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": token,
        }
        if self._endpoint_url:
            env["AWS_ENDPOINT_URL"] = self._endpoint_url
        if self._region:
            env.setdefault("AWS_REGION", self._region)
            env.setdefault("AWS_DEFAULT_REGION", self._region)
        return env

    # --- credentials
    def credentials(self) -> dict[str, Any]:
        """Current credentials in the container-credentials JSON shape (cached until near expiry)."""
        with self._lock:
            cached = self._cached
        if cached is not None and cached["_expires_at"] - self._clock() > _REFRESH_MARGIN_S:
            return {k: v for k, v in cached.items() if not k.startswith("_")}
        raw = self._source()
        expiration = raw["Expiration"]
        if isinstance(expiration, datetime):
            expires_at = expiration.timestamp()
        else:
            expires_at = datetime.fromisoformat(str(expiration).replace("Z", "+00:00")).timestamp()
        document = {
            "AccessKeyId": raw["AccessKeyId"],
            "SecretAccessKey": raw["SecretAccessKey"],
            "Token": raw["SessionToken"],
            "Expiration": datetime.fromtimestamp(expires_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        with self._lock:
            self._cached = {**document, "_expires_at": expires_at}
        return document

    # --- server
    def start(self) -> None:
        """Serve on ``127.0.0.1`` (free port) in a background thread."""
        service = self

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                service._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return  # each request is logged once by _handle, without the token

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="tes", daemon=True)
        self._thread.start()
        log.info(kv(event="tes_started", url=self.url))

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        if request.path.split("?")[0].rstrip("/") != CREDENTIALS_PATH.rstrip("/"):
            self._reply(request, HTTPStatus.NOT_FOUND, {"message": "not found"})
            return
        token = request.headers.get("Authorization")
        component = self.owner(token)
        if token is None:
            self.refused += 1
            log.warning(kv(event="tes_refused", reason="missing Authorization header"))
            self._reply(request, HTTPStatus.UNAUTHORIZED, {"message": "Authorization header missing"})
            return
        if component is None:
            self.refused += 1
            log.warning(kv(event="tes_refused", reason="unknown token"))
            self._reply(request, HTTPStatus.FORBIDDEN, {"message": "Invalid authorization token"})
            return
        try:
            document = self.credentials()
        except Exception as err:  # the cloud may be offline; the caller retries like with real TES
            log.warning(kv(event="tes_credentials_failed", component=component, error=err))
            self._reply(request, HTTPStatus.INTERNAL_SERVER_ERROR, {"message": "credentials unavailable"})
            return
        self.served += 1
        log.info(kv(event="tes_served", component=component))
        self._reply(request, HTTPStatus.OK, document)

    @staticmethod
    def _reply(request: BaseHTTPRequestHandler, status: HTTPStatus, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)


def moto_role_credentials(sts_client: Any, iot_client: Any, role_alias: str) -> CredentialsSource:
    """Credentials for the role behind ``role_alias``, from moto's STS (what IoT's provider does)."""

    def _fetch() -> dict[str, Any]:
        role_arn = iot_client.describe_role_alias(roleAlias=role_alias)["roleAliasDescription"]["roleArn"]
        response = sts_client.assume_role(RoleArn=role_arn, RoleSessionName="localcore-tes")
        credentials: dict[str, Any] = response["Credentials"]
        return credentials

    return _fetch
