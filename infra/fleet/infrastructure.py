"""Fleet identity: thing group, things, per-thing certificates, the device IoT policy, TES role and alias."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, CfnElement, CustomResource, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from bundlespec import BundleSpec
from infra.constants import CERTIFICATE_HANDLER_DIR, SECRET_NAME_PREFIX
from infra.fleet.policies import device_policy_document, device_upload_prefixes
from infra.nag import acknowledge

HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_14


class ThingCertificate:
    """What the stack knows about one thing's certificate (ids for outputs, never the key)."""

    def __init__(self, thing: str, resource: CustomResource, secret: secretsmanager.Secret) -> None:
        self.thing = thing
        self.certificate_id = resource.get_att_string("CertificateId")
        self.certificate_arn = resource.get_att_string("CertificateArn")
        self.secret = secret


class FleetIdentity(Construct):
    """Everything a device needs to be itself in the cloud, with the least privilege it can work with."""

    def __init__(
        self, scope: Construct, construct_id: str, *, spec: BundleSpec, data_bucket: s3.IBucket
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        fleet = spec.fleet

        self.thing_group = iot.CfnThingGroup(self, "ThingGroup", thing_group_name=fleet.thing_group)
        self.thing_group_arn = stack.format_arn(
            service="iot", resource="thinggroup", resource_name=fleet.thing_group
        )
        self.token_exchange_role = self._token_exchange_role(spec, data_bucket)
        self.role_alias = iot.CfnRoleAlias(
            self,
            "RoleAlias",
            role_alias=fleet.role_alias,
            role_arn=self.token_exchange_role.role_arn,
            credential_duration_seconds=3600,
        )
        self.policy = iot.CfnPolicy(
            self,
            "DevicePolicy",
            policy_name=fleet.iot_policy,
            policy_document=device_policy_document(
                spec,
                partition=stack.partition,
                region=stack.region,
                account=stack.account,
                role_alias_arn=self.role_alias.attr_role_alias_arn,
            ),
        )
        handler = self._certificate_handler(spec)
        self.certificates: list[ThingCertificate] = []
        for thing in fleet.things:
            self.certificates.append(self._thing(thing, spec, handler))

    def allow_artifact_download(self, objects: Sequence[tuple[s3.IBucket, str]]) -> None:
        """Let devices (through the token exchange role) read exactly these component artifact objects.

        The nucleus' S3 downloader asks for the bucket's region (GetBucketLocation) before it
        heads and gets the object (both authorized by s3:GetObject).
        """
        if not objects:
            return
        self.token_exchange_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ReadComponentArtifacts",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(key) for bucket, key in objects],
            )
        )
        bucket_arns = list(dict.fromkeys(bucket.bucket_arn for bucket, _ in objects))
        self.token_exchange_role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="LocateArtifactBuckets", actions=["s3:GetBucketLocation"], resources=bucket_arns
            )
        )

    # --- parts
    def _token_exchange_role(self, spec: BundleSpec, data_bucket: s3.IBucket) -> iam.Role:
        role = iam.Role(
            self,
            "TokenExchangeRole",
            role_name=spec.fleet.token_exchange_role,
            assumed_by=iam.ServicePrincipal("credentials.iot.amazonaws.com"),
            description="Greengrass token exchange role: component artifacts and the device's own data prefix",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnDataPrefix",
                actions=["s3:PutObject"],
                resources=[data_bucket.arn_for_objects(pattern) for pattern in device_upload_prefixes(spec)],
            )
        )
        # The "*" after the device's own prefix covers the object keys the sync component names;
        # the thing-name variable is what confines each device to its prefix.
        bucket = f"<{_logical_id(data_bucket)}.Arn>"
        for pattern in device_upload_prefixes(spec):
            finding = f"Resource::{bucket}/{pattern.replace('${', '<').replace('}', '>')}"
            acknowledge(
                role, f"AwsSolutions-IAM5[{finding}]", "objects under the device's own key prefix only"
            )
        return role

    def _certificate_handler(self, spec: BundleSpec) -> lambda_.Function:
        stack = Stack.of(self)
        log_group = logs.LogGroup(
            self,
            "CertificateHandlerLogs",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            self,
            "CertificateHandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Issues, attaches and deletes the fleet's device certificates",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_group.log_group_arn],
            )
        )
        # CreateKeysAndCertificate has no resource type: IAM only accepts "*" for it.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="IssueCertificates", actions=["iot:CreateKeysAndCertificate"], resources=["*"]
            )
        )
        # Certificate ids are generated by IoT at create time, so the ARN can name only the type.
        certificates = stack.format_arn(service="iot", resource="cert", resource_name="*")
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="ManageIssuedCertificates",
                actions=[
                    "iot:AttachPolicy",
                    "iot:DetachPolicy",
                    "iot:DescribeCertificate",
                    "iot:UpdateCertificate",
                    "iot:DeleteCertificate",
                ],
                resources=[certificates],
            )
        )
        things = [
            stack.format_arn(service="iot", resource="thing", resource_name=t) for t in spec.fleet.things
        ]
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="BindFleetThings",
                actions=[
                    "iot:AttachThingPrincipal",
                    "iot:DetachThingPrincipal",
                    "iot:AddThingToThingGroup",
                    "iot:RemoveThingFromThingGroup",
                ],
                resources=[*things, self.thing_group_arn],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="StorePrivateKeys",
                actions=["secretsmanager:PutSecretValue"],
                resources=[
                    stack.format_arn(
                        service="secretsmanager",
                        resource="secret",
                        resource_name=f"{SECRET_NAME_PREFIX}/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        account_arn = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>"
        for finding, reason in (
            (
                "Resource::*",
                "iot:CreateKeysAndCertificate has no resource type in IAM; it is the only action on *",
            ),
            (
                f"Resource::{account_arn.format(service='iot')}:cert/*",
                "certificate ids are generated by IoT at create time; the ARN fixes the type (cert)",
            ),
            (
                f"Resource::{account_arn.format(service='secretsmanager')}:secret:{SECRET_NAME_PREFIX}/*",
                "secret ARNs end in a random suffix; only PutSecretValue, only under our key-secret prefix",
            ),
        ):
            acknowledge(role, f"AwsSolutions-IAM5[{finding}]", reason)
        return lambda_.Function(
            self,
            "CertificateHandler",
            runtime=HANDLER_RUNTIME,
            handler="certificate_handler.on_event",
            code=lambda_.Code.from_asset(str(CERTIFICATE_HANDLER_DIR), exclude=["__pycache__", "*.pyc"]),
            timeout=Duration.minutes(2),
            memory_size=256,
            role=role,
            log_group=log_group,
            description="Custom resource: per-thing IoT certificate, private key into Secrets Manager",
        )

    def _thing(self, thing: str, spec: BundleSpec, handler: lambda_.Function) -> ThingCertificate:
        node_id = "".join(ch for ch in thing.title() if ch.isalnum())
        cfn_thing = iot.CfnThing(self, f"Thing{node_id}", thing_name=thing)
        secret = secretsmanager.Secret(
            self,
            f"PrivateKey{node_id}",
            secret_name=f"{SECRET_NAME_PREFIX}/{thing}/private-key",
            description=f"Private key of {thing}'s IoT certificate (written by the certificate custom resource)",
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(
            secret,
            "AwsSolutions-SMG4",
            "The key is rotated by issuing a new certificate (a new custom resource), not by a Secrets "
            "Manager rotation Lambda, which cannot re-key an IoT certificate",
        )
        resource = CustomResource(
            self,
            f"Certificate{node_id}",
            service_token=handler.function_arn,
            resource_type="Custom::ThingCertificate",
            properties={
                "ThingName": thing,
                "PolicyName": spec.fleet.iot_policy,
                "SecretArn": secret.secret_arn,
                "ThingGroupName": spec.fleet.thing_group,
            },
        )
        resource.node.add_dependency(cfn_thing, self.policy, self.thing_group)
        return ThingCertificate(thing, resource, secret)


def _logical_id(construct: Construct | s3.IBucket) -> str:
    """The CloudFormation logical id of an L2 construct's resource, as cdk-nag names it in findings."""
    child = construct.node.default_child
    if not isinstance(child, CfnElement):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource")
    stack = Stack.of(construct)
    return str(stack.resolve(stack.get_logical_id(child)))
