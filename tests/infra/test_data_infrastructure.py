"""Data path unit: encrypted TLS-only private bucket with lifecycle, alerts table, topic rules."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from tests.infra.statements import as_list, iam_statements, resources_of


def _data_bucket(unit_templates: Any) -> dict[str, Any]:
    buckets = resources_of(unit_templates.data.to_json(), "AWS::S3::Bucket")
    return next(v for k, v in buckets.items() if "DataBucket" in k)


def test_data_bucket_is_encrypted_private_logged_and_named_from_the_spec(
    unit_templates: Any, spec: Any
) -> None:
    props = _data_bucket(unit_templates)["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert (
        props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": Match.any_value()}
        or props["LoggingConfiguration"]["DestinationBucketName"]
    )
    name = props["BucketName"]["Fn::Join"][1]
    assert name[0] == f"{spec.data.bucket_prefix}-"


def test_every_bucket_refuses_requests_without_tls(unit_templates: Any) -> None:
    template = unit_templates.data.to_json()
    buckets = resources_of(template, "AWS::S3::Bucket")
    policies = resources_of(template, "AWS::S3::BucketPolicy").values()
    for bucket_id in buckets:
        denies = [
            statement
            for policy in policies
            if policy["Properties"]["Bucket"] == {"Ref": bucket_id}
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
            if statement["Effect"] == "Deny"
        ]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies), bucket_id


def test_batches_and_images_move_to_cheaper_storage(unit_templates: Any, spec: Any) -> None:
    rules = {
        r["Id"]: r for r in _data_bucket(unit_templates)["Properties"]["LifecycleConfiguration"]["Rules"]
    }
    for rule_id, prefix in (
        ("BatchesToCheaperStorage", spec.data.batch_key_prefix),
        ("ImagesToCheaperStorage", spec.data.image_key_prefix),
    ):
        assert rules[rule_id]["Prefix"] == f"{prefix}/"
        classes = [t["StorageClass"] for t in rules[rule_id]["Transitions"]]
        assert classes == ["STANDARD_IA", "GLACIER_IR"]
    assert rules["AbortIncompleteUploads"]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_alerts_table_keys_are_the_rules_keys(unit_templates: Any, spec: Any) -> None:
    action = spec.iot.rules[0].action.dynamodb
    unit_templates.data.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": spec.data.alerts_table,
            "KeySchema": [
                {"AttributeName": action.hash_key, "KeyType": "HASH"},
                {"AttributeName": action.range_key, "KeyType": "RANGE"},
            ],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_topic_rules_are_the_specs_sql_with_dynamodb_and_an_error_action(
    unit_templates: Any, spec: Any
) -> None:
    unit_templates.data.resource_count_is("AWS::IoT::TopicRule", len(spec.iot.rules))
    for rule in spec.iot.rules:
        unit_templates.data.has_resource_properties(
            "AWS::IoT::TopicRule",
            {
                "RuleName": rule.name,
                "TopicRulePayload": {
                    "Sql": rule.sql,
                    "AwsIotSqlVersion": "2016-03-23",
                    "Actions": [
                        {
                            "DynamoDBv2": {
                                "PutItem": {"TableName": Match.any_value()},
                                "RoleArn": Match.any_value(),
                            }
                        }
                    ],
                    "ErrorAction": {
                        "CloudwatchLogs": {"LogGroupName": Match.any_value(), "RoleArn": Match.any_value()}
                    },
                },
            },
        )


def test_rule_role_may_only_put_items_and_write_its_error_log(unit_templates: Any) -> None:
    statements = [s for _, s in iam_statements(unit_templates.data.to_json())]
    actions = sorted(a for s in statements for a in as_list(s["Action"]))
    assert actions == ["dynamodb:PutItem", "logs:CreateLogStream", "logs:PutLogEvents"]
    assert all("*" not in as_list(s["Resource"]) for s in statements)
    unit_templates.data.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [Match.object_like({"Principal": {"Service": "iot.amazonaws.com"}})]
            }
        },
    )
