"""The two AWS calls the sync component makes, over awscrt: S3 PutObject and STS GetCallerIdentity.

Modules: :mod:`.http` (the HTTP client), :mod:`.credentials` (where credentials come from),
:mod:`.api` (SigV4 signing and sending), :mod:`.clients` (S3 and STS); the errors are in
:mod:`components.sync.exceptions`.

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

from components.sync.aws.api import AwsApi
from components.sync.aws.clients import S3Client, StsClient
from components.sync.aws.credentials import (
    ContainerCredentials,
    Credentials,
    CredentialsSource,
    MissingCredentials,
    StaticCredentials,
    credentials_from_environment,
)
from components.sync.aws.http import Endpoint, HttpClient, HttpResponse

__all__ = [
    "AwsApi",
    "ContainerCredentials",
    "Credentials",
    "CredentialsSource",
    "Endpoint",
    "HttpClient",
    "HttpResponse",
    "MissingCredentials",
    "S3Client",
    "StaticCredentials",
    "StsClient",
    "credentials_from_environment",
]
