"""CloudFormation custom resource: one IoT certificate per thing, private key kept in Secrets Manager.

Deployed as a Lambda from this folder alone (so it imports nothing of the project). The resource's
properties are ``ThingName``, ``PolicyName``, ``SecretArn`` and optionally ``ThingGroupName``
(CloudFormation has no resource for thing group membership, so the thing joins its group here):

- Create: IoT Core generates the key pair and an ACTIVE certificate; the private key goes into
  the secret (never into the response, whose ``Data`` CloudFormation would show to anyone who can
  read the stack); the policy and the thing are attached to the certificate; the thing is added to the group.
- Update: a new ``ThingName`` or ``SecretArn`` means a new certificate (a new physical id, so
  CloudFormation deletes the old one afterwards); a new ``PolicyName`` or ``ThingGroupName`` is changed in place.
- Delete: detach policy and thing, deactivate, delete, leave the group. A certificate already gone is success, so a
  stack whose create failed half-way can still be deleted.

A create that fails after IoT issued the certificate deletes it again, so nothing is left orphaned.
The response goes to CloudFormation's pre-signed ``ResponseURL`` (no cfn-response library needed).
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger("certificate_handler")
log.setLevel(logging.INFO)

REQUIRED_PROPERTIES = ("ThingName", "PolicyName", "SecretArn")
# Physical id used when a create fails before IoT issued a certificate: delete then has nothing to do.
NO_CERTIFICATE = "no-certificate"
# Properties whose change needs a new certificate (the old one is deleted by CloudFormation).
REPLACING_PROPERTIES = ("ThingName", "SecretArn")


class CertificateResourceError(Exception):
    """The request was malformed or an IoT / Secrets Manager call failed; the reason names which."""


@dataclass(frozen=True)
class Outcome:
    """What the handler reports to CloudFormation."""

    status: str  # SUCCESS or FAILED
    physical_id: str
    reason: str = ""
    data: Mapping[str, str] | None = None


def _properties(event: Mapping[str, Any], key: str = "ResourceProperties") -> dict[str, str]:
    raw = event.get(key) or {}
    missing = [name for name in REQUIRED_PROPERTIES if not raw.get(name)]
    if missing:
        raise CertificateResourceError(
            f"{key} is missing {', '.join(missing)} (expected ThingName, PolicyName and SecretArn)"
        )
    props = {name: str(raw[name]) for name in REQUIRED_PROPERTIES}
    props["ThingGroupName"] = str(raw.get("ThingGroupName") or "")
    return props


def _call(what: str, func: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return func(**kwargs)
    except (ClientError, BotoCoreError) as err:
        raise CertificateResourceError(f"{what} failed: {err}") from err


def _is_not_found(err: CertificateResourceError) -> bool:
    cause = err.__cause__
    return isinstance(cause, ClientError) and cause.response["Error"]["Code"] == "ResourceNotFoundException"


class CertificateResource:
    """The create / update / delete logic, over injected ``iot`` and ``secretsmanager`` clients."""

    def __init__(self, iot: Any, secrets: Any) -> None:
        self.iot = iot
        self.secrets = secrets

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        """Run one CloudFormation request; never raises (failures become a FAILED outcome)."""
        request = event.get("RequestType")
        physical_id = str(event.get("PhysicalResourceId") or NO_CERTIFICATE)
        try:
            if request == "Create":
                return self.create(_properties(event))
            if request == "Update":
                return self.update(
                    physical_id, _properties(event), _properties(event, "OldResourceProperties")
                )
            if request == "Delete":
                return self.delete(physical_id, event.get("ResourceProperties") or {})
            raise CertificateResourceError(f"RequestType {request!r} is not Create, Update or Delete")
        except CertificateResourceError as err:
            log.error("event=certificate_failed request=%s error=%s", request, err)
            failed_id = physical_id if request != "Create" else NO_CERTIFICATE
            return Outcome("FAILED", failed_id, reason=str(err))

    def create(self, props: Mapping[str, str]) -> Outcome:
        """Issue a certificate for the thing, store its key, attach policy and thing."""
        issued = _call("iot:CreateKeysAndCertificate", self.iot.create_keys_and_certificate, setAsActive=True)
        cert_id, cert_arn = issued["certificateId"], issued["certificateArn"]
        try:
            _call(
                "secretsmanager:PutSecretValue",
                self.secrets.put_secret_value,
                SecretId=props["SecretArn"],
                SecretString=issued["keyPair"]["PrivateKey"],
            )
            _call("iot:AttachPolicy", self.iot.attach_policy, policyName=props["PolicyName"], target=cert_arn)
            _call(
                "iot:AttachThingPrincipal",
                self.iot.attach_thing_principal,
                thingName=props["ThingName"],
                principal=cert_arn,
            )
            self._join_group(props["ThingName"], props["ThingGroupName"])
        except CertificateResourceError:
            # Roll back here: CloudFormation will not send Delete for a resource whose create failed.
            self._remove(cert_id, cert_arn, props.get("PolicyName"), props.get("ThingName"))
            raise
        log.info("event=certificate_created thing=%s certificate=%s", props["ThingName"], cert_id)
        return Outcome("SUCCESS", cert_id, data={"CertificateId": cert_id, "CertificateArn": cert_arn})

    def update(self, physical_id: str, new: Mapping[str, str], old: Mapping[str, str]) -> Outcome:
        """Replace the certificate, or re-attach the policy in place."""
        if physical_id == NO_CERTIFICATE or any(new[key] != old[key] for key in REPLACING_PROPERTIES):
            return self.create(new)
        cert_arn = self._certificate_arn(physical_id)
        if new["PolicyName"] != old["PolicyName"]:
            _call("iot:AttachPolicy", self.iot.attach_policy, policyName=new["PolicyName"], target=cert_arn)
            self._ignore_missing(
                "iot:DetachPolicy", self.iot.detach_policy, policyName=old["PolicyName"], target=cert_arn
            )
        if new["ThingGroupName"] != old["ThingGroupName"]:
            self._join_group(new["ThingName"], new["ThingGroupName"])
            self._leave_group(old["ThingName"], old["ThingGroupName"])
        return Outcome(
            "SUCCESS", physical_id, data={"CertificateId": physical_id, "CertificateArn": cert_arn}
        )

    def delete(self, physical_id: str, props: Mapping[str, Any]) -> Outcome:
        """Detach, deactivate and delete the certificate; a missing one is already deleted."""
        if physical_id == NO_CERTIFICATE:
            return Outcome("SUCCESS", physical_id)
        try:
            cert_arn = self._certificate_arn(physical_id)
        except CertificateResourceError as err:
            if _is_not_found(err):
                return Outcome("SUCCESS", physical_id)
            raise
        self._remove(physical_id, cert_arn, props.get("PolicyName"), props.get("ThingName"))
        self._leave_group(str(props.get("ThingName") or ""), str(props.get("ThingGroupName") or ""))
        log.info("event=certificate_deleted certificate=%s", physical_id)
        return Outcome("SUCCESS", physical_id)

    def _certificate_arn(self, cert_id: str) -> str:
        described = _call("iot:DescribeCertificate", self.iot.describe_certificate, certificateId=cert_id)
        return str(described["certificateDescription"]["certificateArn"])

    def _join_group(self, thing: str, group: str) -> None:
        if group:
            _call(
                "iot:AddThingToThingGroup",
                self.iot.add_thing_to_thing_group,
                thingGroupName=group,
                thingName=thing,
            )

    def _leave_group(self, thing: str, group: str) -> None:
        if thing and group:
            self._ignore_missing(
                "iot:RemoveThingFromThingGroup",
                self.iot.remove_thing_from_thing_group,
                thingGroupName=group,
                thingName=thing,
            )

    def _remove(self, cert_id: str, cert_arn: str, policy: str | None, thing: str | None) -> None:
        if policy:
            self._ignore_missing(
                "iot:DetachPolicy", self.iot.detach_policy, policyName=policy, target=cert_arn
            )
        if thing:
            self._ignore_missing(
                "iot:DetachThingPrincipal",
                self.iot.detach_thing_principal,
                thingName=thing,
                principal=cert_arn,
            )
        self._ignore_missing(
            "iot:UpdateCertificate", self.iot.update_certificate, certificateId=cert_id, newStatus="INACTIVE"
        )
        self._ignore_missing("iot:DeleteCertificate", self.iot.delete_certificate, certificateId=cert_id)

    @staticmethod
    def _ignore_missing(what: str, func: Callable[..., Any], **kwargs: Any) -> None:
        try:
            _call(what, func, **kwargs)
        except CertificateResourceError as err:
            if not _is_not_found(err):
                raise


def response_body(event: Mapping[str, Any], outcome: Outcome) -> bytes:
    """The JSON CloudFormation expects at ``ResponseURL``."""
    body: dict[str, Any] = {
        "Status": outcome.status,
        "Reason": outcome.reason or outcome.status,
        "PhysicalResourceId": outcome.physical_id,
        "StackId": event.get("StackId", ""),
        "RequestId": event.get("RequestId", ""),
        "LogicalResourceId": event.get("LogicalResourceId", ""),
        "Data": dict(outcome.data or {}),
    }
    return json.dumps(body).encode("utf-8")


def send_response(url: str, body: bytes, timeout: float = 30.0) -> int:
    """PUT the response to CloudFormation's pre-signed URL; returns the HTTP status."""
    # The pre-signed S3 URL was signed without a content type, so none may be sent.
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return int(reply.status)


def on_event(event: dict[str, Any], context: Any) -> None:
    """Lambda entry point: handle the request and always answer CloudFormation."""
    import boto3  # in the Lambda runtime; imported here so tests never build real clients

    resource = CertificateResource(boto3.client("iot"), boto3.client("secretsmanager"))
    outcome = resource.handle(event)
    send_response(str(event["ResponseURL"]), response_body(event, outcome))
