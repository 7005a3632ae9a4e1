"""Footprint (issue #10): the sync component never loads boto3, botocore or numpy.

A boto3 S3 client costs about 57 MiB resident; the component uploads with awscrt instead. numpy
cost about 12 MiB for the batch encoder's few vector operations, now plain Python. The checks
run in a fresh interpreter (this test process has boto3 loaded for moto, numpy for others).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]

_HEAVY = ("boto3", "botocore", "numpy")

# GIVEN the sync entry point WHEN it builds its S3 sink as build_and_run does, an upload fails
# (nothing listens on the endpoint) and a batch is encoded and decoded THEN none of _HEAVY was
# imported.
_PROBE = """
import sys
import components.sync.__main__
from components.sync.aws import AwsApi, S3Client, StsClient
from components.sync.exceptions import UploadError
from components.sync.sinks import S3ObjectSink, account_bucket

env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
api = AwsApi.from_environment("us-east-1", env)
sink = S3ObjectSink(S3Client(api), account_bucket(StsClient(api), "edge-bundle-data", "us-east-1"))
try:
    sink.put("k", b"x")
except UploadError as err:
    assert err.link_down, err
else:
    sys.exit("the upload to a closed port succeeded")
from components.common.messages import reading_message
from components.sync.encoding import decode_batch, encode_batch
records = [reading_message("s", i, 1764331200 + i / 10, "k", {"t": 21.5 + i, "n": None}, {"t": "C"})
           for i in range(50)]
assert decode_batch(encode_batch("readings", records)) == records
assert decode_batch(encode_batch("readings", records, "gzip")) == records
print(",".join(sorted(name for name in HEAVY if name in sys.modules)) or "-")
"""


def test_the_sync_entry_point_uploads_and_encodes_without_boto3_botocore_or_numpy() -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {_HEAVY!r}\n{_PROBE}"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "-", f"heavy modules loaded: {result.stdout!r}"
