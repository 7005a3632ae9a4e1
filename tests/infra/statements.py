"""Helpers that walk a synthesized template's IAM and IoT policy statements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

IAM_POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")


def as_list(value: Any) -> list[Any]:
    """A statement's Action/Resource as a list."""
    return value if isinstance(value, list) else [value]


def render(value: Any) -> str:
    """A resource value as text (Fn::Join parts concatenated, other intrinsics as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def iam_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every identity-based IAM policy and role inline policy."""
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        if resource["Type"] in IAM_POLICY_TYPES:
            for statement in props["PolicyDocument"]["Statement"]:
                yield logical_id, statement
        if resource["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    yield logical_id, statement


def iot_statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(logical id, statement) of every IoT policy."""
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::IoT::Policy":
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                yield logical_id, statement


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Every resource of one type, by logical id."""
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of the IAM policies attached to one role."""
    return [
        statement
        for resource in template["Resources"].values()
        if resource["Type"] in IAM_POLICY_TYPES
        and {"Ref": role_id} in resource["Properties"].get("Roles", [])
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]
