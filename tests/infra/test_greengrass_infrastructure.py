"""Greengrass unit: component versions from recipes with the asset's URI, and the fleet deployment."""

from __future__ import annotations

import json
import re
from typing import Any

from infra.constants import NUCLEUS, SHADOW_MANAGER, TOKEN_EXCHANGE_SERVICE
from infra.greengrass.infrastructure import SYNCED_SHADOWS
from tests.infra.statements import render, resources_of


def _deployment(unit_templates: Any) -> dict[str, Any]:
    (deployment,) = resources_of(
        unit_templates.greengrass.to_json(), "AWS::GreengrassV2::Deployment"
    ).values()
    return deployment


def _merge(deployment: dict[str, Any], component: str) -> dict[str, Any]:
    merge = deployment["Components"][component]["ConfigurationUpdate"]["Merge"]
    return json.loads(merge) if isinstance(merge, str) else json.loads(render(merge))


def test_recipe_becomes_a_component_version_whose_artifact_is_the_uploaded_asset(unit_templates: Any) -> None:
    (version,) = resources_of(
        unit_templates.greengrass.to_json(), "AWS::GreengrassV2::ComponentVersion"
    ).values()
    recipe_text = render(version["Properties"]["InlineRecipe"])
    assert "BUCKET_NAME" not in recipe_text
    assert '"ComponentName":"com.edgebundle.Sync"' in recipe_text.replace(" ", "")
    # The URI is the asset's object: s3://<the CDK assets bucket>/<content hash>.zip
    assert re.search(
        r'"Uri":"\{"Fn::Sub": "s3://cdk-[a-z0-9]+-assets-\$\{AWS::AccountId\}-\$\{AWS::Region\}/[0-9a-f]{64}\.zip"\}"',
        recipe_text,
    )


def test_deployment_targets_the_thing_group_with_the_nucleus_tes_shadowmanager_and_our_components(
    unit_templates: Any,
) -> None:
    deployment = _deployment(unit_templates)["Properties"]
    assert deployment["TargetArn"].endswith(":thinggroup/edge-bundle-fleet")
    assert set(deployment["Components"]) == {
        NUCLEUS,
        TOKEN_EXCHANGE_SERVICE,
        SHADOW_MANAGER,
        "com.edgebundle.Sync",
    }
    assert deployment["Components"]["com.edgebundle.Sync"]["ComponentVersion"] == "1.2.3"


def test_component_configuration_sets_the_role_alias_shadow_sync_and_our_settings(
    unit_templates: Any, spec: Any
) -> None:
    deployment = _deployment(unit_templates)["Properties"]
    # Only the role alias: the recipes need no interpolateComponentConfiguration (tests/recipes),
    # so the fleet deployment exercises the same nucleus settings as a console or GDK one.
    assert _merge(deployment, NUCLEUS) == {"iotRoleAlias": spec.fleet.role_alias}
    shadows = _merge(deployment, SHADOW_MANAGER)["synchronize"]
    assert shadows["coreThing"] == {"classic": False, "namedShadows": list(SYNCED_SHADOWS)}
    assert shadows["direction"] == "betweenDeviceAndCloud"
    assert _merge(deployment, "com.edgebundle.Sync") == {"bucket": "the-bucket"}


def test_deployment_rolls_back_and_aborts_a_failing_rollout(unit_templates: Any) -> None:
    deployment = _deployment(unit_templates)
    props = deployment["Properties"]
    assert props["DeploymentPolicies"]["FailureHandlingPolicy"] == "ROLLBACK"
    (criteria,) = props["IotJobConfiguration"]["AbortConfig"]["CriteriaList"]
    assert criteria == {
        "Action": "CANCEL",
        "FailureType": "ALL",
        "MinNumberOfExecutedThings": 10,
        "ThresholdPercentage": 10,
    }
    rollout = props["IotJobConfiguration"]["JobExecutionsRolloutConfig"]
    assert rollout["ExponentialRate"]["RateIncreaseCriteria"] == {"NumberOfSucceededThings": 10}
    # The deployment waits for the component versions it names.
    versions = resources_of(unit_templates.greengrass.to_json(), "AWS::GreengrassV2::ComponentVersion")
    assert set(versions) <= set(deployment.get("DependsOn", []))


