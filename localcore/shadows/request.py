"""Validation of shadow requests: names and the UpdateThingShadow payload (SHM ``Validator``,
``JsonUtil.validatePayloadSchema``, schema ``update_payload_schema.json``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from localcore.shadows.errors import ShadowInvalidRequestError
from localcore.shadows.jsonvalues import is_number, json_type, parse_json

NAME_PATTERN = "[a-zA-Z0-9:_-]+"
_NAME_RE = re.compile(r"[a-zA-Z0-9:_-]+")
MAX_THING_NAME_LENGTH = 128
MAX_SHADOW_NAME_LENGTH = 64
MAX_CLIENT_TOKEN_LENGTH = 64
MAX_STATE_DEPTH = 6
SECTIONS = ("desired", "reported")


@dataclass(frozen=True)
class UpdateRequest:
    """A validated UpdateThingShadow payload."""

    state: dict[str, Any] | None  # None: ``"state": null`` clears both sections
    client_token: str | None
    version: int | None


# --- identity ------------------------------------------------------------------------------------
def validate_thing_name(thing: str | None) -> None:
    """Raise :class:`ShadowInvalidRequestError` unless ``thing`` is a valid thing name (SHM Validator)."""
    if not thing:
        raise ShadowInvalidRequestError("ThingName is missing")
    if len(thing) > MAX_THING_NAME_LENGTH:
        raise ShadowInvalidRequestError(f"ThingName has a maximum length of {MAX_THING_NAME_LENGTH}")
    if not _NAME_RE.fullmatch(thing):
        raise ShadowInvalidRequestError(f"ThingName must match pattern {NAME_PATTERN}")


def validate_shadow_name(shadow: str | None) -> None:
    """Raise unless ``shadow`` is empty (classic) or a valid named-shadow name."""
    if not shadow:
        return
    if len(shadow) > MAX_SHADOW_NAME_LENGTH:
        raise ShadowInvalidRequestError(f"ShadowName has a maximum length of {MAX_SHADOW_NAME_LENGTH}")
    if not _NAME_RE.fullmatch(shadow):
        raise ShadowInvalidRequestError(f"ShadowName must match pattern {NAME_PATTERN}")


# --- update payload ---------------------------------------------------------------------------------
def _check_depth(node: Any, depth: int, section: str) -> None:
    # SHM calculateDepth: only non-empty containers count; the section itself is level 1.
    if not isinstance(node, (dict, list)) or not node:
        return
    if depth > MAX_STATE_DEPTH:
        raise ShadowInvalidRequestError(
            f"JSON contains too many levels of nesting; maximum is {MAX_STATE_DEPTH}"
        )
    children = node.values() if isinstance(node, dict) else node
    for child in children:
        _check_depth(child, depth + 1, section)


def _invalid_json(detail: str) -> ShadowInvalidRequestError:
    return ShadowInvalidRequestError(f"Invalid JSON\n{detail}")


def parse_update_request(payload: bytes) -> UpdateRequest:
    """Validate an UpdateThingShadow payload: JSON, schema, clientToken, version and depth.

    Raises :class:`ShadowInvalidRequestError` naming the field that is wrong.
    """
    if not payload:
        raise ShadowInvalidRequestError("Missing update payload")
    try:
        request = parse_json(payload)
    except (UnicodeDecodeError, ValueError) as err:
        raise _invalid_json(str(err)) from err
    if not isinstance(request, dict) or not request:
        raise _invalid_json("the payload must be a non-empty JSON object")
    if "state" not in request:
        raise _invalid_json("state: is missing but it is required")
    state = request["state"]
    if state is not None and not isinstance(state, dict):
        raise _invalid_json(f"state: {json_type(state)} found, object expected")
    client_token = request.get("clientToken")
    if "clientToken" in request:
        if not isinstance(client_token, str):
            raise _invalid_json(f"clientToken: {json_type(client_token)} found, string expected")
        if len(client_token) > MAX_CLIENT_TOKEN_LENGTH:
            raise _invalid_json(f"clientToken: may only be {MAX_CLIENT_TOKEN_LENGTH} characters long")
    version = request.get("version")
    if version is not None:
        if not is_number(version):
            raise _invalid_json(f"version: {json_type(version)} found, number expected")
        if version < 0:
            raise _invalid_json("version: must have a minimum value of 0")
        version = int(version)
    if state is not None:
        # A client-supplied delta is dropped before validation (SHM); it never reaches the state.
        state = {key: value for key, value in state.items() if key != "delta"}
        for key, value in state.items():
            if key not in SECTIONS:
                raise _invalid_json(
                    f"state.{key}: is not defined in the schema and the schema does not allow additional "
                    "properties (expected desired and/or reported)"
                )
            if value is not None and not isinstance(value, dict):
                raise _invalid_json(f"state.{key}: {json_type(value)} found, object expected")
            _check_depth(value, 1, key)
    return UpdateRequest(state=state, client_token=client_token, version=version)
