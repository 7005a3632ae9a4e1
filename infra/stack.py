"""The bundle's cloud side as one stack: it composes the units and wires them together, nothing more."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from constructs import Construct

from bundlespec import BundleSpec
from infra.constants import (
    OUTPUT_DATA_BUCKET,
    OUTPUT_ROLE_ALIAS,
    OUTPUT_THING_GROUP,
    certificate_output_key,
    secret_output_key,
)
from infra.data.infrastructure import DataPath
from infra.fleet.infrastructure import FleetIdentity
from infra.greengrass.artifacts import ArtifactFiles
from infra.greengrass.infrastructure import GreengrassDeployment, sync_configuration
from infra.greengrass.recipes import Recipe

SYNC_COMPONENT = "com.edgebundle.Sync"


class EdgeBundleStack(Stack):
    """Data path, fleet identity and the Greengrass deployment of the bundle."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: BundleSpec,
        recipes: Sequence[Recipe],
        artifact_files: ArtifactFiles,
        data_removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        **stack_kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **stack_kwargs)
        self.data = DataPath(self, "Data", spec=spec, removal_policy=data_removal_policy)
        self.fleet = FleetIdentity(self, "Fleet", spec=spec, data_bucket=self.data.bucket)
        configuration = {
            recipe.name: sync_configuration(spec, bucket=self.data.bucket.bucket_name, recipe=recipe)
            for recipe in recipes
            if recipe.name == SYNC_COMPONENT
        }
        self.greengrass = GreengrassDeployment(
            self,
            "Greengrass",
            recipes=recipes,
            artifact_files=artifact_files,
            thing_group_arn=self.fleet.thing_group_arn,
            role_alias=spec.fleet.role_alias,
            deployment_name=f"{spec.project}-fleet",
            component_configuration=configuration,
        )
        self.greengrass.deployment.node.add_dependency(self.fleet.thing_group, self.fleet.role_alias)
        self.fleet.allow_artifact_download(
            [(asset.bucket, asset.s3_object_key) for asset in self.greengrass.artifacts.values()]
        )

        # Identifiers only: the private keys stay in Secrets Manager, outputs carry their ARNs.
        CfnOutput(
            self, OUTPUT_ROLE_ALIAS, value=spec.fleet.role_alias, description="Token exchange role alias"
        )
        CfnOutput(
            self, OUTPUT_THING_GROUP, value=spec.fleet.thing_group, description="The fleet's thing group"
        )
        CfnOutput(
            self, OUTPUT_DATA_BUCKET, value=self.data.bucket.bucket_name, description="Device data bucket"
        )
        for cert in self.fleet.certificates:
            CfnOutput(
                self,
                certificate_output_key(cert.thing),
                value=cert.certificate_id,
                description=f"IoT certificate id of {cert.thing}",
            )
            CfnOutput(
                self,
                secret_output_key(cert.thing),
                value=cert.secret.secret_arn,
                description=f"ARN of the secret holding {cert.thing}'s private key",
            )
