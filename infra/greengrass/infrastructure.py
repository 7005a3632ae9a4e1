"""Greengrass: our component versions (recipes + the source artifact asset) and the fleet deployment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Stack
from aws_cdk import aws_greengrassv2 as greengrassv2
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from bundlespec import BundleSpec
from bundlespec.shadows import SYNCED_SHADOWS, shadow_manager_synchronize
from infra.constants import NUCLEUS, PUBLIC_COMPONENT_VERSIONS, SHADOW_MANAGER, TOKEN_EXCHANGE_SERVICE
from infra.exceptions import SettingsError
from infra.greengrass.artifacts import ArtifactFiles
from infra.greengrass.recipes import Recipe

__all__ = ["SYNCED_SHADOWS", "shadow_manager_configuration"]


def shadow_manager_configuration() -> dict[str, Any]:
    """ShadowManager: sync our named shadows of the core thing both ways (``bundlespec.shadows``), in real time."""
    return {"synchronize": shadow_manager_synchronize(), "strategy": {"type": "realTime"}}


def sync_configuration(spec: BundleSpec, *, bucket: str, recipe: Recipe) -> dict[str, Any]:
    """The Sync component's ``configurationUpdate.merge``: the data bucket this stack created and
    its region, plus each cloud name of ``bundle.yaml`` that differs from the recipe's default.

    Sync reads these from its configuration only (its artifact carries no ``bundle.yaml``), so a
    name changed in ``bundle.yaml`` reaches the devices through the deployment. With the names as
    shipped, the merge is ``{"bucket": <the bucket>, "region": "us-east-1"}``.
    """
    defaults = (recipe.document.get("ComponentConfiguration") or {}).get("DefaultConfiguration") or {}
    names = {
        "bucketPrefix": spec.data.bucket_prefix,
        "batchKeyPrefix": spec.data.batch_key_prefix,
        "imageKeyPrefix": spec.data.image_key_prefix,
        "alertsTopic": spec.iot.alerts_topic,
    }
    merge: dict[str, Any] = {"bucket": bucket, "region": spec.region}
    merge.update({key: value for key, value in names.items() if defaults.get(key) != value})
    return merge


def nucleus_configuration(role_alias: str) -> dict[str, Any]:
    """The nucleus: our role alias for the token exchange service.

    Not ``interpolateComponentConfiguration``: our recipes' accessControl uses no recipe variable
    (the thing is a wildcard in their shadow resources), so they work the same when a console or
    GDK deployment leaves it at its default, false, and this deployment does not hide it.
    """
    return {"iotRoleAlias": role_alias}


class GreengrassDeployment(Construct):
    """Component versions from ``recipes/`` and one deployment of them to the fleet's thing group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        recipes: Sequence[Recipe],
        artifact_files: ArtifactFiles,
        thing_group_arn: str,
        role_alias: str,
        deployment_name: str,
        component_configuration: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        if not recipes:
            raise SettingsError("no recipes to deploy: expected at least one component recipe in recipes/")
        configuration = dict(component_configuration or {})
        unknown = sorted(set(configuration) - {r.name for r in recipes})
        if unknown:
            raise SettingsError(f"configuration given for {', '.join(unknown)}, which no recipe defines")

        # One asset per distinct file: recipes sharing edgebundle.zip share its upload.
        self.artifacts: dict[Path, s3_assets.Asset] = {}
        self.component_versions: dict[str, greengrassv2.CfnComponentVersion] = {}
        for recipe in recipes:
            urls = {}
            for path in recipe.placeholder_paths():
                local = artifact_files.local_file(recipe, path)
                if local not in self.artifacts:
                    self.artifacts[local] = s3_assets.Asset(
                        self, f"Artifact{len(self.artifacts) + 1}", path=str(local)
                    )
                urls[path] = self.artifacts[local].s3_object_url
            node_id = "".join(part.title() for part in recipe.name.split(".") if part)
            self.component_versions[recipe.name] = greengrassv2.CfnComponentVersion(
                self,
                f"Component{node_id}",
                inline_recipe=stack.to_json_string(recipe.with_artifact_urls(urls)),
            )

        components: dict[str, greengrassv2.CfnDeployment.ComponentDeploymentSpecificationProperty] = {
            NUCLEUS: _spec(PUBLIC_COMPONENT_VERSIONS[NUCLEUS], stack, nucleus_configuration(role_alias)),
            TOKEN_EXCHANGE_SERVICE: _spec(PUBLIC_COMPONENT_VERSIONS[TOKEN_EXCHANGE_SERVICE], stack, None),
            SHADOW_MANAGER: _spec(
                PUBLIC_COMPONENT_VERSIONS[SHADOW_MANAGER], stack, shadow_manager_configuration()
            ),
        }
        for recipe in recipes:
            components[recipe.name] = _spec(recipe.version, stack, configuration.get(recipe.name))

        self.deployment = greengrassv2.CfnDeployment(
            self,
            "FleetDeployment",
            target_arn=thing_group_arn,
            deployment_name=deployment_name,
            components=components,
            deployment_policies=greengrassv2.CfnDeployment.DeploymentPoliciesProperty(
                # A device that cannot run the new set goes back to the previous one by itself.
                failure_handling_policy="ROLLBACK",
                component_update_policy=greengrassv2.CfnDeployment.DeploymentComponentUpdatePolicyProperty(
                    action="NOTIFY_COMPONENTS", timeout_in_seconds=60
                ),
                configuration_validation_policy=greengrassv2.CfnDeployment.DeploymentConfigurationValidationPolicyProperty(
                    timeout_in_seconds=60
                ),
            ),
            iot_job_configuration=greengrassv2.CfnDeployment.DeploymentIoTJobConfigurationProperty(
                job_executions_rollout_config=greengrassv2.CfnDeployment.IoTJobExecutionsRolloutConfigProperty(
                    exponential_rate=greengrassv2.CfnDeployment.IoTJobExponentialRolloutRateProperty(
                        base_rate_per_minute=5,
                        increment_factor=2,
                        rate_increase_criteria={"NumberOfSucceededThings": 10},
                    ),
                    maximum_per_minute=100,
                ),
                # Stop the rollout when more than 10 % of at least 10 devices failed or timed out.
                abort_config=greengrassv2.CfnDeployment.IoTJobAbortConfigProperty(
                    criteria_list=[
                        greengrassv2.CfnDeployment.IoTJobAbortCriteriaProperty(
                            action="CANCEL",
                            failure_type="ALL",
                            min_number_of_executed_things=10,
                            threshold_percentage=10,
                        )
                    ]
                ),
                timeout_config=greengrassv2.CfnDeployment.IoTJobTimeoutConfigProperty(
                    in_progress_timeout_in_minutes=60
                ),
            ),
        )
        self.deployment.node.add_dependency(*self.component_versions.values())


def _spec(
    version: str, stack: Stack, merge: Mapping[str, Any] | None
) -> greengrassv2.CfnDeployment.ComponentDeploymentSpecificationProperty:
    update = (
        greengrassv2.CfnDeployment.ComponentConfigurationUpdateProperty(
            merge=stack.to_json_string(dict(merge))
        )
        if merge
        else None
    )
    return greengrassv2.CfnDeployment.ComponentDeploymentSpecificationProperty(
        component_version=version, configuration_update=update
    )
