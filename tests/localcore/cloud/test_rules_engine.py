"""Topic rules from bundle.yaml applied against moto: real DynamoDB and S3 writes."""

from __future__ import annotations

import json
from pathlib import Path

from bundlespec import load_spec
from localcore.cloud.broker import DEVICE, CloudBroker
from localcore.cloud.moto_server import MotoCloud
from localcore.cloud.rules import RuleEngine, S3PutAction, TopicRule
from localcore.cloud.rules_sql import parse_sql
from localcore.contracts import IotMessage


def test_moto_cloud_is_provisioned_like_the_cdk_app(moto_cloud: MotoCloud) -> None:
    spec = load_spec()
    assert moto_cloud.bucket in [b["Name"] for b in moto_cloud.client("s3").list_buckets()["Buckets"]]
    assert spec.data.alerts_table in moto_cloud.client("dynamodb").list_tables()["TableNames"]
    iot = moto_cloud.client("iot")
    members = iot.list_things_in_thing_group(thingGroupName=spec.fleet.thing_group)["things"]
    assert sorted(members) == sorted(spec.fleet.things)
    policy = json.loads(iot.get_policy(policyName=spec.fleet.iot_policy)["policyDocument"])
    alias_arn = iot.describe_role_alias(roleAlias=spec.fleet.role_alias)["roleAliasDescription"][
        "roleAliasArn"
    ]
    for thing in spec.fleet.things:
        (certificate,) = iot.list_thing_principals(thingName=thing)["principals"]
        attached = iot.list_attached_policies(target=certificate)["policies"]
        assert [p["policyName"] for p in attached] == [spec.fleet.iot_policy]
    sids = {statement["Sid"]: statement for statement in policy["Statement"]}
    assert sids["TokenExchangeThroughTheRoleAlias"]["Resource"] == alias_arn  # the CDK app's own document
    assert iot.describe_role_alias(roleAlias=spec.fleet.role_alias)["roleAliasDescription"][
        "roleArn"
    ].endswith(spec.fleet.token_exchange_role)


def test_an_alert_publish_writes_the_dynamodb_item(moto_cloud: MotoCloud) -> None:
    spec = load_spec()
    engine = RuleEngine.from_spec(spec, moto_cloud.client("dynamodb"), clock=lambda: 1700000000.5)
    broker = CloudBroker(engine)
    payload = {"alertKey": "2026-11-28T12:00:00Z#line1", "value": 81.5, "severity": "high"}
    broker.publish(IotMessage("edgebundle/dev-1/alerts", json.dumps(payload).encode(), qos=1), origin=DEVICE)
    assert broker.flush()  # rules run after the publish returns, as IoT's rules engine does
    broker.close()

    item = moto_cloud.client("dynamodb").get_item(
        TableName=spec.data.alerts_table,
        Key={"thing": {"S": "dev-1"}, "alertKey": {"S": payload["alertKey"]}},
    )["Item"]
    assert item["value"] == {"N": "81.5"} and item["severity"] == {"S": "high"}
    assert item["receivedAt"] == {"N": "1700000000500"}


def test_a_message_without_the_key_is_counted_as_failed_not_raised(moto_cloud: MotoCloud) -> None:
    engine = RuleEngine.from_spec(load_spec(), moto_cloud.client("dynamodb"))
    assert engine.handle("edgebundle/dev-1/alerts", b'{"value": 1}') == 0
    stats = engine.stats["edge_bundle_alerts_to_dynamodb"]
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
    table_dump = tmp_path / "cloud" / "dynamodb" / f"{load_spec().data.alerts_table}.jsonl"
    assert table_dump.exists()
