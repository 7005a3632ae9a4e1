"""Pure functions over shadow documents: validation, merge, metadata, delta and topic payloads.

Mirrors ShadowManager (reference section 6; SHM ``util/JsonUtil.java``, ``util/JsonMerger.java``,
``model/ShadowState.java``, ``model/ShadowStateMetadata.java``). Nothing here does I/O or keeps
state: the store calls these under its lock and persists the result.

A stored document is a :class:`ShadowDocument`: ``state`` and ``metadata`` each hold at most
``desired`` and ``reported`` (an empty section is absent), plus the version.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

from localcore.shadows.errors import ShadowConflictError, ShadowInvalidRequestError, ShadowTooLargeError

NAME_PATTERN = "[a-zA-Z0-9:_-]+"
_NAME_RE = re.compile(r"[a-zA-Z0-9:_-]+")
MAX_THING_NAME_LENGTH = 128
MAX_SHADOW_NAME_LENGTH = 64
MAX_CLIENT_TOKEN_LENGTH = 64
MAX_STATE_DEPTH = 6
DEFAULT_DOCUMENT_SIZE = 8 * 1024  # SHM Constants.DEFAULT_DOCUMENT_SIZE
MAX_DOCUMENT_SIZE = 30 * 1024  # SHM Constants.MAX_SHADOW_DOCUMENT_SIZE
SECTIONS = ("desired", "reported")

Json = Any


@dataclass(frozen=True)
class ShadowDocument:
    """One stored shadow: ``state``/``metadata`` with optional ``desired``/``reported``, and ``version``."""

    state: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = 0

    def to_json(self) -> dict[str, Any]:
        """The document as ShadowManager writes it in ``documents`` payloads (state, metadata, version)."""
        return {
            "state": copy.deepcopy(self.state),
            "metadata": copy.deepcopy(self.metadata),
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShadowDocument:
        """Rebuild a document written by :meth:`to_json`; raises ValueError naming what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"shadow document must be a JSON object, got {type(data).__name__}")
        state, metadata, version = data.get("state"), data.get("metadata"), data.get("version")
        state = {} if state is None else state
        metadata = {} if metadata is None else metadata
        if not isinstance(state, dict) or not isinstance(metadata, dict):
            raise ValueError("shadow document 'state' and 'metadata' must be JSON objects")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise ValueError(f"shadow document 'version' must be an integer >= 1, got {version!r}")
        for section in (*state, *metadata):
            if section not in SECTIONS:
                raise ValueError(
                    f"shadow document has unexpected section {section!r}, expected desired/reported"
                )
        return cls(state=copy.deepcopy(state), metadata=copy.deepcopy(metadata), version=version)


@dataclass(frozen=True)
class UpdateRequest:
    """A validated UpdateThingShadow payload."""

    state: dict[str, Any] | None  # None: ``"state": null`` clears both sections
    client_token: str | None
    version: int | None


@dataclass(frozen=True)
class UpdateOutcome:
    """The result of applying an update: the new document and the request's metadata patch."""

    previous: ShadowDocument | None
    current: ShadowDocument
    metadata_patch: dict[str, Any] | None


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


# --- JSON helpers ----------------------------------------------------------------------------------
def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; Jackson (ShadowManager) does not.
    raise ValueError(f"{name} is not valid JSON")


