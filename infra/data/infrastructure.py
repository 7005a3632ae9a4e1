"""Data path: the encrypted data bucket, the alerts table and the topic rules that fill it.

The rules are the ones in ``bundle.yaml`` (``iot.rules``), the same SQL the local core's embedded
cloud applies, with IoT's ``dynamoDBv2`` action (the selected object becomes one item, as the
embedded cloud writes it) and an error action into a CloudWatch Logs group.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from bundlespec import BundleSpec, TopicRuleSpec
from infra.exceptions import SettingsError

RULE_SQL_VERSION = "2016-03-23"


class DataPath(Construct):
    """Where device data lands: S3 for batches and images, DynamoDB for alerts."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: BundleSpec,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(id="ExpireAccessLogs", expiration=Duration.days(365))],
            removal_policy=removal_policy,
        )
        self.bucket = s3.Bucket(
            self,
            "DataBucket",
            bucket_name=spec.bucket_name(account=stack.account, region=stack.region),
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="data-bucket/",
            lifecycle_rules=_lifecycle(spec),
            removal_policy=removal_policy,
        )
        self.tables = {"alertsTable": self._alerts_table(spec, removal_policy)}
        self.rule_errors = logs.LogGroup(
            self,
            "RuleErrors",
            log_group_name=f"/aws/iot/rules/{spec.project}/errors",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=removal_policy,
        )
        self.rule_role = iam.Role(
            self,
            "TopicRuleRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="IoT topic rules: put alert items, log rule errors",
        )
        self.rule_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteRuleErrors",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.rule_errors.log_group_arn],
            )
        )
        self.rules = [self._topic_rule(rule, spec) for rule in spec.iot.rules]

    def _alerts_table(self, spec: BundleSpec, removal_policy: RemovalPolicy) -> dynamodb.Table:
        keys = [
            rule.action.dynamodb for rule in spec.iot.rules if rule.action.dynamodb.table == "alertsTable"
        ]
        if not keys:
            raise SettingsError(
                "bundle.yaml iot.rules: no rule writes alertsTable; expected one dynamodb action"
            )
        key = keys[0]
        return dynamodb.Table(
            self,
            "AlertsTable",
            table_name=spec.data.alerts_table,
            partition_key=dynamodb.Attribute(name=key.hash_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=key.range_key, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy,
        )

    def _topic_rule(self, rule: TopicRuleSpec, spec: BundleSpec) -> iot.CfnTopicRule:
        table = self.tables[rule.action.dynamodb.table]
        self.rule_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid=f"PutItems{''.join(part.title() for part in rule.name.split('_'))}",
                actions=["dynamodb:PutItem"],
                resources=[table.table_arn],
            )
        )
        return iot.CfnTopicRule(
            self,
            f"Rule{''.join(part.title() for part in rule.name.split('_'))}",
            rule_name=rule.name,
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql=rule.sql,
                aws_iot_sql_version=RULE_SQL_VERSION,
                rule_disabled=False,
                description=f"{spec.project}: {rule.name} (bundle.yaml iot.rules)",
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        dynamo_d_bv2=iot.CfnTopicRule.DynamoDBv2ActionProperty(
                            put_item=iot.CfnTopicRule.PutItemInputProperty(table_name=table.table_name),
                            role_arn=self.rule_role.role_arn,
                        )
                    )
                ],
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=self.rule_errors.log_group_name,
                        role_arn=self.rule_role.role_arn,
                    )
                ),
            ),
        )


def _lifecycle(spec: BundleSpec) -> list[s3.LifecycleRule]:
    """Batches are read for days, then rarely: infrequent access at 30 days, Glacier IR at 90."""
    cheaper = [
        s3.Transition(storage_class=s3.StorageClass.INFREQUENT_ACCESS, transition_after=Duration.days(30)),
        s3.Transition(
            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transition_after=Duration.days(90)
        ),
    ]
    return [
        s3.LifecycleRule(
            id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(7)
        ),
        s3.LifecycleRule(
            id="BatchesToCheaperStorage", prefix=f"{spec.data.batch_key_prefix}/", transitions=cheaper
        ),
        s3.LifecycleRule(
            id="ImagesToCheaperStorage", prefix=f"{spec.data.image_key_prefix}/", transitions=cheaper
        ),
    ]
