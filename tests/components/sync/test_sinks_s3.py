"""The S3 sink over the component's awscrt client: real uploads to moto with token-exchange
credentials, SigV4 checked against botocore's, and each failure mapped to the right UploadError."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from components.common.live_config import validate_config
from components.sync.aws import (
    AwsApi,
    ContainerCredentials,
    Credentials,
    Endpoint,
    HttpClient,
    MissingCredentials,
    S3Client,
    StaticCredentials,
    StsClient,
    credentials_from_environment,
)
from components.sync.component import SyncComponent
from components.sync.config import SyncConfig
from components.sync.encoding import decode_batch
from components.sync.exceptions import AwsLinkError, AwsServiceError, CredentialsUnavailableError, UploadError
from components.sync.sinks import MemoryMessageSink, S3ObjectSink, account_bucket
from components.sync.store.sqlite import SqliteStore
from localcore.cloud.connectivity import OFFLINE, ONLINE, Connectivity
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.proxy import FaultProxy
from localcore.cloud.tes import TES_COMPONENT, TokenExchangeService, moto_role_credentials

from .conftest import reading

THING = "dev-1"
FAKE = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token-example")


@pytest.fixture(scope="module")
def cloud() -> Iterator[MotoCloud]:
    """GIVEN the embedded cloud's moto server, provisioned from bundle.yaml (data bucket included)."""
    moto = MotoCloud(describe_bundle(load_spec()))
    moto.start()
    yield moto
    moto.stop()


@pytest.fixture
def tes(cloud: MotoCloud) -> Iterator[TokenExchangeService]:
    """GIVEN localcore's token exchange service handing out moto STS credentials."""
    source = moto_role_credentials(cloud.client("sts"), cloud.client("iot"), load_spec().fleet.role_alias)
    service = TokenExchangeService(source, endpoint_url=cloud.url, region=cloud.region)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def proxied(cloud: MotoCloud) -> Iterator[tuple[Connectivity, FaultProxy]]:
    """GIVEN the fault proxy in front of the cloud, to cut the link for real."""
    connectivity = Connectivity()
    host, port = cloud.url.removeprefix("http://").split(":")
    proxy = FaultProxy(connectivity, host, int(port))
    proxy.start()
    yield connectivity, proxy
    proxy.stop()


def component_env(tes: TokenExchangeService, endpoint_url: str) -> dict[str, str]:
    """What the runner gives a component depending on TES (the endpoint possibly through the proxy)."""
    env = tes.environment("com.edgebundle.Sync", "sync-token", [TES_COMPONENT])
    return {**env, "AWS_ENDPOINT_URL": endpoint_url}


