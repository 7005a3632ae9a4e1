"""The fault proxy: boto3 through it works online and fails with real connection errors offline."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError

from localcore.cloud.connectivity import FLAKY, OFFLINE, ONLINE, Connectivity
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.proxy import FaultProxy

CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError)


@pytest.fixture
def proxied(moto_cloud: MotoCloud) -> Iterator[tuple[Connectivity, FaultProxy]]:
    connectivity = Connectivity()
    host, port = moto_cloud.url.removeprefix("http://").split(":")
    proxy = FaultProxy(connectivity, host, int(port))
    proxy.start()
    yield connectivity, proxy
    proxy.stop()


def test_online_offline_online_through_the_proxy(
    moto_cloud: MotoCloud, proxied: tuple[Connectivity, FaultProxy]
) -> None:
    connectivity, proxy = proxied
    s3 = moto_cloud.client("s3", endpoint_url=proxy.url)
    s3.put_object(Bucket=moto_cloud.bucket, Key="proxy/one", Body=b"1")  # opens a pooled connection

    connectivity.set_state(OFFLINE)
    with pytest.raises(CONNECTION_ERRORS):
        s3.put_object(Bucket=moto_cloud.bucket, Key="proxy/two", Body=b"2")
    fresh = moto_cloud.client("s3", endpoint_url=proxy.url)
    with pytest.raises(CONNECTION_ERRORS):
        fresh.list_buckets()

    connectivity.set_state(ONLINE)
    s3.put_object(Bucket=moto_cloud.bucket, Key="proxy/three", Body=b"3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=moto_cloud.bucket, Prefix="proxy/")["Contents"]]
    assert keys == ["proxy/one", "proxy/three"]
    assert proxy.dropped >= 1


def test_flaky_drops_calls(moto_cloud: MotoCloud, proxied: tuple[Connectivity, FaultProxy]) -> None:
    connectivity, proxy = proxied
    s3 = moto_cloud.client("s3", endpoint_url=proxy.url)
    connectivity.set_state(FLAKY, 1.0)
    with pytest.raises(CONNECTION_ERRORS):
        s3.list_buckets()
    connectivity.set_state(FLAKY, 0.0)
    assert s3.list_buckets()["Buckets"]
