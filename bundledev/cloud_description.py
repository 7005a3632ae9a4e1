"""``bundle.yaml`` as localcore's cloud description: the resources ``cdk deploy`` creates.

The data bucket, the alerts table of the topic rule, the fleet's thing group and things, the
CDK app's own device policy document (``infra/fleet/policies.py``), the token exchange role
alias, the topic rules and ShadowManager's sync (``bundlespec/shadows.py``), so the embedded
cloud of ``make run`` holds what AWS would.

Example:
    >>> from bundlespec import load_spec
    >>> describe_bundle(load_spec(), "dev-1").buckets
    ('edge-bundle-data-123456789012-us-east-1',)
"""

from __future__ import annotations

from bundlespec import BundleSpec
from bundlespec.shadows import shadow_manager_synchronize
from infra.fleet.policies import device_policy_document
from localcore.cloud.description import (
    CloudDescription,
    DynamoDbRuleAction,
    IotPolicy,
    RoleAlias,
    Table,
    ThingGroup,
    TopicRule,
)


def describe_bundle(spec: BundleSpec, core_thing: str | None = None) -> CloudDescription:
    """The cloud description of ``spec``; ``core_thing`` joins the fleet's thing group too."""
    region, account = spec.region, spec.local_account
    role_alias_arn = f"arn:aws:iot:{region}:{account}:rolealias/{spec.fleet.role_alias}"
    things = tuple(dict.fromkeys([*spec.fleet.things, *([core_thing] if core_thing else [])]))
    tables: dict[str, Table] = {}
    rules: list[TopicRule] = []
    for rule in spec.iot.rules:
        action = rule.action.dynamodb
        name = spec.table_name(action.table)
        tables[name] = Table(name=name, hash_key=action.hash_key, range_key=action.range_key)
        rules.append(TopicRule(name=rule.name, sql=rule.sql, dynamodb=DynamoDbRuleAction(table=name)))
    policy = device_policy_document(
        spec, partition="aws", region=region, account=account, role_alias_arn=role_alias_arn
    )
    return CloudDescription(
        region=region,
        account=account,
        buckets=(spec.bucket_name(account, region),),
        tables=tuple(tables.values()),
        things=things,
        thing_groups=(ThingGroup(name=spec.fleet.thing_group, things=things),),
        iot_policy=IotPolicy(name=spec.fleet.iot_policy, document=policy),
        role_alias=RoleAlias(name=spec.fleet.role_alias, role=spec.fleet.token_exchange_role),
        topic_rules=tuple(rules),
        shadow_sync=shadow_manager_synchronize(),
    )
