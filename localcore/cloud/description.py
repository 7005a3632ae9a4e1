"""The cloud description: the AWS resources the embedded cloud provisions, as data in a file.

A project describes its cloud once (``localcore run --cloud-description cloud.yaml``, YAML or
JSON); the embedded cloud creates exactly that in moto when it starts. Every key is optional;
an unknown key is refused, naming it and where it was. The schema (``docs/localcore.md``)::

    region: us-east-1                  # default us-east-1
    account: "123456789012"            # moto's account id (the default)
    buckets: [my-data]                 # S3 buckets
    tables:                            # DynamoDB tables (string keys, on-demand)
      - {name: my-alerts, hashKey: device, rangeKey: at}
    things: [dev-2]                    # IoT things besides the core's own (always created)
    thingGroups:
      - {name: my-fleet, things: [dev-1, dev-2]}
    iotPolicy:                         # attached to one active certificate per thing
      name: my-device-policy
      document: {Version: "2012-10-17", Statement: [...]}
    roleAlias:                         # what the token exchange service assumes
      name: my-role-alias              # default localcore-token-exchange-role-alias
      role: my-token-exchange-role     # default localcore-token-exchange-role
    topicRules:                        # IoT SQL, one action each
      - name: alerts_to_table
        sql: "SELECT *, topic(2) AS device FROM 'factory/+/alerts'"
        dynamodb: {table: my-alerts}   # a table above; or s3: {bucket: my-data, key: "${topic()}/${timestamp()}.json"}
    shadowSync:                        # ShadowManager's `synchronize`, as the fleet deployment sets it
      coreThing: {classic: false, namedShadows: [config]}
      direction: betweenDeviceAndCloud

``shadowSync`` is what a real device gets from its fleet deployment; a local deployment file
that configures ``aws.greengrass.ShadowManager`` overrides it, as a deployment would.

Example:
    >>> description = parse_cloud_description({"buckets": ["b"], "things": ["dev-2"]})
    >>> description.buckets, description.role_alias.name
    (('b',), 'localcore-token-exchange-role-alias')
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import yaml

DEFAULT_REGION = "us-east-1"
MOTO_ACCOUNT = "123456789012"
DEFAULT_ROLE_ALIAS = "localcore-token-exchange-role-alias"
DEFAULT_ROLE = "localcore-token-exchange-role"

# IoT Core's S3 action key: the substitution templates localcore evaluates.
_KEY_TEMPLATES = {"${topic()}": "{topic}", "${timestamp()}": "{timestamp}"}


class CloudDescriptionError(ValueError):
    """A cloud description does not fit the schema; the message names the key and what was expected."""


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename="camel"):
    """camelCase keys; an unknown key is an error, never ignored."""


class Table(_Strict, frozen=True):
    """A DynamoDB table with string key attributes."""

    name: str
    hash_key: str
    range_key: str | None = None


class ThingGroup(_Strict, frozen=True):
    """An IoT thing group and the things in it (created if not listed under ``things``)."""

    name: str
    things: tuple[str, ...] = ()


class IotPolicy(_Strict, frozen=True):
    """An IoT policy, attached to the certificate of every thing."""

    name: str
    document: dict[str, Any]


class RoleAlias(_Strict, frozen=True):
    """The role alias the token exchange service resolves, and the IAM role behind it."""

    name: str = DEFAULT_ROLE_ALIAS
    role: str = DEFAULT_ROLE


class DynamoDbRuleAction(_Strict, frozen=True):
    """IoT's ``dynamoDBv2`` action: the selected object becomes one item of ``table``."""

    table: str


class S3RuleAction(_Strict, frozen=True):
    """IoT's ``s3`` action: the selected object as JSON at ``key`` (``${topic()}``, ``${timestamp()}``)."""

    bucket: str
    key: str

    @property
    def key_template(self) -> str:
        """``key`` with IoT's substitution templates as Python format fields."""
        template = self.key.replace("{", "{{").replace("}", "}}")
        for iot, python in _KEY_TEMPLATES.items():
            template = template.replace(iot.replace("{", "{{").replace("}", "}}"), python)
        return template


class TopicRule(_Strict, frozen=True):
    """An IoT topic rule: its SQL and exactly one action."""

    name: str
    sql: str
    dynamodb: DynamoDbRuleAction | None = None
    s3: S3RuleAction | None = None


class CloudDescription(_Strict, frozen=True):
    """Everything the embedded cloud provisions (see the module docstring for the file)."""

    region: str = DEFAULT_REGION
    account: str = MOTO_ACCOUNT
    buckets: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    things: tuple[str, ...] = ()
    thing_groups: tuple[ThingGroup, ...] = ()
    iot_policy: IotPolicy | None = None
    role_alias: RoleAlias = RoleAlias()
    topic_rules: tuple[TopicRule, ...] = ()
    shadow_sync: dict[str, Any] | None = None

    def table(self, name: str) -> Table:
        """The table called ``name`` (checked to exist when the description was parsed)."""
        return next(table for table in self.tables if table.name == name)

    def all_things(self, core_thing: str) -> tuple[str, ...]:
        """Every thing to create: the core's own, those listed, and every group member, once each."""
        members = [thing for group in self.thing_groups for thing in group.things]
        return tuple(dict.fromkeys([core_thing, *self.things, *members]))

    def role_alias_arn(self) -> str:
        """The role alias' ARN in the described account and region."""
        return f"arn:aws:iot:{self.region}:{self.account}:rolealias/{self.role_alias.name}"


