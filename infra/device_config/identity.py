"""Everything a core device needs to connect, read from the stack outputs, IoT and Secrets Manager.

Clients are passed in (the CLI builds real ones; tests pass moto's), and AWS errors become
:class:`DeviceConfigError` naming what was looked up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from infra.constants import OUTPUT_ROLE_ALIAS, certificate_output_key, secret_output_key
from infra.exceptions import DeviceConfigError


@dataclass(frozen=True)
class DeviceIdentity:
    """A thing's certificate, key, endpoints and role alias. ``private_key`` is secret: never log it."""

    thing_name: str
    region: str
    certificate_pem: str
    private_key: str
    data_endpoint: str
    credentials_endpoint: str
    role_alias: str

    def __repr__(self) -> str:
        return f"DeviceIdentity(thing_name={self.thing_name!r}, region={self.region!r}, private_key=<hidden>)"


def _call(what: str, func: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise DeviceConfigError(f"{what} failed: {err}") from err


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    """The stack's outputs by key."""
    described = _call(
        f"cloudformation:DescribeStacks {stack}", cloudformation.describe_stacks, StackName=stack
    )
    stacks = described.get("Stacks") or []
    if not stacks:
        raise DeviceConfigError(f"stack {stack} not found")
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs") or []}


def fetch_device_identity(
    thing: str, stack: str, *, region: str, cloudformation: Any, iot: Any, secretsmanager: Any
) -> DeviceIdentity:
    """Assemble ``thing``'s identity from stack ``stack``; errors say which piece is missing."""
    outputs = stack_outputs(cloudformation, stack)
    cert_key, secret_key = certificate_output_key(thing), secret_output_key(thing)
    missing = [key for key in (cert_key, secret_key, OUTPUT_ROLE_ALIAS) if key not in outputs]
    if missing:
        known = sorted(k[len("Certificate") :] for k in outputs if k.startswith("Certificate"))
        raise DeviceConfigError(
            f"stack {stack} has no output {', '.join(missing)}: is {thing} in bundle.yaml fleet.things? "
            f"(things with certificates: {', '.join(known) or 'none'})"
        )
    described = _call(
        f"iot:DescribeCertificate {outputs[cert_key]}",
        iot.describe_certificate,
        certificateId=outputs[cert_key],
    )["certificateDescription"]
    if described.get("status") != "ACTIVE":
        raise DeviceConfigError(
            f"certificate {outputs[cert_key]} of {thing} is {described.get('status')}, expected ACTIVE"
        )
    key = _call(
        f"secretsmanager:GetSecretValue {outputs[secret_key]}",
        secretsmanager.get_secret_value,
        SecretId=outputs[secret_key],
    ).get("SecretString", "")
    if "PRIVATE KEY-----" not in key:
        raise DeviceConfigError(
            f"secret {outputs[secret_key]} holds no PEM private key: was the certificate resource created?"
        )
    data = _call("iot:DescribeEndpoint iot:Data-ATS", iot.describe_endpoint, endpointType="iot:Data-ATS")
    creds = _call(
        "iot:DescribeEndpoint iot:CredentialProvider",
        iot.describe_endpoint,
        endpointType="iot:CredentialProvider",
    )
    return DeviceIdentity(
        thing_name=thing,
        region=region,
        certificate_pem=described["certificatePem"],
        private_key=key,
        data_endpoint=data["endpointAddress"],
        credentials_endpoint=creds["endpointAddress"],
        role_alias=outputs[OUTPUT_ROLE_ALIAS],
    )