def test_shadow_sync_settings_match_the_local_deployment(repo_root: Any) -> None:
    # `make run` and the fleet must sync the same shadows the same way.
    import yaml

    from infra.greengrass.infrastructure import shadow_manager_configuration

    local = yaml.safe_load((repo_root / "deployments" / "local.yaml").read_text())
    merge = local["components"][SHADOW_MANAGER]["configurationUpdate"]["merge"]
    assert merge["synchronize"] == shadow_manager_configuration()["synchronize"]


def test_make_build_output_deploys_one_asset_per_architecture(unit_templates: Any) -> None:
    # GIVEN `make build` output with an aarch64 and an amd64 zip WHEN the unit is synthesized
    (version,) = resources_of(
        unit_templates.greengrass_built.to_json(), "AWS::GreengrassV2::ComponentVersion"
    ).values()
    recipe_text = render(version["Properties"]["InlineRecipe"])
    # THEN each architecture's manifest points at its own uploaded object
    hashes = re.findall(r"/([0-9a-f]{64})\.zip", recipe_text)
    assert len(hashes) == 2
    assert len(set(hashes)) == 2
    assert "BUCKET_NAME" not in recipe_text
    assert '"architecture":"aarch64"' in recipe_text.replace(" ", "")


def test_sync_gets_the_stacks_bucket_and_region_and_no_name_it_already_has(repo_root: Any, spec: Any) -> None:
    # GIVEN the shipped Sync recipe and bundle.yaml, whose cloud names are the recipe's defaults
    from infra.greengrass.infrastructure import sync_configuration
    from infra.greengrass.recipes import load_recipe

    recipe = load_recipe(repo_root / "recipes" / "com.edgebundle.Sync.yaml")
    # THEN the deployment names only the bucket the stack created and the stack's region
    assert sync_configuration(spec, bucket="b", recipe=recipe) == {"bucket": "b", "region": spec.region}


def test_a_cloud_name_changed_in_bundle_yaml_reaches_sync_through_the_deployment(
    repo_root: Any, spec: Any
) -> None:
    # GIVEN bundle.yaml with other key prefixes and another alerts topic than the recipe's defaults
    import msgspec

    from infra.greengrass.infrastructure import sync_configuration
    from infra.greengrass.recipes import load_recipe

    recipe = load_recipe(repo_root / "recipes" / "com.edgebundle.Sync.yaml")
    changed = msgspec.structs.replace(
        spec,
        data=msgspec.structs.replace(spec.data, batch_key_prefix="lake/raw", image_key_prefix="lake/img"),
        iot=msgspec.structs.replace(spec.iot, alerts_topic="plant/{thing}/alarms"),
    )
    # THEN the deployment's merge carries each of them under Sync's configuration key
    assert sync_configuration(changed, bucket="b", recipe=recipe) == {
        "bucket": "b",
        "region": spec.region,
        "batchKeyPrefix": "lake/raw",
        "imageKeyPrefix": "lake/img",
        "alertsTopic": "plant/{thing}/alarms",
    }
    # and Sync accepts that configuration
    from components.common.live_config import validate_config
    from components.sync.config import SyncConfig

    defaults = recipe.document["ComponentConfiguration"]["DefaultConfiguration"]
    merged = {**defaults, **sync_configuration(changed, bucket="edge-bundle-data-1-us-east-1", recipe=recipe)}
    config = validate_config(SyncConfig, merged)
    assert (config.batch_key_prefix, config.alerts_topic) == ("lake/raw", "plant/{thing}/alarms")


def test_the_apps_deployment_configures_sync_with_the_data_bucket(full_app: Any, spec: Any) -> None:
    # GIVEN the synthesized app WHEN its deployment's Sync merge is read
    (deployment,) = resources_of(full_app.template, "AWS::GreengrassV2::Deployment").values()
    merge = render(
        deployment["Properties"]["Components"]["com.edgebundle.Sync"]["ConfigurationUpdate"]["Merge"]
    )
    # THEN it names the stack's data bucket (a reference to it) and bundle.yaml's region
    (bucket_id,) = [
        key
        for key, value in resources_of(full_app.template, "AWS::S3::Bucket").items()
        if "DataBucket" in key
    ]
    assert bucket_id in merge and f'"region":"{spec.region}"' in merge.replace(" ", ""), merge