class CannedS3:
    """A loopback HTTP server answering every request with ``status`` and ``body``; keeps what it got."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.hang = threading.Event()  # set: accept the request, never answer
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        canned = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                canned.requests.append((self.command, self.path, dict(self.headers.items()), body))
                if canned.hang.is_set():
                    canned.released.wait(10)
                    return
                self.send_response(canned.status)
                self.send_header("Content-Length", str(len(canned.body)))
                self.end_headers()
                self.wfile.write(canned.body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def canned() -> Iterator[CannedS3]:
    server = CannedS3()
    yield server
    server.stop()


def canned_sink(canned: CannedS3, **http: float) -> S3ObjectSink:
    api = AwsApi("eu-west-1", StaticCredentials(FAKE), HttpClient(**http), {"": canned.url})
    return S3ObjectSink(S3Client(api), "bucket-a")


# --- real uploads -----------------------------------------------------------------------------


def test_batches_reach_moto_with_token_exchange_credentials(
    tmp_path: Path, cloud: MotoCloud, tes: TokenExchangeService
) -> None:
    # GIVEN the sink built as the entry point builds it, bucket named through STS
    api = AwsApi.from_environment(cloud.region, component_env(tes, cloud.url))
    sink = S3ObjectSink(
        S3Client(api), account_bucket(StsClient(api), load_spec().data.bucket_prefix, cloud.region)
    )
    config = validate_config(SyncConfig, {"storeDir": str(tmp_path), "batch": {"maxAgeSeconds": 0}})
    store = SqliteStore(tmp_path / "sync.db")
    service = SyncComponent(config, store, sink, MemoryMessageSink(), THING)
    # WHEN readings are ingested and drained
    for seq in range(30):
        service.ingestor.offer("readings", reading(seq))
    service.ingestor.flush()
    while service.uploader.step():
        pass
    store.close()
    # THEN one batch object holds them, with its metadata, in the bundle's bucket
    assert sink.bucket == cloud.bucket
    s3 = cloud.client("s3")
    [obj] = s3.list_objects_v2(Bucket=cloud.bucket, Prefix="telemetry/dev-1/")["Contents"]
    got = s3.get_object(Bucket=cloud.bucket, Key=obj["Key"])
    assert [m["seq"] for m in decode_batch(got["Body"].read())] == list(range(30))
    assert got["Metadata"]["stream"] == "readings" and got["Metadata"]["records"] == "30"
    assert tes.served >= 1


def test_keys_needing_escapes_and_metadata_arrive_as_given(cloud: MotoCloud) -> None:
    api = AwsApi(
        cloud.region, StaticCredentials(Credentials("testing", "testing")), HttpClient(), {"": cloud.url}
    )
    key = "images/dev-1/a b+c%d~é.png"
    S3Client(api).put_object(cloud.bucket, key, b"\x89PNG", {"Source": "inspection-spool"})
    got = cloud.client("s3").get_object(Bucket=cloud.bucket, Key=key)
    assert got["Body"].read() == b"\x89PNG" and got["Metadata"] == {"source": "inspection-spool"}


def test_a_missing_bucket_is_a_refusal_not_a_lost_link(cloud: MotoCloud, tes: TokenExchangeService) -> None:
    api = AwsApi.from_environment(cloud.region, component_env(tes, cloud.url))
    with pytest.raises(UploadError, match="NoSuchBucket") as info:
        S3ObjectSink(S3Client(api), "no-such-bucket").put("k", b"x")
    assert info.value.link_down is False


def test_a_cut_link_is_link_down_and_the_same_sink_recovers(
    cloud: MotoCloud, tes: TokenExchangeService, proxied: tuple[Connectivity, FaultProxy]
) -> None:
    connectivity, proxy = proxied
    api = AwsApi.from_environment(cloud.region, component_env(tes, proxy.url))
    sink = S3ObjectSink(S3Client(api), cloud.bucket)
    sink.put("link/one", b"1")  # keeps a connection open through the proxy
    connectivity.set_state(OFFLINE)
    with pytest.raises(UploadError) as info:
        sink.put("link/two", b"2")
    assert info.value.link_down is True
    connectivity.set_state(ONLINE)
    sink.put("link/three", b"3")
    listing = cloud.client("s3").list_objects_v2(Bucket=cloud.bucket, Prefix="link/")["Contents"]
    assert [o["Key"] for o in listing] == ["link/one", "link/three"]


def test_bucket_resolution_offline_is_link_down_and_retried_later(
    cloud: MotoCloud, tes: TokenExchangeService, proxied: tuple[Connectivity, FaultProxy]
) -> None:
    connectivity, proxy = proxied
    api = AwsApi.from_environment(cloud.region, component_env(tes, proxy.url))
    sink = S3ObjectSink(
        S3Client(api), account_bucket(StsClient(api), load_spec().data.bucket_prefix, cloud.region)
    )
    connectivity.set_state(OFFLINE)
    with pytest.raises(UploadError, match="resolving the bucket") as info:
        _ = sink.bucket
    assert info.value.link_down is True
    connectivity.set_state(ONLINE)
    assert sink.bucket == cloud.bucket


def test_refused_or_unreachable_credentials_are_link_down(
    cloud: MotoCloud, tes: TokenExchangeService
) -> None:
    env = component_env(tes, cloud.url)
    wrong_token = AwsApi.from_environment(
        cloud.region, {**env, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "stolen"}
    )
    with pytest.raises(UploadError, match="HTTP 403") as info:
        S3ObjectSink(S3Client(wrong_token), cloud.bucket).put("k", b"x")
    assert info.value.link_down is True
    tes_url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    tes.stop()  # the nucleus is restarting
    gone = AwsApi.from_environment(cloud.region, {**env, "AWS_CONTAINER_CREDENTIALS_FULL_URI": tes_url})
    with pytest.raises(UploadError, match="token exchange service") as info:
        S3ObjectSink(S3Client(gone), cloud.bucket).put("k", b"x")
    assert info.value.link_down is True


def test_no_credentials_configured_says_what_to_set() -> None:
    source = credentials_from_environment({}, HttpClient())
    assert isinstance(source, MissingCredentials)
    with pytest.raises(CredentialsUnavailableError, match="AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        source.get()
    with pytest.raises(ValueError, match="AWS_CONTAINER_AUTHORIZATION_TOKEN"):
        credentials_from_environment(
            {"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://127.0.0.1:1/"}, HttpClient()
        )


# --- the error mapping, with canned answers ------------------------------------------------------

S3_ERROR = b"<?xml version='1.0'?><Error><Code>%s</Code><Message>m</Message></Error>"


@pytest.mark.parametrize(
    ("status", "body", "link_down"),
    [
        (503, S3_ERROR % b"SlowDown", True),
        (500, S3_ERROR % b"InternalError", True),
        (502, b"", True),  # a proxy's bare gateway error
        (429, b"", True),
        (400, S3_ERROR % b"RequestTimeout", True),
        (400, S3_ERROR % b"ExpiredToken", True),
        (403, S3_ERROR % b"AccessDenied", False),
        (400, S3_ERROR % b"InvalidArgument", False),
        (404, S3_ERROR % b"NoSuchBucket", False),
    ],
)
def test_service_errors_map_to_retry_or_refusal(
    canned: CannedS3, status: int, body: bytes, link_down: bool
) -> None:
    canned.status, canned.body = status, body
    with pytest.raises(UploadError, match=f"HTTP {status}") as info:
        canned_sink(canned).put("telemetry/k", b"x")
    assert info.value.link_down is link_down
    assert isinstance(info.value.__cause__, AwsServiceError)


def test_no_answer_within_the_read_timeout_is_link_down(canned: CannedS3) -> None:
    canned.hang.set()
    with pytest.raises(UploadError, match="no response within") as info:
        canned_sink(canned, read_timeout_s=0.5).put("telemetry/k", b"x")
    assert info.value.link_down is True
    assert isinstance(info.value.__cause__, AwsLinkError)


def test_nothing_listening_is_link_down() -> None:
    api = AwsApi(
        "eu-west-1", StaticCredentials(FAKE), HttpClient(connect_timeout_s=2), {"": "http://127.0.0.1:9"}
    )
    with pytest.raises(UploadError) as info:
        S3ObjectSink(S3Client(api), "bucket-a").put("k", b"x")
    assert info.value.link_down is True


def test_the_signature_is_the_one_botocore_computes(canned: CannedS3) -> None:
    # GIVEN a put with metadata, a key needing escapes and session credentials
    canned_sink(canned).put("telemetry/dev-1/a b.bin", b"payload", {"stream": "readings"})
    [(method, path, headers, body)] = canned.requests
    # THEN it is path-style, carries the payload hash and the token, and botocore's SigV4 for S3
    # over the same signed headers and time gives the same signature
    assert (method, path, body) == ("PUT", "/bucket-a/telemetry/dev-1/a%20b.bin", b"payload")
    assert headers["x-amz-meta-stream"] == "readings"
    assert headers["X-Amz-Security-Token"] == FAKE.session_token
    authorization = headers["Authorization"]
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    assert {"host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-stream"} <= set(signed_names)
    lowered = {name.lower(): value for name, value in headers.items()}
    request = AWSRequest(
        method=method,
        url=f"{canned.url}{path}",
        headers={name: lowered[name] for name in signed_names},
        data=body,
    )
    stamp = lowered["x-amz-date"]
    request.context["timestamp"] = stamp
    auth = S3SigV4Auth(
        BotoCredentials(FAKE.access_key_id, FAKE.secret_access_key, FAKE.session_token), "s3", "eu-west-1"
    )
    expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
    assert authorization.endswith(f"Signature={expected}")
    assert datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")  # a well-formed SigV4 time


# --- inputs ---------------------------------------------------------------------------------------


def test_bad_inputs_are_named() -> None:
    with pytest.raises(ValueError, match="expected http"):
        Endpoint.parse("localhost:4566", "AWS_ENDPOINT_URL")
    with pytest.raises(ValueError, match="region"):
        AwsApi("", StaticCredentials(FAKE), HttpClient())
    with pytest.raises(ValueError, match="timeouts must be > 0"):
        HttpClient(read_timeout_s=0)
    client = S3Client(AwsApi("eu-west-1", StaticCredentials(FAKE), HttpClient(), {"": "http://127.0.0.1:9"}))
    with pytest.raises(ValueError, match="single-line ASCII"):
        client.put_object("bucket-a", "k", b"x", {"note": "caf\u00e9"})
    with pytest.raises(ValueError, match="non-empty"):
        client.put_object("", "k", b"x")


def test_aws_endpoints_without_an_override() -> None:
    api = AwsApi("eu-west-1", StaticCredentials(FAKE), HttpClient())
    client = S3Client(api)
    assert client._locate("edge-bundle-data-1-eu-west-1", "a/b c") == (
        Endpoint("https", "edge-bundle-data-1-eu-west-1.s3.eu-west-1.amazonaws.com", 443),
        "/a/b%20c",
    )
    assert client._locate("dotted.bucket", "k") == (
        Endpoint("https", "s3.eu-west-1.amazonaws.com", 443),
        "/dotted.bucket/k",
    )
    assert AwsApi("cn-north-1", StaticCredentials(FAKE), HttpClient()).dns_suffix == "amazonaws.com.cn"


def test_token_exchange_credentials_are_cached_until_near_expiry_and_refetched_when_expired(
    tes: TokenExchangeService, canned: CannedS3
) -> None:
    # GIVEN credentials from the token exchange service and a clock we move
    tes.register("com.edgebundle.Sync", "sync-token")
    now = [0.0]
    source = ContainerCredentials(tes.url, "sync-token", HttpClient(), clock=lambda: now[0])
    first = source.get()
    assert first.expires_at is not None and first.session_token
    now[0] = first.expires_at - 600  # WHEN well before expiry THEN served from the cache
    assert source.get() == first and tes.served == 1
    now[0] = first.expires_at - 60  # WHEN within the refresh margin THEN fetched again
    source.get()
    assert tes.served == 2
    # WHEN S3 says the token expired (cached ones, still valid by the clock) THEN the put is
    # retried later with fresh credentials
    now[0] = first.expires_at - 600
    canned.status, canned.body = 400, S3_ERROR % b"ExpiredToken"
    api = AwsApi("eu-west-1", source, HttpClient(), {"": canned.url})
    with pytest.raises(UploadError, match="ExpiredToken") as info:
        S3ObjectSink(S3Client(api), "bucket-a").put("k", b"x")
    assert info.value.link_down is True
    source.get()
    assert tes.served == 3