def parse_json(payload: bytes) -> Any:
    """Decode strict JSON (UTF-8, no NaN/Infinity); raises ValueError with the parser's reason."""
    text = payload.decode("utf-8")
    return json.loads(text, parse_constant=_reject_constant)


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON, as Jackson writes it (used for payloads and the size limit)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def json_equal(a: Any, b: Any) -> bool:
    """Jackson's node equality: types must match exactly (``1`` != ``1.0`` != ``true``)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _is_null_or_empty(value: Any) -> bool:
    # JsonUtil.isNullOrMissing: null, or an object without fields, counts as absent.
    return value is None or (isinstance(value, dict) and not value)


# --- validation --------------------------------------------------------------------------------------
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
        raise _invalid_json(f"state: {_json_type(state)} found, object expected")
    client_token = request.get("clientToken")
    if "clientToken" in request:
        if not isinstance(client_token, str):
            raise _invalid_json(f"clientToken: {_json_type(client_token)} found, string expected")
        if len(client_token) > MAX_CLIENT_TOKEN_LENGTH:
            raise _invalid_json(f"clientToken: may only be {MAX_CLIENT_TOKEN_LENGTH} characters long")
    version = request.get("version")
    if version is not None:
        if not _is_number(version):
            raise _invalid_json(f"version: {_json_type(version)} found, number expected")
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
                raise _invalid_json(f"state.{key}: {_json_type(value)} found, object expected")
            _check_depth(value, 1, key)
    return UpdateRequest(state=state, client_token=client_token, version=version)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "integer" if isinstance(value, int) else "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def check_version(requested: int | None, current: ShadowDocument | None) -> None:
    """ShadowManager's version rule: absent -> no check; new shadow -> must be 1; else must equal current."""
    if requested is None:
        return
    if current is None:
        if requested != 1:
            raise ShadowInvalidRequestError("Invalid version")
        return
    if requested != current.version:
        raise ShadowConflictError()


# --- merge ------------------------------------------------------------------------------------------
def _merge_tree(node: dict[str, Any]) -> dict[str, Any] | None:
    # JsonMerger.createMergeTree: copy without nulls; an object holding only nulls collapses to None.
    result: dict[str, Any] = {}
    saw_null = False
    for key, value in node.items():
        if _is_null_or_empty(value):
            saw_null = True
            continue
        if isinstance(value, dict):
            child = _merge_tree(value)
            if child is None:
                saw_null = True
            else:
                result[key] = child
            continue
        result[key] = copy.deepcopy(value)
    if saw_null and not result:
        return None
    return result


