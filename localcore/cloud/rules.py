"""IoT topic rules applied in the embedded cloud: the SQL of the cloud description and real actions.

Each device publish is offered to every rule whose ``FROM`` filter matches; the selected object
is written with the rule's action through boto3 against moto, the same calls IoT Core's
``dynamoDBv2`` and ``s3`` actions make. A failing action is logged and counted, never raised into
the publisher (IoT Core would hand it to the rule's error action).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from localcore.cloud.description import CloudDescription
from localcore.cloud.exceptions import RuleActionError
from localcore.cloud.rules_sql import RuleQuery, parse_sql
from localcore.logfmt import kv

log = logging.getLogger("localcore.cloud.rules")


class RuleAction(Protocol):
    """What a rule does with one selected object."""

    def apply(self, selected: dict[str, Any], topic: str) -> None:
        """Write ``selected`` somewhere; raise :class:`RuleActionError` on failure."""
        ...


def _to_dynamo(value: Any) -> Any:
    # DynamoDB refuses Python floats; IoT's dynamoDBv2 action stores JSON numbers as N.
    return json.loads(json.dumps(value), parse_float=Decimal)


@dataclass
class DynamoDbPutAction:
    """IoT's ``dynamoDBv2`` action: the whole selected object becomes one item."""

    client: Any
    table: str
    hash_key: str
    range_key: str | None = None
    _serializer: TypeSerializer = field(default_factory=TypeSerializer)

    def apply(self, selected: dict[str, Any], topic: str) -> None:
        """Put ``selected`` as an item; the key attributes must be present."""
        for key in (self.hash_key, self.range_key):
            if key is not None and key not in selected:
                raise RuleActionError(
                    f"table {self.table}: the selected message has no key attribute {key!r}"
                )
        item = {name: self._serializer.serialize(value) for name, value in _to_dynamo(selected).items()}
        try:
            self.client.put_item(TableName=self.table, Item=item)
        except (ClientError, BotoCoreError) as err:
            raise RuleActionError(f"table {self.table}: put_item failed: {err}") from err


@dataclass
class S3PutAction:
    """IoT's ``s3`` action: the selected object as JSON under a key built from the message."""

    client: Any
    bucket: str
    key_template: str  # may use {topic} and {timestamp} (milliseconds), like ${topic()} / ${timestamp()}
    clock: Callable[[], float] = time.time

    def apply(self, selected: dict[str, Any], topic: str) -> None:
        """Put the JSON of ``selected`` to ``bucket/key``."""
        key = self.key_template.format(topic=topic, timestamp=int(self.clock() * 1000))
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(selected).encode())
        except (ClientError, BotoCoreError) as err:
            raise RuleActionError(f"bucket {self.bucket}: put_object {key} failed: {err}") from err


@dataclass
class TopicRule:
    """A parsed rule and its action."""

    query: RuleQuery
    action: RuleAction


@dataclass
class RuleStats:
    """How many messages each rule matched, wrote and failed on (for logs and tests)."""

    matched: int = 0
    written: int = 0
    failed: int = 0
    last_error: str | None = None


class RuleEngine:
    """Evaluate every rule against each device publish and run the actions."""

    def __init__(self, rules: list[TopicRule], clock: Callable[[], float] = time.time) -> None:
        self._rules = rules
        self._clock = clock
        self._lock = threading.Lock()
        self.stats: dict[str, RuleStats] = {rule.query.rule: RuleStats() for rule in rules}

    @classmethod
    def from_description(
        cls,
        description: CloudDescription,
        dynamodb_client: Any,
        s3_client: Any,
        clock: Callable[[], float] = time.time,
    ) -> RuleEngine:
        """Build the description's topic rules; SQL errors name the rule and the position."""
        rules: list[TopicRule] = []
        for rule in description.topic_rules:
            query = parse_sql(rule.name, rule.sql)
            action: RuleAction
            if rule.dynamodb is not None:
                table = description.table(rule.dynamodb.table)
                action = DynamoDbPutAction(dynamodb_client, table.name, table.hash_key, table.range_key)
            elif rule.s3 is not None:
                action = S3PutAction(s3_client, rule.s3.bucket, rule.s3.key_template, clock)
            else:  # parse_cloud_description refuses a rule without an action
                raise ValueError(f"topic rule {rule.name!r} has no action")
            rules.append(TopicRule(query, action))
        return cls(rules, clock)

    def handle(self, topic: str, payload: bytes) -> int:
        """Offer one message to every rule; return how many actions succeeded."""
        document: Any
        try:
            document = json.loads(payload)
        except (ValueError, UnicodeDecodeError):
            # IoT SQL sees a non-JSON payload as binary: field references are undefined.
            document = None
        written = 0
        now_ms = int(self._clock() * 1000)
        for rule in self._rules:
            if not rule.query.matches_topic(topic):
                continue
            selected = rule.query.evaluate(topic, document, now_ms)
            stats = self.stats[rule.query.rule]
            if selected is None:
                continue
            with self._lock:
                stats.matched += 1
            try:
                rule.action.apply(selected, topic)
            except RuleActionError as err:
                with self._lock:
                    stats.failed += 1
                    stats.last_error = str(err)
                log.warning(kv(event="rule_action_failed", rule=rule.query.rule, topic=topic, error=err))
                continue
            with self._lock:
                stats.written += 1
            written += 1
        return written
