"""Errors of the embedded cloud, each naming what was wrong and what was expected."""

from __future__ import annotations


class CloudError(Exception):
    """Base class of every embedded-cloud error."""


class RuleSyntaxError(CloudError, ValueError):
    """A topic rule's SQL cannot be parsed; names the rule and the character position."""

    def __init__(self, rule: str, position: int, message: str, sql: str) -> None:
        self.rule = rule
        self.position = position
        self.sql = sql
        pointer = " " * position + "^"
        super().__init__(f"topic rule {rule!r}: {message} at position {position}\n  {sql}\n  {pointer}")


class RuleActionError(CloudError):
    """A topic rule's action failed against the cloud (the message is logged, never re-raised
    into the publisher, as IoT Core would send it to the rule's error action)."""


class ScheduleError(CloudError, ValueError):
    """A connectivity schedule such as ``online:60,offline:30,flaky:60:0.2`` is malformed."""


class CloudStartError(CloudError):
    """The moto server could not be started or provisioned."""


class CredentialsError(CloudError):
    """A token exchange request carried a missing or unknown authorization token."""


class ShadowSyncConfigError(CloudError, ValueError):
    """The shadow ``synchronize`` configuration does not have the ShadowManager shape."""
