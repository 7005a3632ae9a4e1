"""Footprint (issue #10): the sync component never loads boto3 or botocore.

A boto3 S3 client costs about 57 MiB resident; the component uploads with awscrt instead. The
check runs in a fresh interpreter (this test process has boto3 loaded for moto).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]

# GIVEN the sync entry point WHEN it builds its S3 sink as build_and_run does and an upload
# fails (nothing listens on the endpoint) THEN neither boto3 nor botocore was imported.
_PROBE = """
import sys
import components.sync.__main__
from components.sync.aws import AwsApi, S3Client, StsClient
from components.sync.exceptions import UploadError
from components.sync.sinks import S3ObjectSink

env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
api = AwsApi.from_environment("us-east-1", env)
sink = S3ObjectSink(S3Client(api), components.sync.__main__._bucket_resolver(StsClient(api), "us-east-1"))
try:
    sink.put("k", b"x")
except UploadError as err:
    assert err.link_down, err
else:
    sys.exit("the upload to a closed port succeeded")
print(",".join(sorted(name for name in ("boto3", "botocore") if name in sys.modules)) or "-")
"""


def test_the_sync_entry_point_uploads_without_boto3_or_botocore() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=PROJECT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "-", f"heavy modules loaded: {result.stdout!r}"
