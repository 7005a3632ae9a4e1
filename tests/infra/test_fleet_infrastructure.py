"""Fleet identity unit: device IoT policy, token exchange role, certificate custom resources."""

from __future__ import annotations

from typing import Any

from aws_cdk.assertions import Match

from infra.fleet.policies import GREENGRASS_DATA_PLANE_ACTIONS, SHADOW_ACTIONS, THING
from tests.infra.statements import (
    as_list,
    iam_statements,
    iot_statements,
    render,
    resources_of,
    role_statements,
)

ALLOWED_IAM_STAR = {"iot:CreateKeysAndCertificate"}  # no resource-level permission exists for it


def _device_statements(unit_templates: Any) -> dict[str, dict[str, Any]]:
    template = unit_templates.fleet.to_json()
    return {statement["Sid"]: statement for _, statement in iot_statements(template)}


def test_one_thing_group_and_one_thing_per_configured_thing(unit_templates: Any, spec: Any) -> None:
    fleet = unit_templates.fleet
    fleet.has_resource_properties("AWS::IoT::ThingGroup", {"ThingGroupName": spec.fleet.thing_group})
    fleet.resource_count_is("AWS::IoT::Thing", len(spec.fleet.things))
    for thing in spec.fleet.things:
        fleet.has_resource_properties("AWS::IoT::Thing", {"ThingName": thing})
        fleet.has_resource_properties(
            "Custom::ThingCertificate",
            {
                "ThingName": thing,
                "PolicyName": spec.fleet.iot_policy,
                "ThingGroupName": spec.fleet.thing_group,
                "SecretArn": {"Ref": Match.string_like_regexp("PrivateKey")},
            },
        )


def test_device_policy_scopes_every_mqtt_and_shadow_resource_to_the_connected_thing(
    unit_templates: Any,
) -> None:
    statements = _device_statements(unit_templates)
    for sid, statement in statements.items():
        if sid in {"TokenExchangeThroughTheRoleAlias", "GreengrassDeploymentsDataPlane"}:
            continue
        for resource in as_list(statement["Resource"]):
            assert THING in render(resource), f"{sid}: {render(resource)} is not scoped to the thing"
    connect = statements["ConnectAsItsOwnThing"]
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}
    assert render(connect["Resource"]).endswith(f":client/{THING}")


def test_device_policy_grants_the_nucleus_minimum_and_our_topics_and_nothing_broader(
    unit_templates: Any,
) -> None:
    statements = _device_statements(unit_templates)
    actions = {action for s in statements.values() for action in as_list(s["Action"])}
    assert actions == {
        "iot:Connect",
        "iot:Publish",
        "iot:Receive",
        "iot:Subscribe",
        "iot:AssumeRoleWithCertificate",
        *SHADOW_ACTIONS,
        *GREENGRASS_DATA_PLANE_ACTIONS,
    }
    assert all("*" not in action for action in actions)
    # The only "*" resource is AWS's own minimal policy's Greengrass data-plane statement.
    star = [s for s in statements.values() if "*" in as_list(s["Resource"])]
    assert [set(as_list(s["Action"])) for s in star] == [set(GREENGRASS_DATA_PLANE_ACTIONS)]
    published = [render(r) for r in as_list(statements["BundleTopicsPublished"]["Resource"])]
    assert [p.split(":topic/")[1] for p in published] == [
        f"edgebundle/{THING}/alerts",
        f"edgebundle/{THING}/status",
    ]
    alias = statements["TokenExchangeThroughTheRoleAlias"]["Resource"]
    assert alias == {"Fn::GetAtt": [Match.any_value(), "RoleAliasArn"]} or "RoleAliasArn" in render(alias)


def test_token_exchange_role_is_trusted_by_the_credentials_provider_only(
    unit_templates: Any, spec: Any
) -> None:
    unit_templates.fleet.has_resource_properties(
        "AWS::IAM::Role",
        {
            "RoleName": spec.fleet.token_exchange_role,
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "credentials.iot.amazonaws.com"},
                    }
                ]
            },
        },
    )
    unit_templates.fleet.has_resource_properties(
        "AWS::IoT::RoleAlias", {"RoleAlias": spec.fleet.role_alias, "RoleArn": Match.any_value()}
    )


