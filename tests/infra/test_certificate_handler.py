"""The certificate custom resource against moto (iot, secretsmanager): create, update, delete, failures."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.fleet.runtime import certificate_handler
from infra.fleet.runtime.certificate_handler import NO_CERTIFICATE, CertificateResource

REGION = "us-east-1"
POLICY = "edge-bundle-device-policy"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        iot = boto3.client("iot", region_name=REGION)
        secrets = boto3.client("secretsmanager", region_name=REGION)
        iot.create_thing(thingName="dev-1")
        iot.create_thing(thingName="dev-2")
        iot.create_thing_group(thingGroupName="fleet")
        iot.create_thing_group(thingGroupName="fleet-b")
        iot.create_policy(
            policyName=POLICY, policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )
        iot.create_policy(
            policyName="other-policy", policyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
        )
        secret_arn = secrets.create_secret(Name="edge-bundle/things/dev-1/private-key")["ARN"]
        yield {"iot": iot, "secrets": secrets, "secret_arn": secret_arn}


def _event(request: str, props: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResponseURL": "http://127.0.0.1:1/unused",
        "StackId": "stack",
        "RequestId": "req",
        "LogicalResourceId": "Cert",
        "ResourceProperties": {"ServiceToken": "arn:token", **props},
        **extra,
    }


def _props(
    aws: dict[str, Any], thing: str = "dev-1", policy: str = POLICY, group: str = "fleet"
) -> dict[str, str]:
    return {"ThingName": thing, "PolicyName": policy, "SecretArn": aws["secret_arn"], "ThingGroupName": group}


def _groups(aws: dict[str, Any], thing: str) -> list[str]:
    return [g["groupName"] for g in aws["iot"].list_thing_groups_for_thing(thingName=thing)["thingGroups"]]


def _create(aws: dict[str, Any]) -> certificate_handler.Outcome:
    resource = CertificateResource(aws["iot"], aws["secrets"])
    outcome = resource.handle(_event("Create", _props(aws)))
    assert outcome.status == "SUCCESS", outcome.reason
    return outcome


def test_create_issues_an_active_certificate_stores_the_key_and_attaches_policy_and_thing(
    aws: dict[str, Any],
) -> None:
    # GIVEN a thing, a policy and an empty secret WHEN the resource is created
    outcome = _create(aws)
    iot = aws["iot"]
    # THEN the certificate is active, attached to the thing and the policy
    cert = iot.describe_certificate(certificateId=outcome.physical_id)["certificateDescription"]
    assert cert["status"] == "ACTIVE"
    assert iot.list_thing_principals(thingName="dev-1")["principals"] == [cert["certificateArn"]]
    assert [
        p["policyName"] for p in iot.list_attached_policies(target=cert["certificateArn"])["policies"]
    ] == [POLICY]
    # AND the private key is in the secret, and nowhere in what CloudFormation sees
    key = aws["secrets"].get_secret_value(SecretId=aws["secret_arn"])["SecretString"]
    assert "PRIVATE KEY" in key
    body = certificate_handler.response_body(_event("Create", _props(aws)), outcome).decode()
    assert "PRIVATE KEY" not in body
    assert json.loads(body)["Data"] == {
        "CertificateId": outcome.physical_id,
        "CertificateArn": cert["certificateArn"],
    }


def test_delete_detaches_deactivates_and_deletes(aws: dict[str, Any]) -> None:
    outcome = _create(aws)
    resource = CertificateResource(aws["iot"], aws["secrets"])
    deleted = resource.handle(_event("Delete", _props(aws), PhysicalResourceId=outcome.physical_id))
    assert deleted.status == "SUCCESS", deleted.reason
    assert aws["iot"].list_certificates()["certificates"] == []
    assert aws["iot"].list_thing_principals(thingName="dev-1")["principals"] == []
    assert _groups(aws, "dev-1") == []


def test_update_of_the_group_moves_the_thing(aws: dict[str, Any]) -> None:
    outcome = _create(aws)
    resource = CertificateResource(aws["iot"], aws["secrets"])
    updated = resource.handle(
        _event(
            "Update",
            _props(aws, group="fleet-b"),
            PhysicalResourceId=outcome.physical_id,
            OldResourceProperties=_props(aws),
        )
    )
    assert updated.status == "SUCCESS", updated.reason
    assert updated.physical_id == outcome.physical_id
    assert _groups(aws, "dev-1") == ["fleet-b"]


def test_delete_of_a_certificate_already_gone_or_never_created_succeeds(aws: dict[str, Any]) -> None:
    resource = CertificateResource(aws["iot"], aws["secrets"])
    gone = "a" * 64
    assert resource.handle(_event("Delete", _props(aws), PhysicalResourceId=gone)).status == "SUCCESS"
    assert (
        resource.handle(_event("Delete", _props(aws), PhysicalResourceId=NO_CERTIFICATE)).status == "SUCCESS"
    )


def test_update_of_the_policy_reattaches_in_place(aws: dict[str, Any]) -> None:
    outcome = _create(aws)
    resource = CertificateResource(aws["iot"], aws["secrets"])
    updated = resource.handle(
        _event(
            "Update",
            _props(aws, policy="other-policy"),
            PhysicalResourceId=outcome.physical_id,
            OldResourceProperties=_props(aws),
        )
    )
    assert updated.status == "SUCCESS", updated.reason
    assert updated.physical_id == outcome.physical_id
    arn = updated.data["CertificateArn"] if updated.data else ""
    assert [p["policyName"] for p in aws["iot"].list_attached_policies(target=arn)["policies"]] == [
        "other-policy"
    ]


def test_update_of_the_thing_issues_a_new_certificate(aws: dict[str, Any]) -> None:
    outcome = _create(aws)
    resource = CertificateResource(aws["iot"], aws["secrets"])
    updated = resource.handle(
        _event(
            "Update",
            _props(aws, thing="dev-2"),
            PhysicalResourceId=outcome.physical_id,
            OldResourceProperties=_props(aws),
        )
    )
    # A new physical id: CloudFormation then sends Delete for the old certificate.
    assert updated.status == "SUCCESS", updated.reason
    assert updated.physical_id != outcome.physical_id
    new_arn = aws["iot"].describe_certificate(certificateId=updated.physical_id)["certificateDescription"][
        "certificateArn"
    ]
    assert aws["iot"].list_thing_principals(thingName="dev-2")["principals"] == [new_arn]


def test_create_failing_after_issue_rolls_the_certificate_back(aws: dict[str, Any]) -> None:
    # GIVEN a secret that does not exist WHEN the resource is created
    props = {
        **_props(aws),
        "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf",
    }
    outcome = CertificateResource(aws["iot"], aws["secrets"]).handle(_event("Create", props))
    # THEN it fails naming the call, and no certificate is left behind
    assert outcome.status == "FAILED"
    assert "secretsmanager:PutSecretValue" in outcome.reason
    assert outcome.physical_id == NO_CERTIFICATE
    assert aws["iot"].list_certificates()["certificates"] == []


def test_create_with_an_unknown_thing_fails_and_rolls_back(aws: dict[str, Any]) -> None:
    outcome = CertificateResource(aws["iot"], aws["secrets"]).handle(
        _event("Create", _props(aws, thing="nope"))
    )
    assert outcome.status == "FAILED"
    assert "iot:AttachThingPrincipal" in outcome.reason
    assert aws["iot"].list_certificates()["certificates"] == []


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            {"RequestType": "Create", "ResourceProperties": {"ThingName": "dev-1"}},
            "missing PolicyName, SecretArn",
        ),
        ({"RequestType": "Frobnicate", "ResourceProperties": {}}, "is not Create, Update or Delete"),
    ],
)
def test_malformed_requests_fail_with_a_reason(
    aws: dict[str, Any], event: dict[str, Any], expected: str
) -> None:
    outcome = CertificateResource(aws["iot"], aws["secrets"]).handle(event)
    assert outcome.status == "FAILED"
    assert expected in outcome.reason


class _Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, str | None, bytes]] = []

    def do_PUT(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.received.append((self.path, self.headers.get("Content-Type"), self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_on_event_answers_cloudformation_at_the_response_url(aws: dict[str, Any]) -> None:
    # GIVEN a local HTTP server standing in for the pre-signed S3 URL
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        event = _event("Create", _props(aws))
        event["ResponseURL"] = f"http://127.0.0.1:{server.server_port}/presigned?sig=1"
        # WHEN the Lambda entry point runs
        certificate_handler.on_event(event, None)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    # THEN one SUCCESS response was PUT, with no content type and no key material
    path, content_type, body = _Recorder.received[-1]
    assert path == "/presigned?sig=1"
    assert not content_type
    answer = json.loads(body)
    assert answer["Status"] == "SUCCESS"
    assert answer["LogicalResourceId"] == "Cert"
    assert b"PRIVATE KEY" not in body