def parse_cloud_description(raw: Any) -> CloudDescription:
    """Validate a raw mapping (a parsed YAML or JSON file) into a :class:`CloudDescription`.

    Raises:
        CloudDescriptionError: naming the key path (``topicRules[0].dynamodb.table``) and what was
            expected there; an unknown key is named, with the keys allowed in its place.
    """
    if not isinstance(raw, dict):
        raise CloudDescriptionError(f"expected a mapping at the top level, got {type(raw).__name__}")
    try:
        description = msgspec.convert(raw, CloudDescription, strict=True)
    except msgspec.ValidationError as err:
        raise CloudDescriptionError(_readable(str(err), raw)) from err
    _check_references(description)
    return description


def load_cloud_description(path: Path) -> CloudDescription:
    """Read and validate a cloud description file (YAML, or JSON, which is YAML too).

    Raises:
        CloudDescriptionError: the file is missing, not YAML, or does not fit; names the file.
    """
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise CloudDescriptionError(f"{path}: cannot read the cloud description: {err.strerror}") from err
    except yaml.YAMLError as err:
        raise CloudDescriptionError(f"{path}: not YAML or JSON: {err}") from err
    try:
        return parse_cloud_description(raw if raw is not None else {})
    except CloudDescriptionError as err:
        raise CloudDescriptionError(f"{path}: {err}") from err


def dump_cloud_description(description: CloudDescription) -> str:
    """The description as the JSON a file would hold (camelCase keys, defaults included)."""
    return json.dumps(msgspec.to_builtins(description), indent=2, sort_keys=True) + "\n"


_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)`(?: - at `\$(?P<path>[^`]*)`)?")
_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _allowed_keys(path: str) -> list[str]:
    """The camelCase keys allowed at a msgspec path like ``.topicRules[0]``."""
    struct: Any = CloudDescription
    for part in re.findall(r"\.(\w+)|\[\d+\]", path):
        if not part:
            continue
        field = next(f for f in msgspec.structs.fields(struct) if f.encode_name == part)
        struct = _struct_of(field.type)
    return [f.encode_name for f in msgspec.structs.fields(struct)]


def _struct_of(annotation: Any) -> Any:
    for candidate in getattr(annotation, "__args__", (annotation,)):
        if isinstance(candidate, type) and issubclass(candidate, msgspec.Struct):
            return candidate
        inner = _struct_of(candidate) if getattr(candidate, "__args__", None) else None
        if inner is not None:
            return inner
    return None


def _readable(message: str, raw: Any) -> str:
    unknown = _UNKNOWN.match(message)
    if unknown:
        where = (unknown["path"] or "").lstrip(".")
        key = f"{where}.{unknown['key']}" if where else unknown["key"]
        try:
            allowed = ", ".join(_allowed_keys(unknown["path"] or ""))
        except (StopIteration, TypeError):
            allowed = ""
        return f"{key}: unknown key" + (f"; expected one of {allowed}" if allowed else "")
    at = _AT.search(message)
    if at:
        return f"{at['path'].lstrip('.')}: {message[: at.start()]}"
    return message


def _check_references(description: CloudDescription) -> None:
    tables = {table.name for table in description.tables}
    buckets = set(description.buckets)
    if not re.fullmatch(r"\d{12}", description.account):
        raise CloudDescriptionError(f"account: expected 12 digits, got {description.account!r}")
    for index, rule in enumerate(description.topic_rules):
        where = f"topicRules[{index}]"
        actions = [action for action in (rule.dynamodb, rule.s3) if action is not None]
        if len(actions) != 1:
            raise CloudDescriptionError(
                f"{where} ({rule.name}): expected exactly one action, dynamodb or s3; got {len(actions)}"
            )
        if rule.dynamodb is not None and rule.dynamodb.table not in tables:
            raise CloudDescriptionError(
                f"{where}.dynamodb.table: {rule.dynamodb.table!r} is not a table of this description; "
                f"expected one of {sorted(tables) or 'the names under tables (none given)'}"
            )
        if rule.s3 is not None:
            if rule.s3.bucket not in buckets:
                raise CloudDescriptionError(
                    f"{where}.s3.bucket: {rule.s3.bucket!r} is not a bucket of this description; "
                    f"expected one of {sorted(buckets) or 'the names under buckets (none given)'}"
                )
            unknown = set(re.findall(r"\$\{[^}]*\}", rule.s3.key)) - set(_KEY_TEMPLATES)
            if unknown:
                raise CloudDescriptionError(
                    f"{where}.s3.key: unsupported substitution {sorted(unknown)[0]}; "
                    f"expected only {', '.join(_KEY_TEMPLATES)}"
                )
    if description.iot_policy is not None:
        document = description.iot_policy.document
        if not isinstance(document.get("Statement"), list) or "Version" not in document:
            raise CloudDescriptionError(
                'iotPolicy.document: expected a policy document with "Version" and a "Statement" list'
            )
    if description.shadow_sync is not None:
        from localcore.cloud.exceptions import ShadowSyncConfigError
        from localcore.cloud.shadow_sync import parse_sync_config

        try:
            parse_sync_config({"synchronize": description.shadow_sync}, "core-thing")
        except ShadowSyncConfigError as err:
            raise CloudDescriptionError(f"shadowSync: {err}") from err
