"""Topic rules of a cloud description applied against moto: real DynamoDB and S3 writes."""

from __future__ import annotations

import json
from pathlib import Path

from localcore.cloud.broker import DEVICE, CloudBroker
from localcore.cloud.description import parse_cloud_description
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.rules import RuleEngine, S3PutAction, TopicRule
from localcore.cloud.rules_sql import parse_sql
from localcore.contracts import IotMessage
from tests.localcore.cloud.description import ALERTS_TABLE, DESCRIPTION


def test_moto_cloud_is_provisioned_as_described(moto_cloud: MotoCloud) -> None:
    """Every resource of cloud.yaml exists in moto: bucket, table, group and its things, the
    policy on each thing's one active certificate, the role alias and its role."""
    described = DESCRIPTION
    assert moto_cloud.client("s3").list_buckets()["Buckets"][0]["Name"] == described.buckets[0]
    assert ALERTS_TABLE in moto_cloud.client("dynamodb").list_tables()["TableNames"]
    iot = moto_cloud.client("iot")
    group = described.thing_groups[0]
    assert sorted(iot.list_things_in_thing_group(thingGroupName=group.name)["things"]) == sorted(group.things)
    assert described.iot_policy is not None
    policy = json.loads(iot.get_policy(policyName=described.iot_policy.name)["policyDocument"])
    assert policy == described.iot_policy.document
    for thing in described.things:
        (certificate,) = iot.list_thing_principals(thingName=thing)["principals"]
        attached = iot.list_attached_policies(target=certificate)["policies"]
        assert [p["policyName"] for p in attached] == [described.iot_policy.name]
    alias = iot.describe_role_alias(roleAlias=described.role_alias.name)["roleAliasDescription"]
    assert alias["roleArn"].endswith(described.role_alias.role)
    assert alias["roleAliasArn"] == described.role_alias_arn()


def test_an_alert_publish_writes_the_dynamodb_item(moto_cloud: MotoCloud) -> None:
    engine = RuleEngine.from_description(
        DESCRIPTION, moto_cloud.client("dynamodb"), moto_cloud.client("s3"), clock=lambda: 1700000000.5
    )
    broker = CloudBroker(engine)
    payload = {"alertKey": "2026-11-28T12:00:00Z#line1", "value": 81.5, "severity": "high"}
    broker.publish(IotMessage("edgebundle/dev-1/alerts", json.dumps(payload).encode(), qos=1), origin=DEVICE)
    assert broker.flush()  # rules run after the publish returns, as IoT's rules engine does
    broker.close()

    item = moto_cloud.client("dynamodb").get_item(
        TableName=ALERTS_TABLE,
        Key={"thing": {"S": "dev-1"}, "alertKey": {"S": payload["alertKey"]}},
    )["Item"]
    assert item["value"] == {"N": "81.5"} and item["severity"] == {"S": "high"}
    assert item["receivedAt"] == {"N": "1700000000500"}


def test_a_message_without_the_key_is_counted_as_failed_not_raised(moto_cloud: MotoCloud) -> None:
    engine = RuleEngine.from_description(DESCRIPTION, moto_cloud.client("dynamodb"), moto_cloud.client("s3"))
    assert engine.handle("edgebundle/dev-1/alerts", b'{"value": 1}') == 0
    stats = engine.stats["alerts_to_dynamodb"]
    assert stats.failed == 1 and "alertKey" in (stats.last_error or "")
    assert engine.handle("edgebundle/dev-1/alerts", b"not json") == 0
    assert engine.handle("edgebundle/dev-1/status", b'{"alertKey": "x"}') == 0


def test_s3_action_and_dump_under_the_root(moto_cloud: MotoCloud, tmp_path: Path) -> None:
    query = parse_sql("status_to_s3", "SELECT state, topic(2) AS thing FROM 'edgebundle/+/status'")
    action = S3PutAction(
        moto_cloud.client("s3"), moto_cloud.bucket, "status/{topic}/{timestamp}.json", lambda: 2.0
    )
    engine = RuleEngine([TopicRule(query, action)])
    assert engine.handle("edgebundle/dev-1/status", b'{"state": "ok", "extra": 1}') == 1

    moto_cloud.dump(tmp_path / "cloud")
    dumped = tmp_path / "cloud" / "s3" / moto_cloud.bucket / "status/edgebundle/dev-1/status/2000.json"
    assert json.loads(dumped.read_text()) == {"state": "ok", "thing": "dev-1"}
    table_dump = tmp_path / "cloud" / "dynamodb" / f"{ALERTS_TABLE}.jsonl"
    assert table_dump.exists()


def test_a_described_s3_rule_writes_with_iot_key_templates(moto_cloud: MotoCloud) -> None:
    """IoT's s3 action key substitutions ``${topic()}`` and ``${timestamp()}`` (IoT Core developer
    guide, "Substitution templates"), from a description's ``s3`` action."""
    described = parse_cloud_description(
        {
            "buckets": [moto_cloud.bucket],
            "topicRules": [
                {
                    "name": "status_to_s3",
                    "sql": "SELECT state FROM 'plant/+/status'",
                    "s3": {"bucket": moto_cloud.bucket, "key": "raw/${topic()}/${timestamp()}.json"},
                }
            ],
        }
    )
    engine = RuleEngine.from_description(
        described, moto_cloud.client("dynamodb"), moto_cloud.client("s3"), clock=lambda: 3.0
    )
    assert engine.handle("plant/dev-1/status", b'{"state": "ok"}') == 1
    body = moto_cloud.client("s3").get_object(
        Bucket=moto_cloud.bucket, Key="raw/plant/dev-1/status/3000.json"
    )
    assert json.loads(body["Body"].read()) == {"state": "ok"}
