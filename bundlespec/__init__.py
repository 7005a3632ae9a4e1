"""The bundle's cloud-side names and settings, loaded from ``bundle.yaml`` at the repository top.

Both the CDK app (``infra/``) and the local core's embedded cloud (``localcore/cloud``) read these,
so the resources a laptop run provisions in moto are the ones ``cdk deploy`` provisions in AWS.

Example:
    >>> spec = load_spec()
    >>> spec.bucket_name(account="123456789012")
    'edge-bundle-data-123456789012-us-east-1'
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

SPEC_PATH = Path(__file__).resolve().parent.parent / "bundle.yaml"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class FleetSpec(_Model):
    """The device fleet: thing group, things and the identity resources they share."""

    thing_group: str = Field(alias="thingGroup")
    things: tuple[str, ...]
    iot_policy: str = Field(alias="iotPolicy")
    token_exchange_role: str = Field(alias="tokenExchangeRole")
    role_alias: str = Field(alias="roleAlias")


class DataSpec(_Model):
    """Where device data lands in the cloud."""

    bucket_prefix: str = Field(alias="bucketPrefix")
    alerts_table: str = Field(alias="alertsTable")
    batch_key_prefix: str = Field(alias="batchKeyPrefix")
    image_key_prefix: str = Field(alias="imageKeyPrefix")


class DynamoDbAction(_Model):
    """Topic rule action that writes the selected message into a DynamoDB table."""

    table: Literal["alertsTable"]
    hash_key: str = Field(alias="hashKey")
    range_key: str = Field(alias="rangeKey")


class RuleAction(_Model):
    """The actions a topic rule may take (the subset the project uses)."""

    dynamodb: DynamoDbAction


class TopicRuleSpec(_Model):
    """An IoT topic rule: its SQL and what it does with matching messages."""

    name: str
    sql: str
    action: RuleAction


class IotSpec(_Model):
    """IoT Core topics and topic rules."""

    alerts_topic: str = Field(alias="alertsTopic")
    commands_topic: str = Field(alias="commandsTopic")
    status_topic: str = Field(alias="statusTopic")
    rules: tuple[TopicRuleSpec, ...]

    def topic(self, template: str, thing: str) -> str:
        """Expand a ``{thing}`` topic template for one device."""
        return template.format(thing=thing)


class GreengrassSpec(_Model):
    """Greengrass component naming and version."""

    component_prefix: str = Field(alias="componentPrefix")
    component_version: str = Field(alias="componentVersion")


class BundleSpec(_Model):
    """Everything in ``bundle.yaml``."""

    project: str
    region: str
    local_account: str = Field(alias="localAccount")
    fleet: FleetSpec
    data: DataSpec
    iot: IotSpec
    greengrass: GreengrassSpec

    def bucket_name(self, account: str, region: str | None = None) -> str:
        """The data bucket's name in one account and region."""
        return f"{self.data.bucket_prefix}-{account}-{region or self.region}"

    def table_name(self, logical: str) -> str:
        """Resolve a logical table reference used by rules (``alertsTable``) to its name."""
        tables = {"alertsTable": self.data.alerts_table}
        return tables[logical]


def parse_spec(raw: dict[str, Any]) -> BundleSpec:
    """Validate a raw mapping into a :class:`BundleSpec` (raises pydantic's ValidationError)."""
    return BundleSpec.model_validate(raw)


@lru_cache(maxsize=4)
def load_spec(path: Path = SPEC_PATH) -> BundleSpec:
    """Load and validate ``bundle.yaml``; errors name the key that is wrong."""
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    return parse_spec(raw)