def merge_object(source: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """JsonMerger.merge over objects, returning a new dict.

    A field set to null (or ``{}``) is removed, objects merge recursively, arrays and scalars
    replace the old value.
    """
    result = dict(source)
    for key, patch_value in patch.items():
        original = result.get(key)
        if _is_null_or_empty(patch_value):
            if not _is_null_or_empty(original):
                del result[key]
            continue
        if isinstance(patch_value, dict):
            if isinstance(original, dict) and original:
                result[key] = merge_object(original, patch_value)
                continue
            # SHM copies an object verbatim over a scalar or array, nulls included; we strip the
            # nulls as for a new field, so a stored state never holds null. An object of nulls only
            # deletes fields that do not exist: the old value stays.
            child = _merge_tree(patch_value)
            if child is not None:
                result[key] = child
            continue
        result[key] = copy.deepcopy(patch_value)
    return result


def merge_state(state: dict[str, Any], patch: dict[str, Any] | None) -> dict[str, Any]:
    """ShadowState.update: merge a request's ``state`` into a stored ``state``; empty sections vanish.

    Deliberate difference: SHM copies a section verbatim (nulls included) when the stored section
    is absent; we always merge, so a null never survives into the stored state.
    """
    if patch is None:
        return {}
    result = {key: value for key, value in state.items() if key in SECTIONS}
    for section in SECTIONS:
        if section not in patch:
            continue
        value = patch[section]
        if _is_null_or_empty(value):
            result.pop(section, None)
            continue
        merged = merge_object(result.get(section) or {}, value)
        if merged:
            result[section] = merged
        else:
            result.pop(section, None)
    return result


# --- metadata ----------------------------------------------------------------------------------------
def metadata_patch(node: Any, timestamp: int) -> Any:
    """The request tree with every leaf (nulls and array elements included) -> ``{"timestamp": t}``."""
    if isinstance(node, dict):
        return {key: metadata_patch(value, timestamp) for key, value in node.items()}
    if isinstance(node, list):
        return [metadata_patch(value, timestamp) for value in node]
    return {"timestamp": timestamp}


def _merge_metadata(state: Any, old: Any, patch: Any) -> Any:
    # The state after the merge drives the shape: metadata exists exactly where state does.
    if patch is None:
        return copy.deepcopy(old)
    if isinstance(state, dict) and isinstance(patch, dict):
        base = old if isinstance(old, dict) and not _is_leaf_metadata(old, state) else {}
        result: dict[str, Any] = {}
        for key, value in state.items():
            if key in patch:
                result[key] = _merge_metadata(value, base.get(key), patch[key])
            elif key in base:
                result[key] = copy.deepcopy(base[key])
        return result
    if isinstance(state, list) and isinstance(patch, list):
        return copy.deepcopy(patch)
    if not isinstance(state, (dict, list)) and _is_timestamp_node(patch):
        return copy.deepcopy(patch)
    # The patch's shape does not fit the state (an object of nulls aimed at a scalar or array
    # left it unchanged), so the old metadata still describes it.
    return copy.deepcopy(old)


def _is_timestamp_node(node: Any) -> bool:
    return isinstance(node, dict) and set(node) == {"timestamp"} and isinstance(node["timestamp"], int)


def _is_leaf_metadata(meta: dict[str, Any], state: dict[str, Any]) -> bool:
    # A scalar that became an object: its old {"timestamp": t} must not leak into the object's metadata.
    return set(meta) == {"timestamp"} and "timestamp" not in state


def merge_metadata(
    state: dict[str, Any], metadata: dict[str, Any], patch: dict[str, Any] | None
) -> dict[str, Any]:
    """ShadowStateMetadata.update: merge a metadata patch, pruned to where the new ``state`` has fields."""
    if not state or patch is None:
        return {}
    result: dict[str, Any] = {}
    for section in SECTIONS:
        if section not in state:
            continue
        section_patch = patch.get(section) if isinstance(patch.get(section), dict) else None
        merged = _merge_metadata(state[section], metadata.get(section), section_patch)
        if merged:
            result[section] = merged
    return result


# --- delta -------------------------------------------------------------------------------------------
def _delta_value(reported: Any, desired: Any) -> Any:
    if isinstance(reported, dict) and isinstance(desired, dict):
        result = _delta_object(reported, desired)
        return result if result else _NO_DELTA
    if _is_number(reported) and _is_number(desired):
        # JsonUtil.calculateDelta compares numbers semantically (asLong and asDouble).
        same = int(reported) == int(desired) and float(reported) == float(desired)
        return _NO_DELTA if same else desired
    return _NO_DELTA if json_equal(reported, desired) else desired


_NO_DELTA = object()


def _delta_object(reported: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, desired_value in desired.items():
        reported_value = reported.get(key)
        if _is_null_or_empty(desired_value):
            if not _is_null_or_empty(reported_value):
                result[key] = None
            continue
        if _is_null_or_empty(reported_value):
            result[key] = copy.deepcopy(desired_value)
            continue
        diff = _delta_value(reported_value, desired_value)
        if diff is not _NO_DELTA:
            result[key] = copy.deepcopy(diff)
    return result


def compute_delta(state: dict[str, Any]) -> dict[str, Any] | None:
    """The delta of a stored state: desired fields that differ from reported, or None if there is none."""
    desired = state.get("desired")
    if not desired:
        return None
    reported = state.get("reported")
    if not reported:
        return copy.deepcopy(desired)
    delta = _delta_object(reported, desired)
    return delta or None


def delta_metadata(delta: Any, desired_metadata: Any) -> Any:
    """ShadowStateMetadata.buildMetadata: the desired metadata along the delta's shape."""
    if isinstance(delta, dict):
        meta = desired_metadata if isinstance(desired_metadata, dict) else {}
        return {key: delta_metadata(value, meta.get(key)) for key, value in delta.items()}
    if isinstance(delta, list):
        meta_list = desired_metadata if isinstance(desired_metadata, list) else []
        return [
            delta_metadata(value, meta_list[index] if index < len(meta_list) else None)
            for index, value in enumerate(delta)
        ]
    return copy.deepcopy(desired_metadata)


# --- update ---------------------------------------------------------------------------------------------
def state_size(state: dict[str, Any]) -> int:
    """ShadowManager's document size: serialized desired plus serialized reported, in bytes."""
    return sum(len(dump_json(state[section])) for section in SECTIONS if state.get(section))


def apply_update(
    current: ShadowDocument | None,
    request: UpdateRequest,
    now: int,
    *,
    max_size: int = DEFAULT_DOCUMENT_SIZE,
) -> UpdateOutcome:
    """Check the version, merge state and metadata, check the size; return the new document.

    Raises :class:`ShadowConflictError`, :class:`ShadowInvalidRequestError` or
    :class:`ShadowTooLargeError`; ``current`` is never modified.
    """
    check_version(request.version, current)
    old_state = current.state if current else {}
    old_metadata = current.metadata if current else {}
    new_state = merge_state(old_state, request.state)
    patch = metadata_patch(request.state, now) if request.state is not None else None
    new_metadata = merge_metadata(new_state, old_metadata, patch)
    if state_size(new_state) > max_size:
        raise ShadowTooLargeError()
    version = current.version + 1 if current else 1
    document = ShadowDocument(state=new_state, metadata=new_metadata, version=version)
    return UpdateOutcome(previous=current, current=document, metadata_patch=patch)


# --- payloads ----------------------------------------------------------------------------------------------
def get_response(document: ShadowDocument, now: int) -> dict[str, Any]:
    """GetThingShadow payload: state (with delta when non-empty), metadata, version, timestamp."""
    state = copy.deepcopy(document.state)
    delta = compute_delta(document.state)
    if delta:
        state["delta"] = delta
    return {
        "state": state,
        "metadata": copy.deepcopy(document.metadata),
        "version": document.version,
        "timestamp": now,
    }


def _with_token(payload: dict[str, Any], client_token: str | None) -> dict[str, Any]:
    if client_token is not None:
        payload["clientToken"] = client_token
    return payload


def accepted_response(outcome: UpdateOutcome, request: UpdateRequest, now: int) -> dict[str, Any]:
    """``update/accepted`` and the IPC response: the request's state as sent, its metadata patch."""
    payload: dict[str, Any] = {"state": copy.deepcopy(request.state), "metadata": outcome.metadata_patch}
    payload = _with_token(payload, request.client_token)
    payload.update(version=outcome.current.version, timestamp=now)
    return payload


def delta_message(document: ShadowDocument, client_token: str | None, now: int) -> dict[str, Any] | None:
    """``update/delta`` payload, or None when desired and reported agree."""
    delta = compute_delta(document.state)
    if not delta:
        return None
    payload: dict[str, Any] = {
        "version": document.version,
        "timestamp": now,
        "state": delta,
        "metadata": delta_metadata(delta, document.metadata.get("desired")),
    }
    return _with_token(payload, client_token)


def documents_message(outcome: UpdateOutcome, client_token: str | None, now: int) -> dict[str, Any]:
    """``update/documents`` payload; ``previous`` is left out for a new document (SHM passes null)."""
    payload: dict[str, Any] = {}
    if outcome.previous is not None:
        payload["previous"] = outcome.previous.to_json()
    payload["current"] = outcome.current.to_json()
    payload = _with_token(payload, client_token)
    payload["timestamp"] = now
    return payload


def rejected_message(code: int, message: str, client_token: str | None, now: int) -> dict[str, Any]:
    """``.../rejected`` payload: ``{"code", "message", "timestamp", "clientToken"?}``."""
    return _with_token({"code": code, "message": message, "timestamp": now}, client_token)


def delete_accepted(document: ShadowDocument, client_token: str | None, now: int) -> dict[str, Any]:
    """``delete/accepted`` payload: the deleted document's version and a timestamp."""
    return _with_token({"version": document.version, "timestamp": now}, client_token)
