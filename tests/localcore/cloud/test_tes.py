"""Token exchange: unmodified boto3 in a child process gets credentials and reaches moto's S3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.tes import TES_COMPONENT, TokenExchangeService, moto_role_credentials
from tests.localcore.cloud.description import DESCRIPTION


@pytest.fixture
def tes(moto_cloud: MotoCloud) -> Iterator[TokenExchangeService]:
    source = moto_role_credentials(
        moto_cloud.client("sts"), moto_cloud.client("iot"), DESCRIPTION.role_alias.name
    )
    service = TokenExchangeService(source, endpoint_url=moto_cloud.url, region=moto_cloud.region)
    service.start()
    yield service
    service.stop()


def _get(url: str, token: str | None) -> tuple[int, dict[str, str]]:
    request = urllib.request.Request(url, headers={"Authorization": token} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_only_components_depending_on_tes_get_credentials_variables(tes: TokenExchangeService) -> None:
    assert tes.environment("com.example.NoCloud", "t0", ["aws.greengrass.Nucleus"]) == {}
    env = tes.environment("com.example.Uploader", "t1", [TES_COMPONENT])
    assert env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] == tes.url
    assert env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] == "t1"
    assert env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
    assert tes.owner("t0") is None and tes.owner("t1") == "com.example.Uploader"


def test_the_endpoint_checks_the_token(tes: TokenExchangeService) -> None:
    tes.register("com.example.Uploader", "good-token")
    status, body = _get(tes.url, "good-token")
    assert status == 200 and {"AccessKeyId", "SecretAccessKey", "Token", "Expiration"} <= body.keys()
    assert _get(tes.url, "wrong-token")[0] == 403
    assert _get(tes.url, None)[0] == 401
    tes.register("com.example.Uploader", "new-token")  # restarted with a new SVCUID
    assert _get(tes.url, "good-token")[0] == 403
    assert _get(tes.url, "new-token")[0] == 200
    tes.unregister("com.example.Uploader")
    assert _get(tes.url, "new-token")[0] == 403
    assert tes.refused == 4


def test_unmodified_boto3_in_a_process_uploads_to_s3(
    tes: TokenExchangeService, moto_cloud: MotoCloud
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(tes.environment("com.example.Uploader", "svc-token", [TES_COMPONENT]))
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull  # no host credentials may leak in
    env["AWS_CONFIG_FILE"] = os.devnull
    script = (
        "import boto3,sys; boto3.client('s3').put_object(Bucket=sys.argv[1], Key='tes/hello.txt', Body=b'hi');"
        "print(boto3.Session().get_credentials().method)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, moto_cloud.bucket], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "container-role"
    body = moto_cloud.client("s3").get_object(Bucket=moto_cloud.bucket, Key="tes/hello.txt")["Body"].read()
    assert body == b"hi" and tes.served >= 1


def test_without_cached_credentials_an_unreachable_provider_is_a_500() -> None:
    def offline() -> dict[str, str]:
        raise ConnectionError("credentials provider unreachable")

    service = TokenExchangeService(offline)
    service.start()
    try:
        service.register("com.example.Uploader", "tok")
        assert _get(service.url, "tok")[0] == 500
    finally:
        service.stop()
