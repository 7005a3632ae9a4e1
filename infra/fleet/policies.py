"""The device's IoT policy and the token exchange role's permissions, as plain documents.

Compared statement by statement with AWS's "Minimal AWS IoT policy for AWS IoT Greengrass V2 core
devices" (Greengrass developer guide, device-auth): the same MQTT resources, but every thing name
is the policy variable ``${iot:Connection.Thing.ThingName}`` instead of a name or ``*``, so one
policy serves the fleet and a device reaches only its own topics, shadows and jobs. Added to that
minimum: the shadow data-plane actions ShadowManager needs to sync, our three bundle topics, and
``AssumeRoleWithCertificate`` on our role alias only (the token exchange service).

Why ``client/${iot:Connection.Thing.ThingName}`` without AWS's trailing ``*``: the nucleus connects
as the thing name; it opens more connections (``<thing>#2``...) only past 50 subscriptions, which
this bundle stays well below, and thing policy variables resolve only when the client id equals
the thing name. If the bundle ever needs more subscriptions, this statement must change.
"""

from __future__ import annotations

from typing import Any

from bundlespec import BundleSpec

THING = "${iot:Connection.Thing.ThingName}"
CREDENTIALS_THING = "${credentials-iot:ThingName}"

# These four Greengrass data-plane calls take no resource narrower than "*" in an IoT policy;
# AWS's minimal core device policy grants exactly these on "*". Read-only, and no greengrass:*:
# client-device actions (PutCertificateAuthorities, VerifyClientDeviceIdentity) are left out.
GREENGRASS_DATA_PLANE_ACTIONS = (
    "greengrass:GetComponentVersionArtifact",
    "greengrass:ResolveComponentCandidates",
    "greengrass:GetDeploymentConfiguration",
    "greengrass:ListThingGroupsForCoreDevice",
)
SHADOW_ACTIONS = ("iot:GetThingShadow", "iot:UpdateThingShadow", "iot:DeleteThingShadow")


def _iot_arn(partition: str, region: str, account: str, resource: str) -> str:
    return f"arn:{partition}:iot:{region}:{account}:{resource}"


def device_policy_document(
    spec: BundleSpec, *, partition: str, region: str, account: str, role_alias_arn: str
) -> dict[str, Any]:
    """The IoT policy attached to every device certificate of the fleet."""

    def arn(resource: str) -> str:
        return _iot_arn(partition, region, account, resource)

    own = f"$aws/things/{THING}"
    alerts = spec.iot.topic(spec.iot.alerts_topic, THING)
    status = spec.iot.topic(spec.iot.status_topic, THING)
    commands = spec.iot.topic(spec.iot.commands_topic, THING)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ConnectAsItsOwnThing",
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": arn(f"client/{THING}"),
                # The certificate must belong to the thing it claims to be.
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
            {
                "Sid": "NucleusTopicsOfItsOwnThing",
                "Effect": "Allow",
                "Action": ["iot:Publish", "iot:Receive"],
                "Resource": [
                    arn(f"topic/{own}/greengrass/health/json"),
                    arn(f"topic/{own}/greengrassv2/health/json"),
                    arn(f"topic/{own}/jobs/*"),
                    arn(f"topic/{own}/shadow/*"),
                ],
            },
            {
                "Sid": "NucleusSubscriptionsOfItsOwnThing",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": [arn(f"topicfilter/{own}/jobs/*"), arn(f"topicfilter/{own}/shadow/*")],
            },
            {
                "Sid": "ShadowManagerSyncOfItsOwnShadows",
                "Effect": "Allow",
                "Action": list(SHADOW_ACTIONS),
                "Resource": arn(f"thing/{THING}"),
            },
            {
                "Sid": "BundleTopicsPublished",
                "Effect": "Allow",
                "Action": "iot:Publish",
                "Resource": [arn(f"topic/{alerts}"), arn(f"topic/{status}")],
            },
            {
                "Sid": "BundleCommandsReceived",
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": arn(f"topicfilter/{commands}"),
            },
            {
                "Sid": "BundleCommandsDelivered",
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": arn(f"topic/{commands}"),
            },
            {
                "Sid": "TokenExchangeThroughTheRoleAlias",
                "Effect": "Allow",
                "Action": "iot:AssumeRoleWithCertificate",
                "Resource": role_alias_arn,
            },
            {
                "Sid": "GreengrassDeploymentsDataPlane",
                "Effect": "Allow",
                "Action": list(GREENGRASS_DATA_PLANE_ACTIONS),
                "Resource": "*",
            },
        ],
    }


def device_upload_prefixes(spec: BundleSpec) -> list[str]:
    """Key patterns a device may write in the data bucket: its own prefix under each layout."""
    return [
        f"{spec.data.batch_key_prefix}/{CREDENTIALS_THING}/*",
        f"{spec.data.image_key_prefix}/{CREDENTIALS_THING}/*",
    ]