def test_token_exchange_role_writes_only_its_own_prefix_and_reads_only_the_artifact(
    unit_templates: Any,
) -> None:
    template = unit_templates.fleet.to_json()
    role_id = next(k for k, v in resources_of(template, "AWS::IAM::Role").items() if "TokenExchange" in k)
    by_sid = {s["Sid"]: s for s in role_statements(template, role_id)}
    assert set(by_sid) == {"WriteOwnDataPrefix", "ReadComponentArtifacts", "LocateArtifactBuckets"}
    assert as_list(by_sid["LocateArtifactBuckets"]["Action"]) == ["s3:GetBucketLocation"]
    assert "/" not in render(by_sid["LocateArtifactBuckets"]["Resource"])  # the bucket itself, no objects
    assert as_list(by_sid["WriteOwnDataPrefix"]["Action"]) == ["s3:PutObject"]
    prefixes = sorted(render(r).split("/", 1)[1] for r in as_list(by_sid["WriteOwnDataPrefix"]["Resource"]))
    assert prefixes == ["images/${credentials-iot:ThingName}/*", "telemetry/${credentials-iot:ThingName}/*"]
    assert as_list(by_sid["ReadComponentArtifacts"]["Action"]) == ["s3:GetObject"]
    assert render(by_sid["ReadComponentArtifacts"]["Resource"]).endswith("/artifacts/edgebundle.zip")


def test_no_iam_statement_has_wildcard_actions_or_unjustified_star_resources(unit_templates: Any) -> None:
    for logical_id, statement in iam_statements(unit_templates.fleet.to_json()):
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), f"{logical_id}: {actions}"
        if "*" in as_list(statement["Resource"]):
            assert set(actions) <= ALLOWED_IAM_STAR, f"{logical_id}: {actions} on *"


def test_certificate_handler_is_a_current_python_lambda_with_its_own_log_group(unit_templates: Any) -> None:
    unit_templates.fleet.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "certificate_handler.on_event",
            "Runtime": Match.string_like_regexp(r"^python3\.1[2-9]$"),
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    unit_templates.fleet.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def test_private_keys_live_in_secrets_not_outputs(unit_templates: Any, spec: Any) -> None:
    secrets = unit_templates.fleet.find_resources("AWS::SecretsManager::Secret")
    names = sorted(v["Properties"]["Name"] for v in secrets.values())
    assert names == sorted(f"edge-bundle/things/{t}/private-key" for t in spec.fleet.things)


def _policy_resources(action: str) -> set[str]:
    from bundlespec import load_spec
    from infra.fleet.policies import device_policy_document

    document = device_policy_document(
        load_spec(), partition="aws", region="r", account="a", role_alias_arn="alias"
    )
    prefix = {"iot:Publish": "arn:aws:iot:r:a:topic/", "iot:Subscribe": "arn:aws:iot:r:a:topicfilter/"}[
        action
    ]
    return {
        resource.removeprefix(prefix)
        for statement in document["Statement"]
        if action in as_list(statement["Action"])
        for resource in as_list(statement["Resource"])
    }


def test_every_iot_core_topic_a_recipe_uses_is_allowed_for_its_own_thing_only(repo_root: Any) -> None:
    # The recipes' mqttproxy grants are what components send to / take from IoT Core through the
    # nucleus; the device policy must allow each, for the device's own thing name.
    import yaml

    wanted = {
        "aws.greengrass#PublishToIoTCore": "iot:Publish",
        "aws.greengrass#SubscribeToIoTCore": "iot:Subscribe",
    }
    checked = 0
    for path in sorted((repo_root / "recipes").glob("*.yaml")):
        recipe = yaml.safe_load(path.read_text())
        access = recipe["ComponentConfiguration"]["DefaultConfiguration"].get("accessControl", {})
        for grant in access.get("aws.greengrass.ipc.mqttproxy", {}).values():
            for operation in grant["operations"]:
                allowed = _policy_resources(wanted[operation])
                for topic in grant["resources"]:
                    # The recipe writes the thing's topic level as "+" (any thing: accessControl
                    # is not interpolated by default); the IoT policy narrows it to the device's own.
                    levels = ["{thing}" if level == "+" else level for level in topic.split("/")]
                    assert "/".join(levels).format(thing=THING) in allowed, f"{path.name}: {topic}"
                    checked += 1
    assert checked, "expected at least one IoT Core topic in the recipes"
