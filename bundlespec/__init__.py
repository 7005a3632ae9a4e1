"""The bundle's cloud-side names and settings, loaded from ``bundle.yaml`` at the repository top.

Both the CDK app (``infra/``) and localcore's embedded cloud (through the bundle's plugin,
``bundledev/cloud_description.py``) read these, so the resources a laptop run provisions in moto
are the ones ``cdk deploy`` provisions in AWS.

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

from components.common.exceptions import StructError
from components.common.structs import ConfigStruct, convert

SPEC_PATH = Path(__file__).resolve().parent.parent / "bundle.yaml"


class SpecError(ValueError):
    """``bundle.yaml`` does not fit the spec; the message names the key path and what was expected."""


class FleetSpec(ConfigStruct, frozen=True):
    """The device fleet: thing group, things and the identity resources they share."""

    thing_group: str
    things: tuple[str, ...]
    iot_policy: str
    token_exchange_role: str
    role_alias: str


class DataSpec(ConfigStruct, frozen=True):
    """Where device data lands in the cloud."""

    bucket_prefix: str
    alerts_table: str
    batch_key_prefix: str
    image_key_prefix: str


class DynamoDbAction(ConfigStruct, frozen=True):
    """Topic rule action that writes the selected message into a DynamoDB table."""

    table: Literal["alertsTable"]
    hash_key: str
    range_key: str


class RuleAction(ConfigStruct, frozen=True):
    """The actions a topic rule may take (the subset the project uses)."""

    dynamodb: DynamoDbAction


class TopicRuleSpec(ConfigStruct, frozen=True):
    """An IoT topic rule: its SQL and what it does with matching messages."""

    name: str
    sql: str
    action: RuleAction


class IotSpec(ConfigStruct, frozen=True):
    """IoT Core topics and topic rules."""

    alerts_topic: str
    commands_topic: str
    status_topic: str
    rules: tuple[TopicRuleSpec, ...]

    def topic(self, template: str, thing: str) -> str:
        """Expand a ``{thing}`` topic template for one device."""
        return template.format(thing=thing)


class GreengrassSpec(ConfigStruct, frozen=True):
    """Greengrass component naming. Versions live in each recipe's ``ComponentVersion`` alone."""

    component_prefix: str


class BundleSpec(ConfigStruct, frozen=True):
    """Everything in ``bundle.yaml``."""

    project: str
    region: str
    local_account: str
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
    """Validate a raw mapping into a :class:`BundleSpec`.

    Raises:
        SpecError: naming the key path, dotted (``iot.rules.0.action.dynamodb.table``), and
            what was expected there.
    """
    try:
        # Strict: bundle.yaml is the project's own file, so a number written as a string is a typo.
        return convert(raw, BundleSpec, strict=True)
    except StructError as err:
        raise SpecError(str(err)) from err


@lru_cache(maxsize=4)
def load_spec(path: Path = SPEC_PATH) -> BundleSpec:
    """Load and validate ``bundle.yaml``.

    Raises:
        SpecError: naming the file, the key that is wrong and what was expected.
    """
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle)
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return parse_spec(raw)
    except SpecError as err:
        raise SpecError(f"{path}: {err}") from err
