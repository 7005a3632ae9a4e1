"""bundle.yaml as localcore's cloud description: what the embedded cloud of `make run` holds."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from bundledev.cloud_description import describe_bundle
from bundlespec import load_spec
from bundlespec.shadows import shadow_manager_synchronize
from infra.greengrass.infrastructure import shadow_manager_configuration
from localcore.cloud.description import dump_cloud_description, parse_cloud_description
from localcore.cloud.moto_server import MotoCloud


@pytest.fixture(scope="module")
def moto_cloud() -> Iterator[MotoCloud]:
    """GIVEN a moto server provisioned from bundle.yaml's description."""
    cloud = MotoCloud(describe_bundle(load_spec()))
    cloud.start()
    yield cloud
    cloud.stop()


def test_moto_cloud_is_provisioned_like_the_cdk_app(moto_cloud: MotoCloud) -> None:
    """bundle.yaml through the adapter gives moto the CDK app's resources and its own device policy."""
    spec = load_spec()
    assert spec.bucket_name(spec.local_account) in [
        b["Name"] for b in moto_cloud.client("s3").list_buckets()["Buckets"]
    ]
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


def test_the_description_survives_its_own_file_format() -> None:
    """What the adapter builds is a valid description file (the strict schema reads it back)."""
    description = describe_bundle(load_spec(), "dev-7")
    assert parse_cloud_description(json.loads(dump_cloud_description(description))) == description
    assert description.thing_groups[0].things == ("dev-1", "dev-7")


def test_shadow_sync_is_the_fleet_deployments() -> None:
    """One home for ShadowManager's sync: the fleet deployment (infra) and the description agree."""
    description = describe_bundle(load_spec())
    assert description.shadow_sync == shadow_manager_synchronize()
    assert shadow_manager_configuration()["synchronize"] == description.shadow_sync
